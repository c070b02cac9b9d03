namespace Mailroom.Delivery.Scheduling;

/// <summary>Exponential backoff between attempts, as Postfix's queue manager does between its minimal and maximal backoff.</summary>
public static class RetryPolicy
{
    /// <summary>The wait after the <paramref name="attempts"/>-th failed attempt (1 or more): doubles from the minimum up to the maximum.</summary>
    public static TimeSpan Backoff(DeliveryOptions options, int attempts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempts, 1);

        // Past 2^20 doublings every sensible maximum is exceeded; avoid overflowing the shift.
        var doublings = Math.Min(attempts - 1, 20);
        var delay = options.MinimalBackoff * (1L << doublings);
        return delay < options.MaximalBackoff ? delay : options.MaximalBackoff;
    }
}

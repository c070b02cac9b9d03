namespace Mailroom.Delivery;

/// <summary>
/// The per-message retry delay after a temporary failure: doubles from <see cref="Minimum"/> up to
/// <see cref="Maximum"/>. (Postfix's queue manager backs off likewise between minimal_backoff_time
/// and maximal_backoff_time; its destination-aware scheduling comes later.)
/// </summary>
internal static class RetryBackoff
{
    /// <summary>The first retry: one minute, short enough for a disk that was briefly full.</summary>
    public static readonly TimeSpan Minimum = TimeSpan.FromMinutes(1);

    /// <summary>Never more than an hour between attempts (Postfix: maximal_backoff_time = 4000s).</summary>
    public static readonly TimeSpan Maximum = TimeSpan.FromHours(1);

    /// <summary>The delay before the next attempt after <paramref name="failures"/> failed attempts in a row (1 or more).</summary>
    public static TimeSpan After(int failures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);

        // 2^6 minutes already exceeds the hour; avoid overflowing the shift for long outages.
        int doublings = Math.Min(failures - 1, 6);
        TimeSpan delay = Minimum * (1 << doublings);
        return delay < Maximum ? delay : Maximum;
    }
}

using System.Net;

namespace Mailroom.Server.Policy;

/// <summary>
/// Directory-harvest control. Unknown-recipient replies are counted per connection and per client
/// (<see cref="ClientKey"/>) in a sliding window across connections. Past
/// <see cref="PolicyLimits.HarvestTarpitAfter"/> each further reply is delayed by a growing step
/// (a tarpit, as Postfix's smtpd_soft_error_limit and smtpd_error_sleep_time); past
/// <see cref="PolicyLimits.HarvestDisconnectAfter"/> the session gets 421 4.7.0 and the client is
/// refused at connect for <see cref="PolicyLimits.HarvestCooldown"/> (Postfix's hard error limit,
/// with anvil's and postscreen's idea of remembering clients across connections).
/// </summary>
internal sealed class HarvestGuard(PolicyLimits limits, TimeProvider time)
{
    private readonly ClientTable<History> _clients = new(limits.MaxTrackedClients, static () => new History());

    /// <summary>Whether the client is in its cool-down; <paramref name="until"/> says until when.</summary>
    public bool IsCoolingDown(IPAddress client, out DateTimeOffset until)
    {
        var now = time.GetUtcNow();
        lock (_clients.Lock)
        {
            until = _clients.Find(ClientKey.Of(client))?.CooldownUntil ?? default;
            return until > now;
        }
    }

    /// <summary>How many unknown recipients the client had within the window (for tests and logs).</summary>
    public int CountInWindow(IPAddress client)
    {
        var now = time.GetUtcNow();
        lock (_clients.Lock)
        {
            var history = _clients.Find(ClientKey.Of(client));
            return history is null ? 0 : history.Trim(now - limits.HarvestWindow);
        }
    }

    /// <summary>
    /// The tarpit delay before the next RCPT reply of a session that has had
    /// <paramref name="connectionCount"/> unknown recipients: zero below the first threshold.
    /// </summary>
    public TimeSpan DelayFor(IPAddress client, int connectionCount)
    {
        var count = Math.Max(connectionCount, CountInWindow(client));
        return Delay(count);
    }

    /// <summary>
    /// Records one unknown-recipient reply; returns the tarpit delay for the reply and whether the
    /// disconnect threshold is reached (the client then enters its cool-down).
    /// </summary>
    public (TimeSpan Delay, bool Disconnect) Record(IPAddress client, int connectionCount)
    {
        var now = time.GetUtcNow();
        int count;
        lock (_clients.Lock)
        {
            var history = _clients.Get(ClientKey.Of(client), now);
            history.Times.Enqueue(now);
            count = Math.Max(connectionCount, history.Trim(now - limits.HarvestWindow));
            if (limits.HarvestDisconnectAfter > 0 && count >= limits.HarvestDisconnectAfter)
            {
                history.CooldownUntil = now + limits.HarvestCooldown;
                history.Times.Clear();
                return (TimeSpan.Zero, true);
            }
        }

        return (Delay(count), false);
    }

    private TimeSpan Delay(int count)
    {
        if (limits.HarvestTarpitAfter <= 0 || count <= limits.HarvestTarpitAfter)
        {
            return TimeSpan.Zero;
        }

        var delay = limits.HarvestTarpitStep * (count - limits.HarvestTarpitAfter);
        return delay < limits.HarvestTarpitMax ? delay : limits.HarvestTarpitMax;
    }

    private sealed class History
    {
        public Queue<DateTimeOffset> Times { get; } = new();

        public DateTimeOffset CooldownUntil { get; set; }

        /// <summary>Drops the times before <paramref name="since"/>; returns how many remain.</summary>
        public int Trim(DateTimeOffset since)
        {
            while (Times.Count > 0 && Times.Peek() <= since)
            {
                Times.Dequeue();
            }

            return Times.Count;
        }
    }
}

using System.Net;
using System.Threading.RateLimiting;

namespace Mailroom.Server.Policy;

/// <summary>
/// Abuse limits per client (<see cref="ClientKey"/>): a System.Threading.RateLimiting
/// <see cref="ConcurrencyLimiter"/> for concurrent connections, and sliding windows (six segments,
/// as <see cref="SlidingWindowRateLimiter"/> slides) on the injected <see cref="TimeProvider"/> for
/// connections per minute and messages and recipients per hour (see <see cref="TimedWindow"/> for
/// why those are not the library's limiters).
/// </summary>
internal sealed class ClientLimits
{
    // Segments per window: the window slides in sixths (10 s of a minute, 10 min of an hour).
    private const int Segments = 6;

    private readonly PolicyLimits _limits;
    private readonly TimeProvider _time;
    private readonly ClientTable<Counters> _clients;

    public ClientLimits(PolicyLimits limits, TimeProvider time)
    {
        _limits = limits;
        _time = time;
        _clients = new ClientTable<Counters>(limits.MaxTrackedClients, () => new Counters(limits));
    }

    /// <summary>A connection slot for the client, or null when it has <see cref="PolicyLimits.ConnectionsPerClient"/> already. Dispose the lease when the connection ends.</summary>
    public RateLimitLease? TryOpenConnection(IPAddress client)
    {
        if (_limits.ConnectionsPerClient <= 0)
        {
            return NoLimitLease.Instance;
        }

        lock (_clients.Lock)
        {
            var counters = _clients.Get(ClientKey.Of(client), _time.GetUtcNow());
            var lease = counters.Connections!.AttemptAcquire();
            if (lease.IsAcquired)
            {
                return lease;
            }

            lease.Dispose();
            return null;
        }
    }

    /// <summary>Counts a new connection; false when the client is over <see cref="PolicyLimits.ConnectionRatePerMinute"/>.</summary>
    public bool TryConnect(IPAddress client) => Acquire(client, static c => c.ConnectionRate, 1);

    /// <summary>Counts a message (MAIL); false when over <see cref="PolicyLimits.MessagesPerClientPerHour"/>.</summary>
    public bool TryMessage(IPAddress client) => Acquire(client, static c => c.MessageRate, 1);

    /// <summary>Counts a recipient (RCPT); false when over <see cref="PolicyLimits.RecipientsPerClientPerHour"/>.</summary>
    public bool TryRecipient(IPAddress client) => Acquire(client, static c => c.RecipientRate, 1);

    private bool Acquire(IPAddress client, Func<Counters, TimedWindow?> select, int permits)
    {
        var now = _time.GetUtcNow();
        lock (_clients.Lock)
        {
            var window = select(_clients.Get(ClientKey.Of(client), now));
            return window is null || window.TryAcquire(now, permits);
        }
    }

    private sealed class Counters(PolicyLimits limits)
    {
        // A queue of zero: over the limit is an immediate refusal, never a wait.
        public ConcurrencyLimiter? Connections { get; } = limits.ConnectionsPerClient <= 0 ? null
            : new(new ConcurrencyLimiterOptions { PermitLimit = limits.ConnectionsPerClient, QueueLimit = 0 });

        public TimedWindow? ConnectionRate { get; } = TimedWindow.Create(limits.ConnectionRatePerMinute, TimeSpan.FromMinutes(1));

        public TimedWindow? MessageRate { get; } = TimedWindow.Create(limits.MessagesPerClientPerHour, TimeSpan.FromHours(1));

        public TimedWindow? RecipientRate { get; } = TimedWindow.Create(limits.RecipientsPerClientPerHour, TimeSpan.FromHours(1));
    }

    /// <summary>
    /// A sliding window counter on the TimeProvider, with the same segment scheme as
    /// <see cref="SlidingWindowRateLimiter"/>. Not that class: its replenishment, even a manual
    /// TryReplenish, is gated by its own Stopwatch (it skips a replenishment made less than a
    /// segment after the previous one, in real time), so it cannot follow an injected clock.
    /// </summary>
    private sealed class TimedWindow
    {
        private readonly int _limit;
        private readonly TimeSpan _segment;
        private readonly int[] _counts = new int[Segments];
        private int _current;
        private int _total;
        private DateTimeOffset _segmentStart;

        private TimedWindow(int limit, TimeSpan window)
        {
            _limit = limit;
            _segment = window / Segments;
        }

        public static TimedWindow? Create(int limit, TimeSpan window) => limit <= 0 ? null : new TimedWindow(limit, window);

        public bool TryAcquire(DateTimeOffset now, int permits)
        {
            if (_segmentStart == default)
            {
                _segmentStart = now;
            }

            // Slide: every segment that has ended gives back what was taken in the segment that
            // now falls out of the window.
            var elapsed = (now - _segmentStart).Ticks / _segment.Ticks;
            for (var i = 0; i < Math.Min(elapsed, Segments); i++)
            {
                _current = (_current + 1) % Segments;
                _total -= _counts[_current];
                _counts[_current] = 0;
            }

            if (elapsed > 0)
            {
                _segmentStart += _segment * elapsed;
            }

            if (_total + permits > _limit)
            {
                return false;
            }

            _counts[_current] += permits;
            _total += permits;
            return true;
        }
    }

    /// <summary>The lease when connections per client are not limited.</summary>
    private sealed class NoLimitLease : RateLimitLease
    {
        public static readonly NoLimitLease Instance = new();

        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}

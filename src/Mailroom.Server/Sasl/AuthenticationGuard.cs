using System.Net;
using System.Net.Sockets;

namespace Mailroom.Server.Sasl;

/// <summary>What the guard says about the next AUTH from a client.</summary>
internal enum GuardVerdict
{
    Allow,

    /// <summary>Allowed after <see cref="GuardDecision.Delay"/>.</summary>
    Delay,

    /// <summary>Refused with 454 4.7.0 until <see cref="GuardDecision.Until"/>.</summary>
    LockedOut,
}

internal readonly record struct GuardDecision(GuardVerdict Verdict, TimeSpan Delay, DateTimeOffset Until);

/// <summary>
/// The brute-force guard: counts failed authentications per client address over a sliding window
/// (like Postfix's anvil counts per client). After <see cref="AuthenticationLimits.FailuresBeforeDelay"/>
/// failures each attempt is slowed down; after <see cref="AuthenticationLimits.FailuresBeforeLockout"/>
/// the address is locked out for <see cref="AuthenticationLimits.Lockout"/>. An IPv6 client is
/// counted by its /64, since one host usually holds the whole prefix. Success does not reset the
/// count: one valid account must not buy unlimited guesses at others. Thread-safe.
/// </summary>
internal sealed class AuthenticationGuard
{
    // RFC 6177 §2 / common practice: one end site gets at least a /64.
    private const int Ipv6PrefixLength = 64;

    private readonly AuthenticationLimits _limits;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, Client> _clients = [];

    public AuthenticationGuard(AuthenticationLimits limits, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(time);
        _limits = limits;
        _time = time;
    }

    /// <summary>Addresses currently remembered (for tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>What to do with an AUTH from <paramref name="address"/> now.</summary>
    public GuardDecision Check(IPAddress address)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (!_clients.TryGetValue(Key(address), out var client))
            {
                return new GuardDecision(GuardVerdict.Allow, TimeSpan.Zero, default);
            }

            if (client.LockedUntil > now)
            {
                return new GuardDecision(GuardVerdict.LockedOut, TimeSpan.Zero, client.LockedUntil);
            }

            client.Expire(now - _limits.FailureWindow);
            return client.Failures.Count >= _limits.FailuresBeforeDelay && _limits.FailureDelay > TimeSpan.Zero
                ? new GuardDecision(GuardVerdict.Delay, _limits.FailureDelay, default)
                : new GuardDecision(GuardVerdict.Allow, TimeSpan.Zero, default);
        }
    }

    /// <summary>Counts a failure; true when it locks the address out (the caller logs that once).</summary>
    public bool RecordFailure(IPAddress address)
    {
        var now = _time.GetUtcNow();
        var key = Key(address);
        lock (_lock)
        {
            if (!_clients.TryGetValue(key, out var client))
            {
                MakeRoom(now);
                client = new Client();
                _clients[key] = client;
            }

            client.Expire(now - _limits.FailureWindow);
            client.Failures.Enqueue(now);
            if (client.Failures.Count < _limits.FailuresBeforeLockout)
            {
                return false;
            }

            // Locked: the count starts afresh when the lockout ends.
            client.LockedUntil = now + _limits.Lockout;
            client.Failures.Clear();
            return true;
        }
    }

    private void MakeRoom(DateTimeOffset now)
    {
        if (_clients.Count < _limits.TrackedClients)
        {
            return;
        }

        // Forget what no longer matters; if everything still matters, forget the client whose last failure is oldest.
        var horizon = now - _limits.FailureWindow;
        foreach (var (key, client) in _clients)
        {
            client.Expire(horizon);
            if (client.Failures.Count == 0 && client.LockedUntil <= now)
            {
                _clients.Remove(key);
            }
        }

        while (_clients.Count >= _limits.TrackedClients)
        {
            var oldest = _clients.MinBy(pair => pair.Value.Failures.Count == 0 ? pair.Value.LockedUntil : pair.Value.Failures.Last()).Key;
            _clients.Remove(oldest);
        }
    }

    private static IPAddress Key(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, Ipv6PrefixLength / 8, bytes.Length - (Ipv6PrefixLength / 8));
        return new IPAddress(bytes);
    }

    private sealed class Client
    {
        public Queue<DateTimeOffset> Failures { get; } = new();

        public DateTimeOffset LockedUntil { get; set; }

        public void Expire(DateTimeOffset horizon)
        {
            while (Failures.Count > 0 && Failures.Peek() <= horizon)
            {
                Failures.Dequeue();
            }
        }
    }
}

namespace Mailroom.Dns;

/// <summary>
/// Answers kept for their TTL, keyed by (absolute name, query type), timed by the injected
/// <see cref="TimeProvider"/>. Bounded: when full, expired entries go first, then the tenth of the
/// entries closest to expiry. Thread-safe.
/// </summary>
internal sealed class DnsCache
{
    private readonly Dictionary<(string Name, ushort Type), Entry> _entries = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly int _capacity;

    public DnsCache(TimeProvider timeProvider, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _timeProvider = timeProvider;
        _capacity = capacity;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    public bool TryGet<T>(string name, ushort type, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DnsAnswer<T>? answer)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (_entries.TryGetValue((name, type), out Entry entry))
            {
                if (now < entry.Expires && entry.Answer is DnsAnswer<T> typed)
                {
                    answer = typed;
                    return true;
                }

                _entries.Remove((name, type));
            }
        }

        answer = null;
        return false;
    }

    /// <summary>Keeps <paramref name="answer"/> for <paramref name="ttl"/>; a TTL of zero or less keeps nothing (RFC 1035 §3.2.1: TTL 0 is "not cached").</summary>
    public void Set<T>(string name, ushort type, DnsAnswer<T> answer, TimeSpan ttl)
    {
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (_entries.Count >= _capacity && !_entries.ContainsKey((name, type)))
            {
                MakeRoom(now);
            }

            _entries[(name, type)] = new Entry(answer, now + ttl);
        }
    }

    private void MakeRoom(DateTimeOffset now)
    {
        foreach (KeyValuePair<(string, ushort), Entry> pair in _entries)
        {
            if (pair.Value.Expires <= now)
            {
                _entries.Remove(pair.Key);
            }
        }

        if (_entries.Count < _capacity)
        {
            return;
        }

        // Still full of live answers: drop a tenth (at least one), those closest to expiry, so the
        // next inserts don't each pay for a scan.
        int drop = Math.Max(1, _capacity / 10);
        foreach ((string, ushort) key in _entries.OrderBy(pair => pair.Value.Expires).Take(drop).Select(pair => pair.Key).ToArray())
        {
            _entries.Remove(key);
        }
    }

    private readonly record struct Entry(object Answer, DateTimeOffset Expires);
}

using System.Net;

namespace Mailroom.Server.Policy;

/// <summary>
/// Per-client state, bounded: past <c>capacity</c> entries the tenth least recently used (or an
/// idle one, as <c>isIdle</c> says) is dropped. Callers lock on the table while they use an entry.
/// </summary>
internal sealed class ClientTable<T>(int capacity, Func<T> create)
    where T : class
{
    private readonly Dictionary<IPAddress, Entry> _entries = [];

    public Lock Lock { get; } = new();

    public int Count => _entries.Count;

    /// <summary>The entry of <paramref name="key"/>, created if missing. Call under <see cref="Lock"/>.</summary>
    public T Get(IPAddress key, DateTimeOffset now)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            entry.LastUsed = now;
            return entry.Value;
        }

        if (_entries.Count >= capacity)
        {
            var drop = Math.Max(1, capacity / 10);
            foreach (var old in _entries.OrderBy(pair => pair.Value.LastUsed).Take(drop).Select(pair => pair.Key).ToArray())
            {
                _entries.Remove(old);
            }
        }

        entry = new Entry(create()) { LastUsed = now };
        _entries[key] = entry;
        return entry.Value;
    }

    /// <summary>The entry if there is one. Call under <see cref="Lock"/>.</summary>
    public T? Find(IPAddress key) => _entries.TryGetValue(key, out var entry) ? entry.Value : null;

    public void Remove(IPAddress key) => _entries.Remove(key);

    private sealed class Entry(T value)
    {
        public T Value { get; } = value;

        public DateTimeOffset LastUsed { get; set; }
    }
}

using System.Net;

namespace Mailroom.Delivery.Remote;

/// <summary>Which connection a cached session is: the destination, the host's name (for TLS) and the address.</summary>
internal readonly record struct ConnectionKey(string Destination, string Host, IPEndPoint EndPoint);

/// <summary>
/// Idle SMTP connections kept for the next message to the same host (Postfix's scache): a session
/// returned after RSET waits here for <c>idleTime</c> and is closed with QUIT if nobody takes it.
/// </summary>
internal sealed class ConnectionCache(TimeSpan idleTime, TimeProvider timeProvider) : IAsyncDisposable
{
    private readonly Dictionary<ConnectionKey, Stack<Entry>> _idle = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    public SmtpClientSession? TryTake(ConnectionKey key)
    {
        lock (_lock)
        {
            while (_idle.TryGetValue(key, out var stack) && stack.TryPop(out var entry))
            {
                entry.Timer.Dispose();
                if (entry.Session.IsUsable)
                {
                    return entry.Session;
                }

                _ = entry.Session.DisposeAsync().AsTask();
            }

            return null;
        }
    }

    public void Return(ConnectionKey key, SmtpClientSession session)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                _ = session.DisposeAsync().AsTask();
                return;
            }

            if (!_idle.TryGetValue(key, out var stack))
            {
                _idle[key] = stack = new Stack<Entry>();
            }

            Entry? entry = null;
            var timer = timeProvider.CreateTimer(_ => Expire(key, entry!), null, idleTime, Timeout.InfiniteTimeSpan);
            entry = new Entry(session, timer);
            stack.Push(entry);
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Entry> all;
        lock (_lock)
        {
            _disposed = true;
            all = [.. _idle.Values.SelectMany(stack => stack)];
            _idle.Clear();
        }

        foreach (var entry in all)
        {
            await entry.Timer.DisposeAsync().ConfigureAwait(false);
            await entry.Session.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Expire(ConnectionKey key, Entry entry)
    {
        lock (_lock)
        {
            if (!_idle.TryGetValue(key, out var stack) || !stack.Contains(entry))
            {
                return; // taken in the meantime
            }

            var kept = stack.Where(e => !ReferenceEquals(e, entry)).Reverse().ToList();
            stack.Clear();
            foreach (var other in kept)
            {
                stack.Push(other);
            }
        }

        entry.Timer.Dispose();
        _ = entry.Session.DisposeAsync().AsTask();
    }

    private sealed record Entry(SmtpClientSession Session, ITimer Timer);
}

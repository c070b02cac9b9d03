using System.Net;
using Microsoft.Extensions.Logging;

namespace Mailroom.Delivery.Remote;

/// <summary>Which server a lane carries mail to: the destination, the host's name (for TLS) and the address.</summary>
internal readonly record struct ConnectionKey(string Destination, string Host, IPEndPoint EndPoint);

/// <summary>What became of one message sent through a <see cref="ConnectionLane"/>.</summary>
/// <param name="Transaction">The transaction's result; null when no connection could be made.</param>
/// <param name="ConnectFailure">Why the server could not be reached (the connect, greeting, EHLO, TLS or AUTH failure); null when a transaction ran.</param>
/// <param name="PeerOffersDsn">The server that took the transaction announced DSN (RFC 3461), so it reports success itself.</param>
/// <param name="NewConnection">The message went over a connection opened for it, or the connection opened for it failed.</param>
internal sealed record LaneResult(TransactionResult? Transaction, SmtpReplyInfo? ConnectFailure, bool PeerOffersDsn, bool NewConnection);

/// <summary>
/// The messages on their way to one server and the connections that carry them: a queue of waiting
/// messages, and up to a limit of connections that each take the next one as they finish the last
/// (Postfix's per-destination queue and its connection cache in one). When the server offers
/// PIPELINING, a connection that finds a message waiting as its current message's data goes out
/// sends that message's MAIL, RCPT and DATA in the same write (RFC 2920 §3.1): back to back, a
/// message costs one round trip instead of two. An idle connection is woken, or a new one opened,
/// only when more messages wait than the busy connections will take next, so that messages queue
/// behind a busy connection (where they are pipelined) rather than each waking a connection of its
/// own; while the limit allows, a message waits at most for the one ahead of it. A connection with
/// nothing to do for the idle time is closed with QUIT. A connection takes a slot of its
/// destination's limit for as long as it is open.
/// </summary>
internal sealed partial class ConnectionLane : IAsyncDisposable
{
    private readonly ConnectionKey _key;
    private readonly Func<CancellationToken, Task<SmtpConnectResult>> _connect;
    private readonly SemaphoreSlim _destinationSlots;
    private readonly int _maxConnections;
    private readonly TimeSpan _idleTime;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Action<ConnectionLane> _emptied;
    private readonly Lock _lock = new();

    // Messages not yet taken by a connection, oldest first; one sent again goes to the front.
    private readonly LinkedList<Job> _waiting = new();

    // Connections with nothing to do, each waiting for the next message.
    private readonly LinkedList<TaskCompletionSource<Job?>> _idle = new();
    private readonly HashSet<Task> _connections = [];
    private readonly CancellationTokenSource _closing = new();
    private bool _disposed;

    // No connection and no message left: the owner dropped the lane, and it takes no more messages.
    private bool _retired;

    // A connection could not be made while others were open: open no more until one of those closes
    // (a server that refuses more connections is not asked again for every waiting message).
    private bool _holdNewConnections;

    /// <param name="key">The server.</param>
    /// <param name="connect">Opens a ready session to the server (greeting, EHLO, STARTTLS, AUTH done).</param>
    /// <param name="destinationSlots">The destination's connection limit, shared by its lanes.</param>
    /// <param name="maxConnections">The most connections this lane opens (the destination's limit).</param>
    /// <param name="idleTime">How long a connection with nothing to do stays open.</param>
    /// <param name="timeProvider">Time for the idle wait.</param>
    /// <param name="logger">Gets a line when a message is sent again on a fresh connection.</param>
    /// <param name="emptied">Called when the lane has neither connections nor messages: it takes no more (<see cref="TrySendAsync"/> returns null), and its owner drops it.</param>
    public ConnectionLane(ConnectionKey key, Func<CancellationToken, Task<SmtpConnectResult>> connect, SemaphoreSlim destinationSlots, int maxConnections, TimeSpan idleTime, TimeProvider timeProvider, ILogger logger, Action<ConnectionLane> emptied)
    {
        _key = key;
        _connect = connect;
        _destinationSlots = destinationSlots;
        _maxConnections = maxConnections;
        _idleTime = idleTime;
        _timeProvider = timeProvider;
        _logger = logger;
        _emptied = emptied;
    }

    public ConnectionKey Key => _key;

    /// <summary>
    /// Queues the message for this server and returns what became of it; null when the lane was
    /// retired (ask the owner for the current lane). Throws only for cancellation or a fault of the lane itself.
    /// </summary>
    public async Task<LaneResult?> TrySendAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        var job = new Job(message, cancellationToken);
        TaskCompletionSource<Job?>? idle = null;
        Job? handed = null;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_retired)
            {
                return null;
            }

            // A busy connection takes the next waiting message as its current one's data goes out
            // (pipelined): an idle one is woken only when more wait than the busy ones will take next.
            _waiting.AddLast(job);
            if (_waiting.Count > _connections.Count - _idle.Count && _idle.First is { } first)
            {
                idle = first.Value;
                _idle.RemoveFirst();
                handed = _waiting.First!.Value;
                _waiting.RemoveFirst();
            }
            else
            {
                OpenConnectionIfNeeded();
            }
        }

        idle?.SetResult(handed);
        return await job.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        Task[] connections;
        List<Job> abandoned;
        lock (_lock)
        {
            _disposed = true;
            connections = [.. _connections];
            abandoned = [.. _waiting];
            _waiting.Clear();
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        foreach (var job in abandoned)
        {
            job.Result.TrySetCanceled();
        }

        await Task.WhenAll(connections).ConfigureAwait(false);
        _closing.Dispose();
    }

    /// <summary>Opens a connection when more messages wait than the open ones will take next. Called under the lock.</summary>
    private void OpenConnectionIfNeeded()
    {
        if (_disposed || _holdNewConnections || _waiting.Count <= _connections.Count || _connections.Count >= _maxConnections)
        {
            return;
        }

        var connection = Task.Run(CarryAsync);
        _connections.Add(connection);
        _ = connection.ContinueWith(Closed, TaskScheduler.Default);
    }

    private void Closed(Task connection)
    {
        bool empty;
        lock (_lock)
        {
            _connections.Remove(connection);
            if (_connections.Count == 0)
            {
                // No connection left to carry the waiting messages: the next one must be tried.
                _holdNewConnections = false;
            }

            OpenConnectionIfNeeded();
            empty = _connections.Count == 0 && _waiting.Count == 0 && !_disposed;
            _retired = empty;
        }

        if (empty)
        {
            _emptied(this);
        }
    }

    /// <summary>One connection's life: a destination slot, the connection, then messages until it idles out or breaks.</summary>
    private async Task CarryAsync()
    {
        try
        {
            await _destinationSlots.WaitAsync(_closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            await CarryOverSlotAsync().ConfigureAwait(false);
        }
        finally
        {
            _destinationSlots.Release();
        }
    }

    private async Task CarryOverSlotAsync()
    {
        SmtpConnectResult connect;
        try
        {
            connect = await _connect(_closing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception exception)
        {
            // A fault of our own (connecting never throws otherwise): the waiting messages get it, so
            // that the queue logs it and tries them later, instead of this lane trying again at once.
            FailWaiting(job => job.Result.TrySetException(exception));
            return;
        }

        if (!connect.Connected)
        {
            var failure = connect.Failure;
            FailWaiting(job => job.Result.TrySetResult(new LaneResult(null, failure, PeerOffersDsn: false, NewConnection: true)));
            return;
        }

        var session = connect.Session;
        Job? job = null;
        Job? following = null;
        try
        {
            job = await NextAsync().ConfigureAwait(false);
            var fresh = true;
            while (job is not null)
            {
                following = null;
                var result = await session.SendAsync(job.Message, () => (following = TakeFollowing(session))?.Message, _closing.Token).ConfigureAwait(false);
                if (session.ClosedBeforeTransaction && !job.SentAgain)
                {
                    // Nothing of it reached the server (a cached connection the server had closed, or
                    // commands behind a message that broke the connection): once more, on another.
                    LogSentAgain(_logger, _key.Host, _key.EndPoint.Address, _key.EndPoint.Port);
                    job.SentAgain = true;
                    Requeue(job);
                }
                else
                {
                    job.Result.TrySetResult(new LaneResult(result, null, session.Capabilities.Dsn, fresh));
                }

                fresh = false;
                job = following ?? (session.IsUsable ? await NextAsync().ConfigureAwait(false) : null);
            }
        }
        catch (Exception exception)
        {
            // Cancellation (the lane is closing) or a fault of our own: neither message may wait forever.
            foreach (var unfinished in new[] { job, following })
            {
                if (exception is OperationCanceledException)
                {
                    unfinished?.Result.TrySetCanceled();
                }
                else
                {
                    unfinished?.Result.TrySetException(exception);
                }
            }
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
            lock (_lock)
            {
                // A connection that worked has closed: a new one may be tried again.
                _holdNewConnections = false;
            }
        }
    }

    /// <summary>The next waiting message, or the first one queued within the idle time; null when none came or the lane is closing.</summary>
    private async Task<Job?> NextAsync()
    {
        TaskCompletionSource<Job?> idle;
        LinkedListNode<TaskCompletionSource<Job?>> node;
        lock (_lock)
        {
            if (TakeWaiting() is { } waiting)
            {
                return waiting;
            }

            if (_disposed)
            {
                return null;
            }

            idle = new TaskCompletionSource<Job?>(TaskCreationOptions.RunContinuationsAsynchronously);
            node = _idle.AddLast(idle);
        }

        try
        {
            return await idle.Task.WaitAsync(_idleTime, _timeProvider, _closing.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            lock (_lock)
            {
                if (node.List is not null)
                {
                    _idle.Remove(node);
                    return null;
                }
            }

            // A message was handed over as the wait ended: it is ours to send (or to give back when closing).
            var handed = await idle.Task.ConfigureAwait(false);
            if (_closing.IsCancellationRequested)
            {
                handed?.Result.TrySetCanceled();
                return null;
            }

            return handed;
        }
    }

    /// <summary>The next waiting message the session can take, to go out behind the current one's data; refused ones are answered at once.</summary>
    private Job? TakeFollowing(SmtpClientSession session)
    {
        while (true)
        {
            Job? job;
            lock (_lock)
            {
                job = TakeWaiting();
            }

            if (job is null)
            {
                return null;
            }

            if (session.Refusal(job.Message) is { } refusal)
            {
                job.Result.TrySetResult(new LaneResult(refusal, null, session.Capabilities.Dsn, NewConnection: false));
                continue;
            }

            return job;
        }
    }

    /// <summary>Takes the oldest waiting message whose sender still waits for it. Called under the lock.</summary>
    private Job? TakeWaiting()
    {
        while (_waiting.First is { } first)
        {
            _waiting.RemoveFirst();
            var job = first.Value;
            if (job.Cancellation.IsCancellationRequested)
            {
                job.Result.TrySetCanceled(job.Cancellation);
                continue;
            }

            return job;
        }

        return null;
    }

    private void Requeue(Job job)
    {
        TaskCompletionSource<Job?>? idle = null;
        lock (_lock)
        {
            if (_idle.First is { } first)
            {
                idle = first.Value;
                _idle.RemoveFirst();
            }
            else
            {
                _waiting.AddFirst(job);

                // This connection is about to close; Closed opens the next one if it is still needed.
            }
        }

        idle?.SetResult(job);
    }

    /// <summary>
    /// The connection could not be made. With no other connection open, every waiting message is
    /// answered with the failure (they would meet the same server); otherwise they wait for the open
    /// ones, and no new connection is opened until one of those closes.
    /// </summary>
    private void FailWaiting(Action<Job> fail)
    {
        List<Job> failed = [];
        lock (_lock)
        {
            // This connection's own task is still in the set.
            if (_connections.Count > 1)
            {
                _holdNewConnections = true;
                return;
            }

            while (TakeWaiting() is { } job)
            {
                failed.Add(job);
            }
        }

        foreach (var job in failed)
        {
            fail(job);
        }
    }

    /// <summary>A message waiting in the lane, and the sender's wait for its result.</summary>
    private sealed class Job(OutboundMessage message, CancellationToken cancellation)
    {
        public OutboundMessage Message { get; } = message;

        public CancellationToken Cancellation { get; } = cancellation;

        // Completed by the connection's task; the sender continues on its own thread, never inside the lane's lock.
        public TaskCompletionSource<LaneResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>It was sent again once on a fresh connection, after its first connection closed before its transaction.</summary>
        public bool SentAgain { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "the connection to {Host}[{Address}]:{Port} closed before a transaction began; sending it on another")]
    private static partial void LogSentAgain(ILogger logger, string host, IPAddress address, int port);
}

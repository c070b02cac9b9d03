using System.Collections.Concurrent;
using System.Threading.Channels;
using Mailroom.Delivery.Local;
using Mailroom.Queue;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mailroom.Delivery;

/// <summary>
/// Takes committed messages from the queue and delivers them: the messages the SMTP server
/// commits (<see cref="Enqueue"/>) and, at start, every message <see cref="IMessageStore.RecoverAsync"/>
/// finds. Local recipients go to their Maildir; remote recipients stay pending for the remote
/// delivery agent. A message whose recipients are all final is removed from the queue.
/// A temporary failure keeps the message and retries it later (<see cref="RetryBackoff"/>).
/// At most <see cref="LocalDeliveryOptions.Concurrency"/> messages are delivered at once, and
/// one message is never handled by two workers at the same time.
/// </summary>
public sealed partial class QueueRunner : BackgroundService
{
    private readonly IMessageStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly LocalDeliveryAgent _localAgent;
    private readonly int _concurrency;

    // Queue IDs waiting for a worker. Unbounded: an ID is a few bytes, and every one is a message
    // already accepted, so refusing it here would only delay its delivery to the next start.
    private readonly Channel<QueueId> _ready = Channel.CreateUnbounded<QueueId>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });

    // Every message the runner holds (waiting, being delivered, or waiting for a retry), with its
    // failed attempts so far. A message is in the channel at most once, so no two workers ever
    // deliver it at once, even when recovery and the server name the same new message.
    private readonly ConcurrentDictionary<QueueId, int> _held = new();

    public QueueRunner(IMessageStore store, IOptions<LocalDeliveryOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(loggerFactory);

        LocalDeliveryOptions local = options.Value;
        if (string.IsNullOrWhiteSpace(local.MailRoot))
        {
            throw new ArgumentException("LocalDeliveryOptions.MailRoot is required.", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(local.Concurrency, 1, "LocalDeliveryOptions.Concurrency");

        _store = store;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<QueueRunner>();
        _concurrency = local.Concurrency;
        _localAgent = new LocalDeliveryAgent(
            new MaildirWriter(local.MailRoot, local.Hostname),
            store,
            timeProvider,
            loggerFactory.CreateLogger<LocalDeliveryAgent>());
    }

    /// <summary>Hands a newly committed message to delivery. Called by the SMTP server after each commit.</summary>
    public void Enqueue(QueueId id)
    {
        if (_held.TryAdd(id, 0))
        {
            _ready.Writer.TryWrite(id);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Workers first, so new mail is delivered while a large spool is still being scanned.
        var workers = new Task[_concurrency];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(stoppingToken), CancellationToken.None);
        }

        await RecoverAsync(stoppingToken).ConfigureAwait(false);
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        for (int failures = 1; ; failures++)
        {
            try
            {
                int count = 0;
                await foreach (QueuedMessage message in _store.RecoverAsync(cancellationToken).ConfigureAwait(false))
                {
                    LogRecoveredMessage(_logger, message.Id);
                    Enqueue(message.Id);
                    count++;
                }

                LogRecovered(_logger, count);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Messages already found are held (Enqueue ignores them the next time round).
                TimeSpan delay = RetryBackoff.After(failures);
                LogRecoveryFailed(_logger, delay, ex);
                try
                {
                    await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (QueueId id in _ready.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                bool retry;
                try
                {
                    retry = await DeliverAsync(id, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    // The queue itself failed (ReadAsync, OpenContent, RecordAsync...): keep the message, try later.
                    LogAttemptFailed(_logger, id, ex);
                    retry = true;
                }

                if (retry)
                {
                    ScheduleRetry(id, cancellationToken);
                }
                else
                {
                    _held.TryRemove(id, out _);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: whatever was not recorded is recovered at the next start.
        }
    }

    /// <summary>One delivery attempt for a message. Returns true when it must be retried.</summary>
    private async Task<bool> DeliverAsync(QueueId id, CancellationToken cancellationToken)
    {
        // Read afresh each time: the recorded states are the truth, not what we knew earlier.
        QueuedMessage? message = await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
        if (message is null)
        {
            LogGone(_logger, id);
            return false;
        }

        LocalDeliveryReport report = await _localAgent.DeliverAsync(message, cancellationToken).ConfigureAwait(false);
        if (report.Delivered.Count > 0)
        {
            await _store.RecordAsync(id, report.Delivered, cancellationToken).ConfigureAwait(false);
        }

        if (report.Deferred > 0)
        {
            return true;
        }

        int remote = 0;
        for (int i = 0; i < message.States.Count; i++)
        {
            // Every pending local recipient was just delivered (nothing was deferred), so what stays pending is remote.
            if (message.States[i] == RecipientStatus.Pending && message.Envelope.Recipients[i].LocalMailbox is null)
            {
                remote++;
            }
        }

        if (remote > 0)
        {
            LogRemoteWaiting(_logger, id, remote);
            return false;
        }

        await _store.RemoveAsync(id, cancellationToken).ConfigureAwait(false);
        LogRemoved(_logger, id);
        return false;
    }

    private void ScheduleRetry(QueueId id, CancellationToken cancellationToken)
    {
        int failures = _held.AddOrUpdate(id, 1, static (_, previous) => previous + 1);
        TimeSpan delay = RetryBackoff.After(failures);
        LogRetryScheduled(_logger, id, delay);
        _ = RetryAfterAsync(id, delay, cancellationToken);
    }

    private async Task RetryAfterAsync(QueueId id, TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
            _ready.Writer.TryWrite(id);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: the message stays in the queue and is recovered at the next start.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "recovered {Count} messages from the queue")]
    private static partial void LogRecovered(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{QueueId}: recovered from the queue")]
    private static partial void LogRecoveredMessage(ILogger logger, QueueId queueId);

    [LoggerMessage(Level = LogLevel.Error, Message = "queue recovery failed; retrying in {Delay}")]
    private static partial void LogRecoveryFailed(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "{QueueId}: delivery attempt failed in the queue")]
    private static partial void LogAttemptFailed(ILogger logger, QueueId queueId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: deferred, next attempt in {Delay}")]
    private static partial void LogRetryScheduled(ILogger logger, QueueId queueId, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: {Count} remote recipients wait for the delivery agent")]
    private static partial void LogRemoteWaiting(ILogger logger, QueueId queueId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: removed")]
    private static partial void LogRemoved(ILogger logger, QueueId queueId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{QueueId}: no longer in the queue")]
    private static partial void LogGone(ILogger logger, QueueId queueId);
}

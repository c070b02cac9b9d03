using System.Collections.Concurrent;
using System.Threading.Channels;
using Mailroom.Delivery.Dsn;
using Mailroom.Delivery.Local;
using Mailroom.Delivery.Scheduling;
using Mailroom.Queue;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mailroom.Delivery;

/// <summary>
/// Works the queue: takes the messages the SMTP server commits (<see cref="Enqueue"/>) and, at
/// start, every message <see cref="IMessageStore.RecoverAsync"/> finds, and makes one delivery
/// attempt at a time per message: local recipients into their Maildir, remote recipients per
/// domain through <see cref="IRemoteDelivery"/>. Final outcomes are recorded in one call; failed
/// recipients (and those still pending when the queue lifetime runs out) are reported to the
/// sender (RFC 3464); the rest wait for the next attempt, whose time is kept with the message so
/// that it survives a restart. A message whose recipients are all final leaves the queue.
/// No polling: a deferred message sleeps on its own timer until it is due. At most
/// <see cref="DeliveryOptions.Concurrency"/> messages are worked on at once, and one message is
/// never handled by two workers at the same time.
/// </summary>
public sealed partial class QueueRunner : BackgroundService
{
    private readonly IMessageStore _store;
    private readonly IRemoteDelivery _remote;
    private readonly ISenderResolver _senders;
    private readonly DeliveryOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly LocalDeliveryAgent _localAgent;

    // Queue IDs due for an attempt. Unbounded: an ID is a few bytes, and every one is a message
    // already accepted, so refusing it here would only delay its delivery to the next start.
    private readonly Channel<QueueId> _ready = Channel.CreateUnbounded<QueueId>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });

    // Every message the runner holds (due, being delivered, or waiting for its retry). A message is
    // in the channel at most once, so no two workers ever deliver it at once, even when recovery
    // and the server name the same new message.
    private readonly ConcurrentDictionary<QueueId, byte> _held = new();

    public QueueRunner(
        IMessageStore store,
        IRemoteDelivery remote,
        ISenderResolver senders,
        IOptions<LocalDeliveryOptions> localOptions,
        IOptions<DeliveryOptions> options,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(localOptions);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var local = localOptions.Value;
        if (string.IsNullOrWhiteSpace(local.MailRoot))
        {
            throw new ArgumentException("LocalDeliveryOptions.MailRoot is required.", nameof(localOptions));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.Value.Concurrency, 1, "DeliveryOptions.Concurrency");
        _store = store;
        _remote = remote;
        _senders = senders;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<QueueRunner>();
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
        var workers = new Task[_options.Concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(stoppingToken), CancellationToken.None);
        }

        await RecoverAsync(stoppingToken).ConfigureAwait(false);
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        for (var failures = 1; ; failures++)
        {
            try
            {
                var count = 0;
                await foreach (var message in _store.RecoverAsync(cancellationToken).ConfigureAwait(false))
                {
                    count++;
                    if (!_held.TryAdd(message.Id, 0))
                    {
                        continue;
                    }

                    // A deferred message keeps its retry time across the restart.
                    var wait = message.Schedule is { } schedule ? schedule.NextAttempt - _timeProvider.GetUtcNow() : TimeSpan.Zero;
                    if (wait > TimeSpan.Zero)
                    {
                        _ = WakeAfterAsync(message.Id, wait, cancellationToken);
                    }
                    else
                    {
                        _ready.Writer.TryWrite(message.Id);
                    }
                }

                LogRecovered(_logger, count);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // Messages already found are held (they are skipped the next time round).
                var delay = RetryPolicy.Backoff(_options, failures);
                LogRecoveryFailed(_logger, delay, exception);
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
            await foreach (var id in _ready.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                TimeSpan? retryIn;
                try
                {
                    retryIn = await AttemptAsync(id, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception exception)
                {
                    // The queue itself failed (ReadAsync, OpenContent, RecordAsync...): keep the message, try later.
                    LogAttemptFailed(_logger, id, exception);
                    retryIn = _options.MinimalBackoff;
                }

                if (retryIn is { } delay)
                {
                    _ = WakeAfterAsync(id, delay, cancellationToken);
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

    /// <summary>One delivery attempt for a message. Returns when to try again, or null when it is done.</summary>
    private async Task<TimeSpan?> AttemptAsync(QueueId id, CancellationToken cancellationToken)
    {
        // Read afresh each time: the recorded states are the truth, not what we knew earlier.
        var message = await _store.ReadAsync(id, cancellationToken).ConfigureAwait(false);
        if (message is null)
        {
            LogGone(_logger, id);
            return null;
        }

        int hops;
        await using (var content = _store.OpenContent(id))
        {
            hops = HopCount.CountReceived(content);
        }

        if (hops > HopCount.Limit)
        {
            // RFC 5321 §6.3: a message that went round this often is in a loop; stop it and say so.
            LogLooping(_logger, id, hops);
            var looped = Enumerable.Range(0, message.States.Count)
                .Where(i => message.States[i] == RecipientStatus.Pending)
                .Select(i => new RecipientOutcome(i, OutcomeKind.Failed, "5.4.6", null, $"x-mailroom; mail forwarding loop: {hops} Received headers"))
                .ToList();
            return await ConcludeAsync(message, looped, cancellationToken).ConfigureAwait(false);
        }

        var outcomes = new List<RecipientOutcome>(await _localAgent.DeliverAsync(message, cancellationToken).ConfigureAwait(false));
        var remote = await Task.WhenAll(PendingRemoteByDomain(message)
            .Select(group => _remote.DeliverAsync(message, group.Key, group.Value, cancellationToken))).ConfigureAwait(false);
        foreach (var domainOutcomes in remote)
        {
            outcomes.AddRange(domainOutcomes);
        }

        return await ConcludeAsync(message, outcomes, cancellationToken).ConfigureAwait(false);
    }

    private static Dictionary<string, List<int>> PendingRemoteByDomain(QueuedMessage message)
    {
        var byDomain = new Dictionary<string, List<int>>(StringComparer.OrdinalIgnoreCase);
        var recipients = message.Envelope.Recipients;
        for (var i = 0; i < recipients.Count; i++)
        {
            if (message.States[i] != RecipientStatus.Pending || recipients[i].LocalMailbox is not null)
            {
                continue;
            }

            var domain = DomainOf(recipients[i].Address);
            if (!byDomain.TryGetValue(domain, out var indexes))
            {
                byDomain[domain] = indexes = [];
            }

            indexes.Add(i);
        }

        return byDomain;
    }

    private static string DomainOf(string address)
    {
        var at = address.LastIndexOf('@');
        return at < 0 ? string.Empty : address[(at + 1)..].ToLowerInvariant();
    }

    /// <summary>Records the final outcomes, reports to the sender, and removes or reschedules the message.</summary>
    private async Task<TimeSpan?> ConcludeAsync(QueuedMessage message, List<RecipientOutcome> outcomes, CancellationToken cancellationToken)
    {
        var now = _timeProvider.GetUtcNow();
        var expired = now - message.Envelope.ArrivalTime >= _options.QueueLifetime;
        var final = new List<RecipientOutcome>();
        var deferred = new List<RecipientOutcome>();
        foreach (var outcome in outcomes)
        {
            if (outcome.Kind != OutcomeKind.Deferred)
            {
                final.Add(outcome);
            }
            else if (expired)
            {
                // RFC 5321 §4.5.4.1: give up after the queue lifetime and tell the sender.
                final.Add(outcome with { Kind = OutcomeKind.Failed, Status = "4.4.7", Diagnostic = outcome.Diagnostic ?? "x-mailroom; delivery time expired" });
                LogExpired(_logger, message.Id, message.Envelope.Recipients[outcome.Index].Address);
            }
            else
            {
                deferred.Add(outcome);
            }
        }

        // When this attempt leaves every recipient final and no report can follow, the store may let
        // the durable removal stand for the record (CompleteAsync): a crash before it re-sends at
        // most, exactly as a crash before RecordAsync would. With a report due, or recipients left,
        // the outcomes are recorded first, so a crash never sends a report twice nor a delivered
        // recipient again.
        var stillPending = CountPending(message, final);
        if (final.Count > 0 && stillPending == 0 && !ReportMayBeDue(message, final))
        {
            await _store.CompleteAsync(message.Id, Updates(final), cancellationToken).ConfigureAwait(false);
            LogRemoved(_logger, message.Id);
            return null;
        }

        if (final.Count > 0)
        {
            await _store.RecordAsync(message.Id, Updates(final), cancellationToken).ConfigureAwait(false);
        }

        await ReportAsync(message, final.Where(o => o.Kind == OutcomeKind.Failed), DsnAction.Failed, null, now, cancellationToken).ConfigureAwait(false);
        await ReportAsync(message, final.Where(o => o.Kind == OutcomeKind.Delivered && o.SuccessReportDue), DsnAction.Delivered, null, now, cancellationToken).ConfigureAwait(false);

        if (stillPending == 0)
        {
            await _store.RemoveAsync(message.Id, cancellationToken).ConfigureAwait(false);
            LogRemoved(_logger, message.Id);
            return null;
        }

        var previous = message.Schedule ?? new DeliverySchedule(0, now, DelayNotified: false);
        var delayNotified = previous.DelayNotified;
        if (!delayNotified && deferred.Count > 0 && now - message.Envelope.ArrivalTime >= _options.DelayWarning)
        {
            await ReportAsync(message, deferred, DsnAction.Delayed, message.Envelope.ArrivalTime + _options.QueueLifetime, now, cancellationToken).ConfigureAwait(false);
            delayNotified = true;
        }

        var attempts = previous.Attempts + 1;
        var wait = RetryPolicy.Backoff(_options, attempts);

        // The last attempt falls at the end of the lifetime, not a whole backoff after it.
        var deadline = message.Envelope.ArrivalTime + _options.QueueLifetime - now;
        if (wait > deadline)
        {
            wait = deadline > TimeSpan.Zero ? deadline : TimeSpan.Zero;
        }

        await _store.ScheduleAsync(message.Id, new DeliverySchedule(attempts, now + wait, delayNotified), cancellationToken).ConfigureAwait(false);
        LogDeferred(_logger, message.Id, stillPending, wait);
        return wait;
    }

    private static RecipientUpdate[] Updates(List<RecipientOutcome> final)
    {
        var updates = new RecipientUpdate[final.Count];
        for (var i = 0; i < updates.Length; i++)
        {
            var outcome = final[i];
            updates[i] = new RecipientUpdate(outcome.Index, outcome.Kind == OutcomeKind.Delivered ? RecipientStatus.Delivered : RecipientStatus.Failed, outcome.Diagnostic);
        }

        return updates;
    }

    /// <summary>Whether <see cref="ReportAsync"/> could send a report for these outcomes (it also needs a known sender).</summary>
    private static bool ReportMayBeDue(QueuedMessage message, List<RecipientOutcome> final)
    {
        if (message.Envelope.ReversePath.Length == 0)
        {
            return false; // never a report to the null sender
        }

        foreach (var outcome in final)
        {
            var recipient = message.Envelope.Recipients[outcome.Index];
            if (outcome.Kind == OutcomeKind.Failed
                ? DeliveryStatusNotification.Wants(recipient, DsnAction.Failed)
                : outcome.SuccessReportDue && DeliveryStatusNotification.Wants(recipient, DsnAction.Delivered))
            {
                return true;
            }
        }

        return false;
    }

    private static int CountPending(QueuedMessage message, List<RecipientOutcome> final)
    {
        var pending = 0;
        for (var i = 0; i < message.States.Count; i++)
        {
            if (message.States[i] == RecipientStatus.Pending && !final.Exists(o => o.Index == i))
            {
                pending++;
            }
        }

        return pending;
    }

    /// <summary>Sends one report for the recipients that asked for this kind (RFC 3461 NOTIFY), queued as a new message from &lt;&gt;.</summary>
    private async Task ReportAsync(QueuedMessage message, IEnumerable<RecipientOutcome> outcomes, DsnAction action, DateTimeOffset? willRetryUntil, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var recipients = outcomes
            .Where(o => DeliveryStatusNotification.Wants(message.Envelope.Recipients[o.Index], action))
            .Select(o => new DsnRecipient(message.Envelope.Recipients[o.Index], action, o.Status, o.RemoteMta, o.Diagnostic, now))
            .ToList();
        if (recipients.Count == 0 || message.Envelope.ReversePath.Length == 0)
        {
            return;
        }

        var target = _senders.Resolve(message.Envelope.ReversePath);
        if (target is null)
        {
            LogReportUndeliverable(_logger, message.Id, message.Envelope.ReversePath);
            return;
        }

        var report = DeliveryStatusNotification.Compose(new DsnRequest(
            _options.Hostname, message.Id, message.Envelope, recipients, now, willRetryUntil, message.ContentLength, () => _store.OpenContent(message.Id)));
        if (report is null)
        {
            return;
        }

        var envelope = new Envelope
        {
            ReversePath = string.Empty,
            Recipients = [target],
            ArrivalTime = now,
            Body = BodyType.EightBitMime,
            SmtpUtf8 = message.Envelope.SmtpUtf8,
        };
        await using var incoming = await _store.CreateAsync(envelope, cancellationToken).ConfigureAwait(false);
        DeliveryStatusNotification.WriteTo(report, incoming.Content);
        await incoming.CommitAsync(cancellationToken).ConfigureAwait(false);
        LogReported(_logger, message.Id, incoming.Id, action.ToString().ToLowerInvariant(), message.Envelope.ReversePath);
        Enqueue(incoming.Id);
    }

    private async Task WakeAfterAsync(QueueId id, TimeSpan delay, CancellationToken cancellationToken)
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

    [LoggerMessage(Level = LogLevel.Error, Message = "queue recovery failed; retrying in {Delay}")]
    private static partial void LogRecoveryFailed(ILogger logger, TimeSpan delay, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "{QueueId}: delivery attempt failed in the queue")]
    private static partial void LogAttemptFailed(ILogger logger, QueueId queueId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: {Count} recipients deferred, next attempt in {Delay}")]
    private static partial void LogDeferred(ILogger logger, QueueId queueId, int count, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: to=<{Address}>, status=expired (delivery time expired, returned to sender)")]
    private static partial void LogExpired(ILogger logger, QueueId queueId, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: sender {Action} report {ReportId} queued for <{Sender}>")]
    private static partial void LogReported(ILogger logger, QueueId queueId, QueueId reportId, string action, string sender);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{QueueId}: no report sent: sender <{Sender}> is an unknown local address")]
    private static partial void LogReportUndeliverable(ILogger logger, QueueId queueId, string sender);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{QueueId}: mail forwarding loop ({Hops} Received headers), returned to sender")]
    private static partial void LogLooping(ILogger logger, QueueId queueId, int hops);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: removed")]
    private static partial void LogRemoved(ILogger logger, QueueId queueId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{QueueId}: no longer in the queue")]
    private static partial void LogGone(ILogger logger, QueueId queueId);
}

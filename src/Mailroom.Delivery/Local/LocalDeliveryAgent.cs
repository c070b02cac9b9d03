using Mailroom.Queue;
using Microsoft.Extensions.Logging;

namespace Mailroom.Delivery.Local;

/// <summary>
/// Delivers a queued message to its pending local recipients, one Maildir file per mailbox
/// (two recipients resolved to the same mailbox, e.g. through an alias, get one copy).
/// Recording the outcome in the queue is the caller's job, in one call for the whole message.
/// </summary>
internal sealed partial class LocalDeliveryAgent
{
    private readonly MaildirWriter _writer;
    private readonly IMessageStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public LocalDeliveryAgent(MaildirWriter writer, IMessageStore store, TimeProvider timeProvider, ILogger logger)
    {
        _writer = writer;
        _store = store;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Delivers every pending local recipient; returns an outcome for each (delivered or deferred).</summary>
    public async ValueTask<IReadOnlyList<RecipientOutcome>> DeliverAsync(QueuedMessage message, CancellationToken cancellationToken)
    {
        var outcomes = new List<RecipientOutcome>();
        IReadOnlyList<EnvelopeRecipient> recipients = message.Envelope.Recipients;

        // Pending local recipients grouped by mailbox, in envelope order; the first index names the file.
        var byMailbox = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var mailboxes = new List<string>();
        for (int i = 0; i < recipients.Count; i++)
        {
            string? mailbox = recipients[i].LocalMailbox;
            if (mailbox is null || message.States[i] != RecipientStatus.Pending)
            {
                continue;
            }

            string key = _writer.MaildirFor(mailbox) ?? mailbox;
            if (!byMailbox.TryGetValue(key, out List<int>? indexes))
            {
                byMailbox[key] = indexes = [];
                mailboxes.Add(key);
            }

            indexes.Add(i);
        }

        foreach (string key in mailboxes)
        {
            List<int> indexes = byMailbox[key];
            EnvelopeRecipient first = recipients[indexes[0]];
            var delivery = new MaildirDelivery(
                message.Id,
                indexes[0],
                message.Envelope.ArrivalTime,
                message.Envelope.ReversePath,
                first.Address,
                first.LocalMailbox!,
                message.Annotations);

            MaildirDeliveryResult result = await _writer.DeliverAsync(delivery, () => _store.OpenContent(message.Id), cancellationToken).ConfigureAwait(false);
            double delay = (_timeProvider.GetUtcNow() - message.Envelope.ArrivalTime).TotalSeconds;
            foreach (int index in indexes)
            {
                string address = recipients[index].Address;
                switch (result.Status)
                {
                    case MaildirDeliveryStatus.Delivered:
                        LogDelivered(_logger, message.Id, address, delay);
                        outcomes.Add(new RecipientOutcome(index, OutcomeKind.Delivered, "2.0.0", null, "x-mailroom; delivered to maildir"));
                        break;
                    case MaildirDeliveryStatus.AlreadyDelivered:
                        LogAlreadyDelivered(_logger, message.Id, address, delay);
                        outcomes.Add(new RecipientOutcome(index, OutcomeKind.Delivered, "2.0.0", null, "x-mailroom; delivered to maildir"));
                        break;
                    default:
                        var reason = result.Diagnostic ?? "temporary failure";
                        LogDeferred(_logger, message.Id, address, delay, reason);
                        outcomes.Add(new RecipientOutcome(index, OutcomeKind.Deferred, "4.3.0", null, "x-mailroom; " + reason));
                        break;
                }
            }
        }

        return outcomes;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: to=<{Address}>, relay=local, delay={Seconds:0.0}, status=sent (delivered to maildir)")]
    private static partial void LogDelivered(ILogger logger, QueueId queueId, string address, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: to=<{Address}>, relay=local, delay={Seconds:0.0}, status=sent (already in maildir from an earlier attempt)")]
    private static partial void LogAlreadyDelivered(ILogger logger, QueueId queueId, string address, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{QueueId}: to=<{Address}>, relay=local, delay={Seconds:0.0}, status=deferred ({Reason})")]
    private static partial void LogDeferred(ILogger logger, QueueId queueId, string address, double seconds, string reason);
}

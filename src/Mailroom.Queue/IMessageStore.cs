namespace Mailroom.Queue;

/// <summary>
/// The durable queue: the only contract between receiving and delivering (see DESIGN.md).
/// A message exists for delivery only after <see cref="IncomingMessage.CommitAsync"/> returned:
/// then its content and envelope are on disk and fsynced. Per-recipient progress is recorded
/// durably, so a restart never delivers twice to a recipient already done.
/// </summary>
public interface IMessageStore
{
    /// <summary>
    /// Starts a new message: allocates its queue ID and a place for the content (memory for a small
    /// message, a temporary file for a large one).
    /// Nothing is visible to delivery until the returned message is committed; disposing it
    /// without a commit removes every trace.
    /// </summary>
    ValueTask<IncomingMessage> CreateAsync(Envelope envelope, CancellationToken cancellationToken);

    /// <summary>Every committed message still in the queue, with its recipients' recorded state (used at start).</summary>
    IAsyncEnumerable<QueuedMessage> RecoverAsync(CancellationToken cancellationToken);

    /// <summary>Reads one committed message (envelope and per-recipient state).</summary>
    ValueTask<QueuedMessage?> ReadAsync(QueueId id, CancellationToken cancellationToken);

    /// <summary>Opens the content (the message bytes exactly as stored, with our Received header first) for reading.</summary>
    Stream OpenContent(QueueId id);

    /// <summary>Durably records the final state of some recipients (by index into the envelope's list).</summary>
    ValueTask RecordAsync(QueueId id, IReadOnlyList<RecipientUpdate> updates, CancellationToken cancellationToken);

    /// <summary>
    /// Remembers when to try the message next. Not fsynced: after a crash a lost schedule only
    /// means an earlier attempt, never a lost message.
    /// </summary>
    ValueTask ScheduleAsync(QueueId id, DeliverySchedule schedule, CancellationToken cancellationToken);

    /// <summary>Removes a message whose recipients are all final.</summary>
    ValueTask RemoveAsync(QueueId id, CancellationToken cancellationToken);

    /// <summary>
    /// The last step of a message whose remaining recipients all became final in one attempt, with
    /// no report to send: records <paramref name="updates"/> and removes the message. A store may
    /// let the durable removal stand for the record (a crash before it is durable re-sends, exactly
    /// as a crash before <see cref="RecordAsync"/> would); this default records, then removes.
    /// </summary>
    async ValueTask CompleteAsync(QueueId id, IReadOnlyList<RecipientUpdate> updates, CancellationToken cancellationToken)
    {
        await RecordAsync(id, updates, cancellationToken).ConfigureAwait(false);
        await RemoveAsync(id, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A final outcome for the recipient at <paramref name="Index"/> of the envelope.</summary>
public readonly record struct RecipientUpdate(int Index, RecipientStatus Status, string? Diagnostic = null);

/// <summary>A committed message as the queue holds it.</summary>
public sealed record QueuedMessage(QueueId Id, Envelope Envelope, IReadOnlyList<RecipientStatus> States, long ContentLength)
{
    /// <summary>Headers to write before the content, and a quarantine reason, as committed.</summary>
    public MessageAnnotations Annotations { get; init; } = MessageAnnotations.None;

    /// <summary>The retry plan recorded by delivery; null before the first deferral.</summary>
    public DeliverySchedule? Schedule { get; init; }
}

/// <summary>How often delivery was deferred, when to try next, and whether the sender was told of the delay.</summary>
public sealed record DeliverySchedule(int Attempts, DateTimeOffset NextAttempt, bool DelayNotified);

/// <summary>
/// What the receiving side learned from the content itself, after it was stored: header fields
/// that delivery writes before the content (Authentication-Results, Received-SPF, DKIM-Signature:
/// each a whole field ending in CRLF), and a reason to quarantine (deliver into the Junk folder).
/// </summary>
public sealed record MessageAnnotations(IReadOnlyList<string> AddedHeaders, string? QuarantineReason = null)
{
    public static readonly MessageAnnotations None = new([]);

    /// <summary>Nothing to add and nothing to quarantine: the queue stores no annotations then.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsEmpty => AddedHeaders.Count == 0 && QuarantineReason is null;
}

/// <summary>A message being received. Write the content to <see cref="Content"/>, then commit.</summary>
public abstract class IncomingMessage : IAsyncDisposable
{
    public abstract QueueId Id { get; }

    /// <summary>Annotations committed with the message; set before <see cref="CommitAsync"/>.</summary>
    public MessageAnnotations Annotations { get; set; } = MessageAnnotations.None;

    /// <summary>Reads back what was written so far (the cleanup checks run on the stored bytes before the commit).</summary>
    public abstract ValueTask<Stream> OpenWrittenContentAsync(CancellationToken cancellationToken);

    /// <summary>The message content. Writes are buffered; durability comes only with the commit.</summary>
    public abstract Stream Content { get; }

    /// <summary>Makes the message durable (content and envelope fsynced: a segment record, or a file and its folder) and visible to delivery.</summary>
    public abstract ValueTask CommitAsync(CancellationToken cancellationToken);

    /// <summary>Disposing an uncommitted message deletes it.</summary>
    public abstract ValueTask DisposeAsync();
}

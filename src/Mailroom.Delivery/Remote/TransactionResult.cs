using Mailroom.Queue;

namespace Mailroom.Delivery.Remote;

/// <summary>One recipient of an <see cref="OutboundMessage"/>.</summary>
/// <param name="Address">The forward path without angle brackets.</param>
/// <param name="Notify">RFC 3461 NOTIFY; sent only to a peer that offers DSN.</param>
/// <param name="OriginalRecipient">RFC 3461 ORCPT as "addr-type;address" (decoded); sent only to a peer that offers DSN.</param>
public sealed record OutboundRecipient(string Address, DsnNotify Notify = DsnNotify.None, string? OriginalRecipient = null);

/// <summary>One message for one destination, as the SMTP client sends it.</summary>
public sealed record OutboundMessage
{
    /// <summary>The reverse path without angle brackets; empty for the null sender.</summary>
    public required string ReversePath { get; init; }

    public required IReadOnlyList<OutboundRecipient> Recipients { get; init; }

    public BodyType Body { get; init; }

    /// <summary>The sender asked for SMTPUTF8 (RFC 6531).</summary>
    public bool SmtpUtf8 { get; init; }

    /// <summary>RFC 3461 ENVID, decoded; xtext-encoded on the wire.</summary>
    public string? EnvelopeId { get; init; }

    public DsnReturn Return { get; init; }

    /// <summary>The content size in octets (for SIZE=, RFC 1870).</summary>
    public long Size { get; init; }

    /// <summary>Opens the stored content (CRLF line ends, not dot-stuffed). Called once per attempt; the client disposes the stream.</summary>
    public required Func<Stream> OpenContent { get; init; }
}

/// <summary>What happened to one recipient in one transaction.</summary>
/// <param name="Address">The recipient.</param>
/// <param name="Accepted">The server accepted the RCPT command.</param>
/// <param name="Reply">
/// The reply that decides this recipient: the RCPT reply when it was refused; otherwise the reply to
/// DATA or after the final dot; or a local reply (connection lost, timeout, message not sendable).
/// </param>
public sealed record RecipientResult(string Address, bool Accepted, SmtpReplyInfo Reply)
{
    public DeliveryOutcome Outcome => Reply.Outcome;

    public int Code => Reply.Code;

    public Mailroom.Protocol.EnhancedStatusCode? EnhancedStatusCode => Reply.Status;

    public string Text => Reply.Text;
}

/// <summary>The outcome of one mail transaction: one result per recipient, in the message's order.</summary>
/// <param name="Recipients">One result per recipient of the message.</param>
/// <param name="DataReply">The final reply to the data (after the dot, or a refused DATA); null when the data was never sent.</param>
public sealed record TransactionResult(IReadOnlyList<RecipientResult> Recipients, SmtpReplyInfo? DataReply)
{
    /// <summary>
    /// The reply that failed the transaction as a whole: MAIL or DATA refused, a failure after the
    /// final dot, or a lost connection (a local reply). Null when only recipients were refused.
    /// A temporary one sends the message on to the next MX host (RFC 5321 §5.1); a refused RCPT does not.
    /// </summary>
    public SmtpReplyInfo? TransactionFailure { get; init; }
}

namespace Mailroom.Delivery;

/// <summary>What one delivery attempt did for one recipient.</summary>
public enum OutcomeKind
{
    /// <summary>2xx from the next hop, or written to the Maildir: final.</summary>
    Delivered,

    /// <summary>A temporary failure: the recipient stays pending and is retried.</summary>
    Deferred,

    /// <summary>A permanent failure: final, and the sender gets a report.</summary>
    Failed,
}

/// <summary>The result for the recipient at <paramref name="Index"/> of the envelope.</summary>
/// <param name="Index">The recipient's index in the envelope.</param>
/// <param name="Kind">Delivered, deferred or failed.</param>
/// <param name="Status">The RFC 3463 status code, e.g. "5.1.1".</param>
/// <param name="RemoteMta">The host that answered, for the report's Remote-MTA; null for local delivery.</param>
/// <param name="Diagnostic">RFC 3464 Diagnostic-Code, e.g. "smtp; 550 5.1.1 user unknown", or a local reason.</param>
/// <param name="SuccessReportDue">
/// For a delivered recipient: whether we owe a success report when it asked for one (NOTIFY=SUCCESS).
/// False when the next hop speaks DSN, which then takes over the duty (RFC 3461 §6.2.3).
/// </param>
public sealed record RecipientOutcome(int Index, OutcomeKind Kind, string Status, string? RemoteMta, string? Diagnostic, bool SuccessReportDue = true);

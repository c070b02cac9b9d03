using Mailroom.Queue;

namespace Mailroom.Delivery;

/// <summary>Delivers a message to its pending recipients in one remote domain (routing, SMTP client).</summary>
public interface IRemoteDelivery
{
    /// <summary>One attempt; returns an outcome for every index given. Never throws for a delivery problem, only for cancellation.</summary>
    Task<IReadOnlyList<RecipientOutcome>> DeliverAsync(QueuedMessage message, string domain, IReadOnlyList<int> recipientIndexes, CancellationToken cancellationToken);
}

/// <summary>Where a report to the envelope sender goes: a local mailbox or a remote address.</summary>
public interface ISenderResolver
{
    /// <summary>The recipient entry for a report to <paramref name="address"/>; null when no such local recipient exists.</summary>
    EnvelopeRecipient? Resolve(string address);
}

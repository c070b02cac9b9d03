using Mailroom.Delivery;
using Mailroom.Queue;

namespace Mailroom.Hosting;

/// <summary>
/// Interim: keeps remote recipients deferred until the SMTP client and MX routing are wired in
/// (issue 3, in progress). Nothing is lost: the messages stay queued and are retried.
/// </summary>
internal sealed class HeldRemoteDelivery : IRemoteDelivery
{
    public Task<IReadOnlyList<RecipientOutcome>> DeliverAsync(QueuedMessage message, string domain, IReadOnlyList<int> recipientIndexes, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RecipientOutcome>>(
            [.. recipientIndexes.Select(i => new RecipientOutcome(i, OutcomeKind.Deferred, "4.4.0", null, "x-mailroom; remote delivery is not available yet"))]);
}

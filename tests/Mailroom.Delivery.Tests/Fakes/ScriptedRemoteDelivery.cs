using System.Threading.Channels;
using Mailroom.Queue;

namespace Mailroom.Delivery.Tests.Fakes;

/// <summary>A remote delivery that answers every recipient as the test says, and reports each call.</summary>
internal sealed class ScriptedRemoteDelivery : IRemoteDelivery
{
    /// <summary>What each recipient address gets; the default is a deferral.</summary>
    public Func<string, RecipientOutcomeTemplate> Answer { get; set; } = _ => RecipientOutcomeTemplate.Deferred;

    public Channel<(QueueId Id, string Domain, int[] Indexes)> Calls { get; } = Channel.CreateUnbounded<(QueueId, string, int[])>();

    public Task<IReadOnlyList<RecipientOutcome>> DeliverAsync(QueuedMessage message, string domain, IReadOnlyList<int> recipientIndexes, CancellationToken cancellationToken)
    {
        Calls.Writer.TryWrite((message.Id, domain, recipientIndexes.ToArray()));
        IReadOnlyList<RecipientOutcome> outcomes = [.. recipientIndexes.Select(i =>
        {
            var template = Answer(message.Envelope.Recipients[i].Address);
            return new RecipientOutcome(i, template.Kind, template.Status, "mx." + domain, template.Diagnostic);
        })];
        return Task.FromResult(outcomes);
    }
}

internal sealed record RecipientOutcomeTemplate(OutcomeKind Kind, string Status, string Diagnostic)
{
    public static readonly RecipientOutcomeTemplate Deferred = new(OutcomeKind.Deferred, "4.4.1", "smtp; 421 4.4.1 try later");
    public static readonly RecipientOutcomeTemplate Failed = new(OutcomeKind.Failed, "5.1.1", "smtp; 550 5.1.1 <x>: user unknown");
    public static readonly RecipientOutcomeTemplate Delivered = new(OutcomeKind.Delivered, "2.0.0", "smtp; 250 2.0.0 ok");
}

/// <summary>Senders in example.com are local (mailbox example.com/{user}); everything else is remote.</summary>
internal sealed class FakeSenderResolver : ISenderResolver
{
    public EnvelopeRecipient? Resolve(string address)
    {
        var at = address.LastIndexOf('@');
        var local = address[..at];
        return address.EndsWith("@example.com", StringComparison.OrdinalIgnoreCase)
            ? local == "ghost" ? null : new EnvelopeRecipient { Address = address, LocalMailbox = "example.com/" + local }
            : new EnvelopeRecipient { Address = address };
    }
}

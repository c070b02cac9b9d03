using System.Text.RegularExpressions;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>The queue ID in the server's "250 2.0.0 Ok: queued as ID" reply (in a reply text or a client's transcript).</summary>
internal static partial class QueuedReply
{
    public static bool TryGetQueueId(string text, out string queueId)
    {
        var match = Pattern().Match(text);
        queueId = match.Success ? match.Groups["id"].Value : "";
        return match.Success;
    }

    public static string QueueId(string text, string context) =>
        TryGetQueueId(text, out var queueId) ? queueId : throw new InvalidOperationException($"no \"queued as ID\" in the reply\n{context}");

    [GeneratedRegex(@"Ok: queued as (?<id>[0-9A-Z]+)")]
    private static partial Regex Pattern();
}

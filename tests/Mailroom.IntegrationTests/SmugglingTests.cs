using System.Text;
using Mailroom.IntegrationTests.Infrastructure;

using Mailroom.Tests.Shared;

namespace Mailroom.IntegrationTests;

/// <summary>
/// SMTP smuggling against the running server: every fake end-of-data sequence of
/// tests/testdata/smtp/smtp-smuggling/eod-sequences.yaml in the SEC Consult inbound probe layout,
/// over raw TCP, then QUIT. No message from smuggled@ may ever be delivered, and with the default
/// policy (bare_line_ending = "reject") a sequence with a bare CR or LF gets a 5xx.
/// </summary>
public sealed class SmugglingTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Alice = ServerFixture.Alice;
    private const string Domain = "smuggler.test";

    private MailroomProcess Server => fixture.Server;

    public static TheoryData<string> Sequences()
    {
        var data = new TheoryData<string>();
        foreach (var (id, _, _) in SmugglingCorpus.Sequences())
        {
            data.Add(id);
        }

        return data;
    }

    [Fact]
    public void TheCorpusIsRead() => Assert.True(SmugglingCorpus.Sequences().Count() >= 12);

    public static TheoryData<string> SequencesWithBareLineEndings()
    {
        var data = new TheoryData<string>();
        foreach (var (id, hex, _) in SmugglingCorpus.Sequences())
        {
            if (HasBareLineEnding(SmugglingCorpus.Bytes(hex)))
            {
                data.Add(id);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Sequences))]
    public async Task NoSequenceSmugglesASecondMessage(string id)
    {
        var (reply, transcript) = await SendProbeAsync(id);

        // 250 (the whole probe is one message's content) or 5xx (refused); never a second message.
        Assert.True(reply.Code is 250 or (>= 500 and < 600), transcript);
        if (QueuedReply.TryGetQueueId(reply.Text, out var queueId))
        {
            var file = await Server.WaitForMaildirFileAsync(queueId, Alice);
            Assert.Equal($"<test@{Domain}>", MaildirMessage.ReturnPath(file));
            Assert.Contains("SMUGGLING WORKS", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }

        var smuggled = Server.MaildirFiles(Alice).Where(file => MaildirMessage.ReturnPath(file).StartsWith("<smuggled@", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(smuggled.Count == 0, $"delivered from smuggled@: {string.Join(", ", smuggled)}\n{transcript}\n--- mailroom log ---\n{Server.Log}");
        Assert.DoesNotContain(Server.Log.Lines, line => line.Contains($"from=<smuggled@{Domain}>", StringComparison.Ordinal) && line.Contains("(queued)", StringComparison.Ordinal));
    }

    /// <summary>The default policy (bare_line_ending = "reject", Postfix smtpd_forbid_bare_newline) refuses the message with 5xx.</summary>
    [Theory]
    [MemberData(nameof(SequencesWithBareLineEndings))]
    public async Task BareLineEndingsAreRefusedByDefault(string id)
    {
        var (reply, transcript) = await SendProbeAsync(id);

        Assert.True(reply.Code is >= 500 and < 600, $"a bare CR or LF must be refused with 5xx\n{transcript}");
        Assert.DoesNotContain("queued as", reply.Text, StringComparison.Ordinal);
    }

    /// <summary>Sends the probe and QUIT; returns the reply to the message (the one reply before 221) and the transcript.</summary>
    private async Task<(SmtpResponse Reply, string Transcript)> SendProbeAsync(string id)
    {
        var (_, hex, repr) = SmugglingCorpus.Sequences().Single(sequence => sequence.Id == id);
        await using var client = await RawSmtpClient.ConnectAsync(Server.SmtpPort);
        await client.CommandAsync("EHLO scanner.smuggler.test", 250);
        await client.CommandAsync($"MAIL FROM:<test@{Domain}>", 250);
        await client.CommandAsync($"RCPT TO:<{Alice}>", 250);
        await client.CommandAsync("DATA", 354);
        await client.SendAsync(Probe(id, repr, SmugglingCorpus.Bytes(hex)));
        await client.SendAsync("QUIT\r\n");

        // Every reply until the server closes: one for the message, then 221. A vulnerable server
        // would answer the smuggled MAIL, RCPT, DATA and the second message as well.
        var replies = new List<SmtpResponse>();
        while (await client.TryReadResponseAsync() is { } reply)
        {
            replies.Add(reply);
            if (reply.Code == 221)
            {
                break;
            }
        }

        var transcript = $"{id} ({repr})\n{client.Transcript}";
        Assert.True(replies.Count == 2 && replies[1].Code == 221, $"expected the reply to the message and 221, got {replies.Count} replies\n{transcript}");
        return (replies[0], transcript);
    }

    /// <summary>The SEC Consult / The-Login scanner's inbound probe, as the YAML header describes it.</summary>
    private static byte[] Probe(string id, string repr, byte[] sequence)
    {
        var date = "Mon, 30 Nov 2026 02:11:46 +0000";
        var first = $"From: test@{Domain}\r\nTo: {Alice}\r\nSubject: CHECK EMAIL ({repr})\r\nDate: {date}\r\nMessage-ID: <check-{id}@{Domain}>\r\n\r\n"
            + $"TESTING {repr} as \"fake\" end-of-data sequence!\r\n";
        var second = "\r\n"
            + $"mail FROM:<smuggled@{Domain}>\r\nrcpt TO:<{Alice}>\r\ndata\r\n"
            + $"From: smuggled@{Domain}\r\nTo: {Alice}\r\nSubject: SMUGGLED EMAIL ({repr})\r\nDate: {date}\r\nMessage-ID: <smuggled-{id}@{Domain}>\r\n\r\n"
            + $"SMUGGLING WORKS with {repr} as \"fake\" end-of-data sequence!\r\n.\r\n";
        return [.. Encoding.ASCII.GetBytes(first), .. sequence, .. Encoding.ASCII.GetBytes(second)];
    }

    /// <summary>
    /// A CR not followed by LF or an LF not preceded by CR, in the sequence as the probe embeds it:
    /// after "...!\r\n" and before "\r\n" (so a trailing CR meets the LF of the following CRLF).
    /// </summary>
    private static bool HasBareLineEnding(byte[] sequence)
    {
        byte[] context = [(byte)'\r', (byte)'\n', .. sequence, (byte)'\r', (byte)'\n'];
        for (var i = 2; i < context.Length - 2; i++)
        {
            if ((context[i] == '\r' && context[i + 1] != '\n') || (context[i] == '\n' && context[i - 1] != '\r'))
            {
                return true;
            }
        }

        return false;
    }

}

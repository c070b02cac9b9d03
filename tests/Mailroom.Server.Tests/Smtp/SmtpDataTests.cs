using System.Text;
using Mailroom.Protocol;
using Mailroom.Tests.Shared;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>DATA and PIPELINING over a real socket, down to the bytes in the spool.</summary>
public sealed class SmtpDataTests
{
    [Fact]
    public async Task MessageIsStoredByteExactAfterTheReceivedHeader()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        await client.SendAsync("Subject: dots\r\n\r\n..leading dot\r\n.\tdot tab\r\nlast line\r\n.\r\n");
        var reply = await client.ReadReplyAsync();

        Assert.Equal("250 2.0.0", reply.CodeAndStatus);
        var id = await server.NextCommittedAsync();
        Assert.EndsWith("queued as " + id.Value, reply.Lines[0], StringComparison.Ordinal);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(id));
        const string body = "Subject: dots\r\n\r\n.leading dot\r\n\tdot tab\r\nlast line\r\n";
        Assert.EndsWith(body, stored, StringComparison.Ordinal);
        var header = stored[..^body.Length];
        Assert.StartsWith("Received: from client.example ([127.0.0.1])\r\n", header, StringComparison.Ordinal);
        Assert.Contains($" id {id.Value}", header, StringComparison.Ordinal);
        Assert.Contains("for <alice@example.test>", header, StringComparison.Ordinal);
        var lines = header.TrimEnd('\r', '\n').Split("\r\n");
        Assert.All(lines.Skip(1), line => Assert.StartsWith("\t", line, StringComparison.Ordinal)); // one header field

        var queued = Assert.Single(await server.QueuedAsync());
        Assert.Equal("sender@remote.example", queued.Envelope.ReversePath);
        Assert.Equal("example.test/alice", Assert.Single(queued.Envelope.Recipients).LocalMailbox);
    }

    [Fact]
    public async Task MessageOverTheLimitIsRefusedAfterTheFinalDot()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { Limits = o.Limits with { MessageSize = 1000 } });
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        var line = new string('x', 98) + "\r\n";
        await client.SendAsync("Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(line, 30)) + ".\r\n");

        Assert.Equal("552 5.3.4", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
        Assert.True(server.NothingCommitted);
        Assert.Empty(await server.QueuedAsync());
    }

    [Fact]
    public async Task BareLineFeedIsRefusedWithTheRejectPolicy()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { BareLineEndings = BareLineEndingPolicy.Reject });
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        await client.SendAsync("Subject: bare\r\n\r\none\ntwo\r\n.\r\n");

        Assert.Equal("550 5.5.2", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
        Assert.Empty(await server.QueuedAsync());
    }

    [Fact]
    public async Task BareLineFeedIsStoredAsCrLfWithTheNormalizePolicy()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { BareLineEndings = BareLineEndingPolicy.Normalize });
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        await client.SendAsync("Subject: bare\r\n\r\none\ntwo\r\n.\r\n");

        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));
        Assert.EndsWith("\r\nSubject: bare\r\n\r\none\r\ntwo\r\n", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TextLineLongerThan1000OctetsIsRefused()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        // RFC 5321 §4.5.3.1.6: 1000 octets including CRLF; this line has 1001.
        await client.SendAsync("Subject: long\r\n\r\n" + new string('x', 999) + "\r\n.\r\n");

        Assert.Equal("500 5.5.2", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Empty(await server.QueuedAsync());
    }

    [Fact]
    public async Task TextLineOf1000OctetsIsAccepted()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        await client.SendAsync("Subject: long\r\n\r\n" + new string('x', 998) + "\r\n.\r\n");

        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
    }

    public static TheoryData<string, string, BareLineEndingPolicy> SmugglingProbes()
    {
        var data = new TheoryData<string, string, BareLineEndingPolicy>();
        foreach (var (id, hex) in SmugglingCorpus.Sequences())
        {
            data.Add(id, hex, BareLineEndingPolicy.Reject);
            data.Add(id, hex, BareLineEndingPolicy.Normalize);
        }

        return data;
    }

    /// <summary>
    /// The SEC Consult inbound probe: a message with a fake end-of-data sequence, followed in the
    /// same write by the commands of a second, smuggled message. At most one message may be queued,
    /// never one from smuggled@, and the client gets exactly one reply for its one final dot.
    /// </summary>
    [Theory]
    [MemberData(nameof(SmugglingProbes))]
    public async Task SmugglingSequenceNeverEndsTheMessage(string id, string hex, BareLineEndingPolicy policy)
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { BareLineEndings = policy });
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("test@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        var sequence = Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
        byte[] probe =
        [
            .. "From: test@remote.example\r\nTo: alice@example.test\r\nSubject: CHECK EMAIL\r\n\r\nTESTING fake end-of-data sequence!\r\n"u8,
            .. sequence,
            .. "\r\nmail FROM:<smuggled@remote.example>\r\nrcpt TO:<alice@example.test>\r\ndata\r\nFrom: smuggled@remote.example\r\nTo: alice@example.test\r\nSubject: SMUGGLED EMAIL\r\n\r\nSMUGGLING WORKS\r\n.\r\n"u8,
            .. "QUIT\r\n"u8,
        ];
        await client.SendAsync(probe);

        // With the Reject policy a bare CR or LF refuses the message; a NUL sequence is plain content.
        var refused = policy == BareLineEndingPolicy.Reject && !sequence.Contains((byte)0);
        var end = await client.ReadReplyAsync();
        Assert.True(refused ? end.CodeAndStatus == "550 5.5.2" : end.Code == 250, $"{id}: {end}");
        Assert.Equal("221 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus); // nothing was executed in between
        var queued = await server.QueuedAsync();
        Assert.Equal(refused ? 0 : 1, queued.Count);
        Assert.DoesNotContain(queued, message => message.Envelope.ReversePath.StartsWith("smuggled@", StringComparison.Ordinal));
        if (queued.Count == 1)
        {
            var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(queued[0].Id));
            Assert.Contains("SMUGGLING WORKS", stored, StringComparison.Ordinal); // kept as content
        }
    }

    [Fact]
    public async Task PipelinedCommandsAreAnsweredInOrder()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        await client.SendAsync("EHLO client.example\r\nMAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
        var replies = await client.ReadRepliesAsync(5);

        Assert.Equal(["250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "354"], replies.Select(r => r.CodeAndStatus));
        Assert.Contains("PIPELINING", replies[0].Lines);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("Subject: pipelined\r\n\r\nbody\r\n.")).CodeAndStatus);
        var queued = Assert.Single(await server.QueuedAsync());
        Assert.Equal(["alice@example.test", "bob@example.test"], queued.Envelope.Recipients.Select(r => r.Address));
    }

    [Fact]
    public async Task PipelinedBatchWithRefusedRecipientsGetsOneReplyPerCommand()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);

        // RFC 2920 §3.1: every refused RCPT has its reply; DATA without a valid recipient is 554.
        await client.SendAsync("MAIL FROM:<sender@remote.example>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\nNOOP\r\n");
        var replies = await client.ReadRepliesAsync(5);

        Assert.Equal(["250 2.1.0", "550 5.1.1", "554 5.7.1", "554 5.5.1", "250 2.0.0"], replies.Select(r => r.CodeAndStatus));
    }

    [Fact]
    public async Task MessageAndNextTransactionInOneWriteAreBothAccepted()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        // RFC 2920 §3.1: after the final dot, the next transaction's commands may follow at once.
        await client.SendAsync("Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<sender@remote.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
        var replies = await client.ReadRepliesAsync(4);
        Assert.Equal(["250 2.0.0", "250 2.1.0", "250 2.1.5", "354"], replies.Select(r => r.CodeAndStatus));
        Assert.Equal("250 2.0.0", (await client.CommandAsync("Subject: two\r\n\r\nsecond\r\n.")).CodeAndStatus);

        Assert.Equal(2, (await server.QueuedAsync()).Count);
    }
}

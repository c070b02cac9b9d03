using System.Text;
using System.Text.RegularExpressions;
using Mailroom.Server.Sasl;
using Mailroom.Server.Smtp;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>
/// What an authenticated session may do and what it gets: the sender-address check (MAIL FROM and
/// the From header), Date and Message-ID added to submissions (RFC 6409 §8), and the brute-force guard.
/// </summary>
public sealed partial class SmtpSubmissionTests
{
    private const string Alice = SmtpServerFixture.Alice;

    /// <summary>A submissions (implicit TLS) session authenticated as Alice.</summary>
    private static async Task<RawSmtpClient> AliceAsync(SmtpServerFixture server)
    {
        var client = await server.ConnectAsync(SmtpListenerRole.Submissions);
        Assert.Equal("235 2.7.0", (await client.AuthPlainAsync(Alice, SmtpServerFixture.AlicePassword)).CodeAndStatus);
        return client;
    }

    private static async Task<SmtpTestReply> SendAsync(RawSmtpClient client, string content, string sender = Alice, string recipient = "someone@remote.example")
    {
        Assert.Equal("250 2.1.0", (await client.CommandAsync($"MAIL FROM:<{sender}>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync($"RCPT TO:<{recipient}>")).CodeAndStatus);
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
        return await client.CommandAsync(content + "\r\n.");
    }

    [Fact]
    public async Task MailFromAnotherUsersAddressIsRefused()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await AliceAsync(server);
        var reply = await client.CommandAsync("MAIL FROM:<bob@example.test>");
        Assert.Equal("553 5.7.1", reply.CodeAndStatus);
        Assert.Contains("not owned by user", reply.Lines[0], StringComparison.Ordinal);
        Assert.Equal("553 5.7.1", (await client.CommandAsync("MAIL FROM:<alice@elsewhere.example>")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<Alice@EXAMPLE.test>")).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("RSET")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<>")).CodeAndStatus);
    }

    [Fact]
    public async Task ConfiguredSenderAddressesAreAllowed()
    {
        await using var server = await SmtpServerFixture.StartAsync(options => options with
        {
            SenderAddresses = new Dictionary<string, IReadOnlyList<string>> { [Alice] = ["sales@example.test", "@alice.example"] },
        });
        await using var client = await AliceAsync(server);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<sales@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("RSET")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<anything@alice.example>")).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("RSET")).CodeAndStatus);
        Assert.Equal("553 5.7.1", (await client.CommandAsync("MAIL FROM:<bob@example.test>")).CodeAndStatus);
    }

    [Fact]
    public async Task SenderCheckCanBeTurnedOff()
    {
        await using var server = await SmtpServerFixture.StartAsync(options => options with { SenderCheck = false });
        await using var client = await AliceAsync(server);
        Assert.Equal("250 2.0.0", (await SendAsync(client, "From: bob@example.test\r\n\r\nhi", sender: "bob@example.test")).CodeAndStatus);
    }

    [Theory]
    [InlineData("From: Bob <bob@example.test>")]
    [InlineData("From: alice@example.test, bob@example.test")]
    [InlineData("From: friends: bob@example.test;")]
    [InlineData("From: alice@example.test\r\nFrom: bob@example.test")]
    [InlineData("From: =?utf-8?q?Alice?=\r\n <bob@example.test>")]
    [InlineData("From: not an address at all")]
    public async Task FromHeaderOfAnotherUserIsRefusedAfterTheDot(string from)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await AliceAsync(server);
        Assert.Equal("553 5.7.1", (await SendAsync(client, from + "\r\nSubject: x\r\n\r\nbody")).CodeAndStatus);
        Assert.True(server.NothingCommitted);
        Assert.Empty(await server.QueuedAsync());

        // The session goes on.
        Assert.Equal("250 2.0.0", (await SendAsync(client, "From: Alice <alice@example.test>\r\n\r\nbody")).CodeAndStatus);
    }

    [Fact]
    public async Task FromHeaderIsCheckedInBdatToo()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await AliceAsync(server);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<bob@example.test>")).CodeAndStatus);
        var first = "From: bob@exa";
        var second = "mple.test\r\n\r\nbody\r\n";
        await client.SendAsync($"BDAT {first.Length}\r\n{first}");
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        await client.SendAsync($"BDAT {second.Length} LAST\r\n{second}");
        Assert.Equal("553 5.7.1", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Empty(await server.QueuedAsync());
    }

    [Fact]
    public async Task HugeHeaderBlockIsRefusedWhileTheCheckIsOn()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await AliceAsync(server);
        var lines = string.Concat(Enumerable.Range(0, 1000).Select(i => $"X-Filler-{i}: {new string('x', 80)}\r\n"));
        Assert.Equal("552 5.3.4", (await SendAsync(client, lines + "From: bob@example.test\r\n\r\nbody")).CodeAndStatus);
    }

    [Fact]
    public async Task DateAndMessageIdAreAddedAfterTheReceivedHeader()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await AliceAsync(server);
        Assert.Equal("250 2.0.0", (await SendAsync(client, "From: alice@example.test\r\nSubject: no date\r\n\r\nbody")).CodeAndStatus);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));

        var match = StoredLayout().Match(stored);
        Assert.True(match.Success, stored);
        Assert.Contains(" with ESMTPSA id ", match.Groups["received"].Value, StringComparison.Ordinal);
        Assert.EndsWith("@" + SmtpServerFixture.Hostname + ">", match.Groups["id"].Value, StringComparison.Ordinal);
        Assert.Equal("From: alice@example.test\r\nSubject: no date\r\n\r\nbody\r\n", match.Groups["rest"].Value);
    }

    [Fact]
    public async Task PresentDateAndMessageIdAreKept()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await AliceAsync(server);
        const string content = "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nmessage-id: <own@example.test>\r\nFrom: alice@example.test\r\n\r\nbody";
        Assert.Equal("250 2.0.0", (await SendAsync(client, content)).CodeAndStatus);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));
        Assert.EndsWith("for <someone@remote.example>; " + stored.Split("; ")[1].Split("\r\n")[0] + "\r\n" + content + "\r\n", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMessageWithoutBodyGetsTheHeadersToo()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await AliceAsync(server);
        Assert.Equal("250 2.0.0", (await SendAsync(client, "Subject: only a header")).CodeAndStatus);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));
        Assert.Contains("\r\nDate: ", stored, StringComparison.Ordinal);
        Assert.Contains("\r\nMessage-ID: <", stored, StringComparison.Ordinal);
        Assert.EndsWith("\r\nSubject: only a header\r\n", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnauthenticatedMailIsStoredAsItCame()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("bob@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("From: bob@remote.example\r\n\r\nbody\r\n.")).CodeAndStatus);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));
        Assert.DoesNotContain("Message-ID", stored, StringComparison.Ordinal);
        Assert.Contains(" with ESMTP id ", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RepeatedFailuresLockTheAddressOutForAWhile()
    {
        var limits = new AuthenticationLimits { FailuresBeforeDelay = 100, FailuresBeforeLockout = 3, Lockout = TimeSpan.FromMinutes(2) };
        await using var server = await SmtpServerFixture.StartAsync(options => options with { AuthenticationLimits = limits });
        await using var client = await server.ConnectAsync(SmtpListenerRole.Submissions);
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("535 5.7.8", (await client.CommandAsync("AUTH PLAIN " + RawSmtpClient.Base64("\0" + Alice + "\0guess" + i))).CodeAndStatus);
        }

        // Even the right password is refused now, temporarily, and from a new connection too.
        var good = "AUTH PLAIN " + RawSmtpClient.Base64("\0" + Alice + "\0" + SmtpServerFixture.AlicePassword);
        Assert.Equal("454 4.7.0", (await client.CommandAsync(good)).CodeAndStatus);
        await using var second = await server.ConnectAsync(SmtpListenerRole.Submissions);
        Assert.Equal(250, (await second.CommandAsync("EHLO client.example")).Code);
        Assert.Equal("454 4.7.0", (await second.CommandAsync(good)).CodeAndStatus);

        // Shorter than the 5-minute command timeout, so that the idle session survives the jump.
        server.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal("235 2.7.0", (await second.CommandAsync(good)).CodeAndStatus);
    }

    // Received (with its continuation lines), then Date, then Message-ID, then the message as sent.
    [GeneratedRegex(@"\A(?<received>Received: [^\r]*\r\n(?:\t[^\r]*\r\n)*)Date: [^\r]+\r\nMessage-ID: (?<id><[^\r]+>)\r\n(?<rest>[\s\S]*)\z")]
    private static partial Regex StoredLayout();
}

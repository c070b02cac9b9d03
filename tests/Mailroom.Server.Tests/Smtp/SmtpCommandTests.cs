using System.Net;
using Mailroom.Server.Smtp;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>Greeting, HELO/EHLO, command sequencing and the simple commands, over a real socket.</summary>
public sealed class SmtpCommandTests
{
    [Fact]
    public async Task GreetingNamesTheHost()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync(readGreeting: false);

        var greeting = await client.ReadReplyAsync();

        Assert.Equal(220, greeting.Code);
        Assert.Null(greeting.Status); // RFC 2034 §4: no enhanced code on the greeting
        Assert.StartsWith(SmtpServerFixture.Hostname + " ESMTP", greeting.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task EhloListsTheExtensions()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        var reply = await client.CommandAsync("EHLO client.example");

        Assert.Equal(250, reply.Code);
        Assert.Equal(
            [SmtpServerFixture.Hostname, "PIPELINING", "SIZE " + server.Options.Limits.MessageSize, "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "STARTTLS"],
            reply.Lines);
    }

    [Fact]
    public async Task HeloAnswersWithTheHostname()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        var reply = await client.CommandAsync("HELO client.example");

        Assert.Equal(250, reply.Code);
        Assert.Equal([SmtpServerFixture.Hostname], reply.Lines);
    }

    [Theory]
    [InlineData("HELO")]
    [InlineData("EHLO")]
    [InlineData("EHLO ")]
    public async Task HelloWithoutArgumentIs501(string command)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        Assert.Equal("501 5.5.4", (await client.CommandAsync(command)).CodeAndStatus);
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code); // the session goes on
    }

    [Fact]
    public async Task MailBeforeEhloIs503()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        Assert.Equal("503 5.5.1", (await client.CommandAsync("MAIL FROM:<a@remote.example>")).CodeAndStatus);
    }

    [Fact]
    public async Task CommandsOutOfSequenceAre503()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");

        Assert.Equal("503 5.5.1", (await client.CommandAsync("RCPT TO:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("503 5.5.1", (await client.CommandAsync("DATA")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<a@remote.example>")).CodeAndStatus);
        Assert.Equal("503 5.5.1", (await client.CommandAsync("DATA")).CodeAndStatus);
        Assert.Equal("503 5.5.1", (await client.CommandAsync("MAIL FROM:<b@remote.example>")).CodeAndStatus);
    }

    [Fact]
    public async Task DataAfterEveryRecipientWasRefusedIs554()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");
        await client.CommandAsync("MAIL FROM:<a@remote.example>");
        Assert.Equal("550 5.1.1", (await client.CommandAsync("RCPT TO:<nobody@example.test>")).CodeAndStatus);

        // RFC 2920 §3.1.
        Assert.Equal("554 5.5.1", (await client.CommandAsync("DATA")).CodeAndStatus);
    }

    [Fact]
    public async Task RsetEndsTheTransaction()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");
        await client.CommandAsync("MAIL FROM:<a@remote.example>");
        await client.CommandAsync("RCPT TO:<alice@example.test>");

        Assert.Equal("250 2.0.0", (await client.CommandAsync("RSET")).CodeAndStatus);
        Assert.Equal("503 5.5.1", (await client.CommandAsync("DATA")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<a@remote.example>")).CodeAndStatus);
    }

    [Fact]
    public async Task SimpleCommandsAnswerAsRfc5321Says()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
        Assert.Equal("214 2.0.0", (await client.CommandAsync("HELP")).CodeAndStatus);
        Assert.Equal("252 2.0.0", (await client.CommandAsync("VRFY alice")).CodeAndStatus);
        Assert.Equal("502 5.5.1", (await client.CommandAsync("EXPN staff")).CodeAndStatus);
        Assert.Equal("500 5.5.2", (await client.CommandAsync("FROB nicate")).CodeAndStatus);
        Assert.Equal("221 2.0.0", (await client.CommandAsync("QUIT")).CodeAndStatus);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task RelayToAnotherDomainIsDeniedForAnUntrustedClient()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");
        await client.CommandAsync("MAIL FROM:<a@remote.example>");

        Assert.Equal("554 5.7.1", (await client.CommandAsync("RCPT TO:<someone@elsewhere.example>")).CodeAndStatus);
    }

    [Fact]
    public async Task ATrustedClientMayRelay()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { TrustedNetworks = [IPNetwork.Parse("127.0.0.0/8")] });
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");
        await client.CommandAsync("MAIL FROM:<a@remote.example>");

        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<someone@elsewhere.example>")).CodeAndStatus);
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
        Assert.Equal(250, (await client.CommandAsync("Subject: relayed\r\n\r\nbody\r\n.")).Code);

        var queued = Assert.Single(await server.QueuedAsync());
        var recipient = Assert.Single(queued.Envelope.Recipients);
        Assert.Equal("someone@elsewhere.example", recipient.Address);
        Assert.Null(recipient.LocalMailbox);
    }

    [Fact]
    public async Task UnknownLocalUserIs550()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");
        await client.CommandAsync("MAIL FROM:<a@remote.example>");

        Assert.Equal("550 5.1.1", (await client.CommandAsync("RCPT TO:<carol@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<bob@example.test>")).CodeAndStatus);
    }

    [Fact]
    public async Task PostmasterWithoutDomainIsAccepted()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");
        await client.CommandAsync("MAIL FROM:<a@remote.example>");

        // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain MUST be supported.
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<postmaster>")).CodeAndStatus);
    }

    [Fact]
    public async Task NonAsciiAddressNeedsSmtpUtf8()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");

        Assert.Equal("553 5.6.7", (await client.CommandAsync("MAIL FROM:<jörg@remote.example>")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<jörg@remote.example> SMTPUTF8")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("RSET")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<a@remote.example>")).CodeAndStatus);
        Assert.Equal("553 5.6.7", (await client.CommandAsync("RCPT TO:<jörg@example.test>")).CodeAndStatus);
    }

    [Fact]
    public async Task DeclaredSizeAboveTheLimitIs552()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { Limits = o.Limits with { MessageSize = 1000 } });
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");

        Assert.Equal("552 5.3.4", (await client.CommandAsync("MAIL FROM:<a@remote.example> SIZE=1001")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<a@remote.example> SIZE=1000")).CodeAndStatus);
    }

    [Fact]
    public async Task UnknownMailParameterIs555()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");

        Assert.Equal("555 5.5.4", (await client.CommandAsync("MAIL FROM:<a@remote.example> FROBNICATE=yes")).CodeAndStatus);
    }

    [Fact]
    public async Task TooManyRecipientsIs452()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { Limits = o.Limits with { RecipientsPerMessage = 2 } });
        await using var client = await server.ConnectAsync();
        await client.CommandAsync("EHLO client.example");
        await client.CommandAsync("MAIL FROM:<a@remote.example>");

        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<bob@example.test>")).CodeAndStatus);
        Assert.Equal("452 4.5.3", (await client.CommandAsync("RCPT TO:<postmaster@example.test>")).CodeAndStatus);
    }

    [Fact]
    public async Task SubmissionWithoutTlsRefusesMail()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync(SmtpListenerRole.Submission);
        await client.CommandAsync("EHLO client.example");

        Assert.Equal("530 5.7.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
    }
}

using System.Text;
using Mailroom.Server.Smtp;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>STARTTLS (RFC 3207) and implicit TLS (RFC 8314) with a real SslStream.</summary>
public sealed class SmtpTlsTests
{
    [Fact]
    public async Task StartTlsUpgradesAndForgetsThePlaintextSession()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Contains("STARTTLS", (await client.CommandAsync("EHLO client.example")).Lines);

        Assert.Equal("220 2.0.0", (await client.CommandAsync("STARTTLS")).CodeAndStatus);
        await client.StartTlsAsync();

        // RFC 3207 §4.2: the client must EHLO again.
        Assert.Equal("503 5.5.1", (await client.CommandAsync("MAIL FROM:<sender@remote.example>")).CodeAndStatus);
        var ehlo = await client.CommandAsync("EHLO client.example");
        Assert.Equal(250, ehlo.Code);
        Assert.DoesNotContain("STARTTLS", ehlo.Lines);
        Assert.Equal("503 5.5.1", (await client.CommandAsync("STARTTLS")).CodeAndStatus);

        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<sender@remote.example>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<alice@example.test>")).CodeAndStatus);
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("Subject: tls\r\n\r\nsecret\r\n.")).CodeAndStatus);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));
        Assert.Contains("(using TLSv1.", stored, StringComparison.Ordinal);
        Assert.Contains(" with ESMTPS id ", stored, StringComparison.Ordinal);
    }

    /// <summary>CVE-2011-0411: a command injected after STARTTLS in plaintext must not run inside TLS.</summary>
    [Fact]
    public async Task CommandPipelinedAfterStartTlsIsNotExecuted()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);

        await client.SendAsync("STARTTLS\r\nRSET\r\n");
        Assert.Equal("220 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        await client.StartTlsAsync(); // fails if any plaintext followed the 220

        // The first reply inside TLS must answer our own HELP (214), not the injected RSET (250).
        Assert.Equal("214 2.0.0", (await client.CommandAsync("HELP")).CodeAndStatus);
        Assert.Equal("221 2.0.0", (await client.CommandAsync("QUIT")).CodeAndStatus);
    }

    [Fact]
    public async Task SubmissionsListenerSpeaksTlsFromTheFirstByte()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync(SmtpListenerRole.Submissions, readGreeting: false);
        Assert.NotNull(client.Tls);

        var greeting = await client.ReadReplyAsync();
        Assert.Equal(220, greeting.Code);
        var ehlo = await client.CommandAsync("EHLO client.example");
        Assert.Equal(250, ehlo.Code);
        Assert.DoesNotContain("STARTTLS", ehlo.Lines);
        Assert.Contains("AUTH SCRAM-SHA-256 PLAIN LOGIN", ehlo.Lines);
        Assert.Equal("530 5.7.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("235 2.7.0", (await client.CommandAsync("AUTH PLAIN " + RawSmtpClient.Base64("\0alice@example.test\0" + SmtpServerFixture.AlicePassword))).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
    }

    [Fact]
    public async Task SubmissionAcceptsMailAfterStartTls()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync(SmtpListenerRole.Submission);
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        Assert.Equal("530 5.7.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);

        Assert.Equal("235 2.7.0", (await client.StartTlsAndAuthPlainAsync(SmtpServerFixture.Alice, SmtpServerFixture.AlicePassword)).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
    }
}

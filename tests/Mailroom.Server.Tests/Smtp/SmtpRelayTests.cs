using System.Net;
using Mailroom.Server.Smtp;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>
/// Relay control: the address tricks that turned other servers into open relays, from an untrusted
/// and unauthenticated client; relaying from a trusted network and after AUTH.
/// </summary>
public sealed class SmtpRelayTests
{
    /// <summary>None of these may relay; each is refused or treated as the local part it is.</summary>
    [Theory]
    [InlineData("user@remote.example", "554 5.7.1")]                          // plain relay attempt
    [InlineData("user%remote.example@example.test", "550 5.1.1")]            // percent hack: a local part, unknown user
    [InlineData("remote.example!user@example.test", "550 5.1.1")]            // bang path: a local part, unknown user
    [InlineData("\"user@remote.example\"@example.test", "550 5.1.1")]        // quoted local part with '@'
    [InlineData("\"user%remote.example\"@example.test", "550 5.1.1")]
    [InlineData("@example.test:user@remote.example", "554 5.7.1")]           // source route through us: judged by the mailbox
    [InlineData("@a.example,@example.test:user@remote.example", "554 5.7.1")]
    [InlineData("user@[192.0.2.1]", "554 5.7.1")]                             // address literal
    [InlineData("user@[127.0.0.1]", "554 5.7.1")]                             // address literal of this very host
    [InlineData("user@[IPv6:2001:db8::1]", "554 5.7.1")]
    [InlineData("user@remote.example@example.test", "501 5.1.3")]            // two '@': a syntax error
    [InlineData("alice@example.test@remote.example", "501 5.1.3")]
    public async Task UntrustedClientCannotRelay(string recipient, string expected)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<someone@remote.example>")).CodeAndStatus);
        Assert.Equal(expected, (await client.CommandAsync($"RCPT TO:<{recipient}>")).CodeAndStatus);
    }

    [Theory]
    [InlineData("alice@example.test")]
    [InlineData("@a.example,@b.example:alice@example.test")] // the source route is ignored (RFC 5321 §4.1.1.3); the mailbox is local
    [InlineData("\"alice\"@example.test")]
    public async Task LocalRecipientsStayOpenToEveryone(string recipient)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<someone@remote.example>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync($"RCPT TO:<{recipient}>")).CodeAndStatus);
    }

    [Fact]
    public async Task TrustedNetworkRelays()
    {
        await using var server = await SmtpServerFixture.StartAsync(options => options with { TrustedNetworks = [IPNetwork.Parse("127.0.0.0/8")] });
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("someone@example.test", "user@remote.example", "user@[192.0.2.1]");
    }

    [Fact]
    public async Task AuthenticatedUserRelaysAndUnauthenticatedDoesNot()
    {
        await using var server = await SmtpServerFixture.StartAsync(SmtpServerFixture.WithAuthOnSmtp);
        await using var client = await server.ConnectUnderTlsAsync();
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("554 5.7.1", (await client.CommandAsync("RCPT TO:<user@remote.example>")).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("RSET")).CodeAndStatus);

        var auth = "AUTH PLAIN " + RawSmtpClient.Base64("\0" + SmtpServerFixture.Alice + "\0" + SmtpServerFixture.AlicePassword);
        Assert.Equal("235 2.7.0", (await client.CommandAsync(auth)).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<user@remote.example>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<user@[192.0.2.1]>")).CodeAndStatus);
    }
}

using System.Text;
using Mailroom.Server.Smtp;
using Mailroom.Server.Tests.Sasl;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>SMTP AUTH (RFC 4954) with PLAIN, LOGIN and SCRAM-SHA-256 over real sockets and TLS.</summary>
public sealed class SmtpAuthTests
{
    private const string Alice = SmtpServerFixture.Alice;
    private const string Password = SmtpServerFixture.AlicePassword;

    private static string B64(string text) => RawSmtpClient.Base64(text);

    [Fact]
    public async Task AuthIsAdvertisedOnlyUnderTls()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync(SmtpListenerRole.Submission);
        var plain = await client.CommandAsync("EHLO client.example");
        Assert.DoesNotContain(plain.Lines, line => line.StartsWith("AUTH", StringComparison.Ordinal));
        Assert.Equal("530 5.7.0", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
        Assert.Equal("530 5.7.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);

        Assert.Equal("220 2.0.0", (await client.CommandAsync("STARTTLS")).CodeAndStatus);
        await client.StartTlsAsync();
        var tls = await client.CommandAsync("EHLO client.example");
        Assert.Contains("AUTH SCRAM-SHA-256 PLAIN LOGIN", tls.Lines);
    }

    [Fact]
    public async Task SmtpListenerDoesNotOfferAuthByDefault()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        Assert.Equal("220 2.0.0", (await client.CommandAsync("STARTTLS")).CodeAndStatus);
        await client.StartTlsAsync();
        var ehlo = await client.CommandAsync("EHLO client.example");
        Assert.DoesNotContain(ehlo.Lines, line => line.StartsWith("AUTH", StringComparison.Ordinal));
        Assert.Equal("503 5.5.1", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
    }

    [Fact]
    public async Task SmtpListenerOffersAuthWhenConfigured()
    {
        await using var server = await SmtpServerFixture.StartAsync(SmtpServerFixture.WithAuthOnSmtp);
        await using var client = await server.ConnectAsync();
        var plain = await client.CommandAsync("EHLO client.example");
        Assert.DoesNotContain(plain.Lines, line => line.StartsWith("AUTH", StringComparison.Ordinal));
        Assert.Equal("530 5.7.0", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);

        // Unauthenticated mail to a local user still works on port 25 (an MX must accept it).
        Assert.Equal("235 2.7.0", (await client.StartTlsAndAuthPlainAsync(Alice, Password)).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<someone@remote.example>")).CodeAndStatus);
    }

    [Fact]
    public async Task SubmissionRequiresAuthenticationForMail()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var reply = await client.CommandAsync("MAIL FROM:<alice@example.test>");
        Assert.Equal("530 5.7.0", reply.CodeAndStatus);
        Assert.Contains("Authentication required", reply.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task PlainWithInitialResponseAuthenticatesAndRecordsTheUser()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal("235 2.7.0", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
        Assert.Equal("250 2.1.5", (await client.CommandAsync("RCPT TO:<bob@example.test>")).CodeAndStatus);
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("From: alice@example.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@example.test>\r\nSubject: hi\r\n\r\nbody\r\n.")).CodeAndStatus);

        var id = await server.NextCommittedAsync();
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(id));
        Assert.Contains(" with ESMTPSA id ", stored, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, stored, StringComparison.Ordinal);
        var queued = Assert.Single(await server.QueuedAsync());
        Assert.Equal(Alice, queued.Envelope.AuthenticatedUser);
    }

    [Fact]
    public async Task PlainWithoutInitialResponseGetsAnEmptyChallenge()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var challenge = await client.CommandAsync("AUTH PLAIN");
        Assert.Equal(334, challenge.Code);
        Assert.Equal("", challenge.Lines[0]);
        Assert.Equal("235 2.7.0", (await client.CommandAsync(B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
    }

    [Fact]
    public async Task AnAuthResponseOverItsLimitArrivingInPiecesIs500AndTheSessionGoesOn()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal(334, (await client.CommandAsync("AUTH PLAIN")).Code);

        // RFC 4954 §4: 12288 octets of response; a longer one, its end sent later, is skipped whole.
        await client.SendAsync(Encoding.ASCII.GetBytes(new string('A', 13000)));
        await client.SendAsync(Encoding.ASCII.GetBytes(new string('A', 100) + "\r\n"));

        Assert.Equal("500 5.5.6", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
    }

    [Fact]
    public async Task PlainWithAnotherAuthorizationIdentityFails()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal("535 5.7.8", (await client.CommandAsync("AUTH PLAIN " + B64(SmtpServerFixture.Bob + "\0" + Alice + "\0" + Password))).CodeAndStatus);
        Assert.Equal("235 2.7.0", (await client.CommandAsync("AUTH PLAIN " + B64(Alice + "\0" + Alice + "\0" + Password))).CodeAndStatus);
    }

    [Fact]
    public async Task EmptyInitialResponseIsAnEmptyMessage()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        // RFC 4954 §4: "=" is a zero-length initial response; for PLAIN that is a malformed message.
        Assert.Equal("535 5.7.8", (await client.CommandAsync("AUTH PLAIN =")).CodeAndStatus);
    }

    [Fact]
    public async Task LoginAsksForUserNameAndPassword()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var username = await client.CommandAsync("AUTH LOGIN");
        Assert.Equal(334, username.Code);
        Assert.Equal("Username:", RawSmtpClient.FromBase64(username.Lines[0]));
        var password = await client.CommandAsync(B64(Alice));
        Assert.Equal(334, password.Code);
        Assert.Equal("Password:", RawSmtpClient.FromBase64(password.Lines[0]));
        Assert.Equal("235 2.7.0", (await client.CommandAsync(B64(Password))).CodeAndStatus);
    }

    [Fact]
    public async Task LoginTakesTheUserNameAsInitialResponse()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var password = await client.CommandAsync("AUTH LOGIN " + B64(Alice));
        Assert.Equal("Password:", RawSmtpClient.FromBase64(password.Lines[0]));
        Assert.Equal("535 5.7.8", (await client.CommandAsync(B64("wrong"))).CodeAndStatus);
    }

    [Fact]
    public async Task WrongPasswordAndUnknownUserGetTheSameReply()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var wrong = await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0wrong"));
        var unknown = await client.CommandAsync("AUTH PLAIN " + B64("\0nobody@example.test\0wrong"));
        Assert.Equal("535 5.7.8", wrong.CodeAndStatus);
        Assert.Equal(wrong.ToString(), unknown.ToString());
        Assert.Equal("530 5.7.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
    }

    [Fact]
    public async Task StarCancelsTheExchange()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal(334, (await client.CommandAsync("AUTH LOGIN")).Code);
        Assert.Equal("501 5.0.0", (await client.CommandAsync("*")).CodeAndStatus);
        Assert.Equal("235 2.7.0", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
    }

    [Theory]
    [InlineData("AUTH PLAIN not-base64!")]
    [InlineData("AUTH PLAIN AGFsaWNl=")]
    public async Task UndecodableInitialResponseIs501(string command)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal("501 5.5.2", (await client.CommandAsync(command)).CodeAndStatus);
    }

    [Fact]
    public async Task UndecodableResponseIs501()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal(334, (await client.CommandAsync("AUTH LOGIN")).Code);
        Assert.Equal("501 5.5.2", (await client.CommandAsync("%%%")).CodeAndStatus);
    }

    [Fact]
    public async Task UnknownMechanismIs504()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal("504 5.5.4", (await client.CommandAsync("AUTH CRAM-MD5")).CodeAndStatus);
        Assert.Equal("501 5.5.4", (await client.CommandAsync("AUTH")).CodeAndStatus);
    }

    [Fact]
    public async Task SecondAuthIs503()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal("235 2.7.0", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
        Assert.Equal("503 5.5.1", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
    }

    [Fact]
    public async Task AuthDuringATransactionIs503()
    {
        await using var server = await SmtpServerFixture.StartAsync(SmtpServerFixture.WithAuthOnSmtp);
        await using var client = await server.ConnectUnderTlsAsync();
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<someone@remote.example>")).CodeAndStatus);
        Assert.Equal("503 5.5.1", (await client.CommandAsync("AUTH PLAIN " + B64("\0" + Alice + "\0" + Password))).CodeAndStatus);
    }

    [Theory]
    [InlineData("n,,")]
    [InlineData("y,,")] // RFC 5802 §6: the client supports channel binding but thinks we don't; we don't.
    [InlineData("n,a=alice@example.test,")]
    public async Task ScramSha256Authenticates(string gs2Header)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var scram = new ScramClient(Alice, Password, gs2Header);
        var serverFirst = await client.CommandAsync("AUTH SCRAM-SHA-256 " + B64(scram.ClientFirst));
        Assert.Equal(334, serverFirst.Code);
        var serverFinal = await client.CommandAsync(B64(scram.ClientFinal(RawSmtpClient.FromBase64(serverFirst.Lines[0]))));
        Assert.Equal(334, serverFinal.Code);
        Assert.True(scram.VerifyServerFinal(RawSmtpClient.FromBase64(serverFinal.Lines[0])), "server-final-message v= does not verify");
        Assert.Equal("235 2.7.0", (await client.CommandAsync("")).CodeAndStatus);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<alice@example.test>")).CodeAndStatus);
    }

    [Fact]
    public async Task ScramServerNonceExtendsTheClientNonce()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var scram = new ScramClient(Alice, Password, clientNonce: "fyko+d2lbbFgONRv9qkxdawL");
        Assert.Equal(334, (await client.CommandAsync("AUTH SCRAM-SHA-256")).Code);
        var serverFirst = RawSmtpClient.FromBase64((await client.CommandAsync(B64(scram.ClientFirst))).Lines[0]);
        Assert.Matches("^r=fyko\\+d2lbbFgONRv9qkxdawL[A-Za-z0-9+/=]{16,},s=[A-Za-z0-9+/=]+,i=4096$", serverFirst);
    }

    [Fact]
    public async Task ScramWithWrongPasswordFails()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var scram = new ScramClient(Alice, "wrong");
        var serverFirst = await client.CommandAsync("AUTH SCRAM-SHA-256 " + B64(scram.ClientFirst));
        Assert.Equal("535 5.7.8", (await client.CommandAsync(B64(scram.ClientFinal(RawSmtpClient.FromBase64(serverFirst.Lines[0]))))).CodeAndStatus);
    }

    [Fact]
    public async Task ScramForAnUnknownUserLooksTheSameUntilTheEnd()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var scram = new ScramClient("nobody@example.test", "whatever");
        var serverFirst = await client.CommandAsync("AUTH SCRAM-SHA-256 " + B64(scram.ClientFirst));
        Assert.Equal(334, serverFirst.Code);
        Assert.Matches(",s=[A-Za-z0-9+/=]+,i=100000$", RawSmtpClient.FromBase64(serverFirst.Lines[0]));
        Assert.Equal("535 5.7.8", (await client.CommandAsync(B64(scram.ClientFinal(RawSmtpClient.FromBase64(serverFirst.Lines[0]))))).CodeAndStatus);
    }

    [Fact]
    public async Task ScramWithATamperedNonceFails()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var scram = new ScramClient(Alice, Password);
        var serverFirst = RawSmtpClient.FromBase64((await client.CommandAsync("AUTH SCRAM-SHA-256 " + B64(scram.ClientFirst))).Lines[0]);
        Assert.Equal("535 5.7.8", (await client.CommandAsync(B64(scram.ClientFinal(serverFirst, tamperNonce: "replayed-nonce")))).CodeAndStatus);
    }

    [Theory]
    [InlineData("p=tls-exporter,,")] // channel binding requested: we offer no -PLUS
    [InlineData("n,a=bob@example.test,")] // another authorization identity
    public async Task ScramRefusesWhatItDoesNotSupport(string gs2Header)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        var scram = new ScramClient(Alice, Password, gs2Header);
        Assert.Equal("535 5.7.8", (await client.CommandAsync("AUTH SCRAM-SHA-256 " + B64(scram.ClientFirst))).CodeAndStatus);
    }

    [Fact]
    public async Task ScramMandatoryExtensionFails()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectUnderTlsAsync(SmtpListenerRole.Submission);
        Assert.Equal("535 5.7.8", (await client.CommandAsync("AUTH SCRAM-SHA-256 " + B64("n,,m=ext,n=alice@example.test,r=abc"))).CodeAndStatus);
    }

    [Fact]
    public async Task MailKitAuthenticatesWithScramSha256()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        using var client = new MailKit.Net.Smtp.SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        using var timeout = new CancellationTokenSource(SmtpServerFixture.WaitLimit);
        await client.ConnectAsync("127.0.0.1", server.Port(SmtpListenerRole.Submission), MailKit.Security.SecureSocketOptions.StartTls, timeout.Token);
        Assert.Contains("SCRAM-SHA-256", client.AuthenticationMechanisms);
        client.AuthenticationMechanisms.Remove("PLAIN");
        client.AuthenticationMechanisms.Remove("LOGIN");
        await client.AuthenticateAsync(new MailKit.Security.SaslMechanismScramSha256(Alice, Password), timeout.Token);
        Assert.True(client.IsAuthenticated);

        var message = new MimeKit.MimeMessage();
        message.From.Add(MimeKit.MailboxAddress.Parse(Alice));
        message.To.Add(MimeKit.MailboxAddress.Parse("someone@remote.example"));
        message.Subject = "relayed after AUTH";
        message.Body = new MimeKit.TextPart("plain") { Text = "hello" };
        await client.SendAsync(message, timeout.Token);
        await client.DisconnectAsync(quit: true, timeout.Token);
        Assert.Equal("someone@remote.example", Assert.Single(Assert.Single(await server.QueuedAsync()).Envelope.Recipients).Address);
    }

    [Fact]
    public async Task MailKitWrongPasswordIsRefused()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        using var client = new MailKit.Net.Smtp.SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        using var timeout = new CancellationTokenSource(SmtpServerFixture.WaitLimit);
        await client.ConnectAsync("127.0.0.1", server.Port(SmtpListenerRole.Submissions), MailKit.Security.SecureSocketOptions.SslOnConnect, timeout.Token);
        var error = await Assert.ThrowsAsync<MailKit.Security.AuthenticationException>(
            () => client.AuthenticateAsync(new MailKit.Security.SaslMechanismScramSha256(Alice, "wrong"), timeout.Token));
        Assert.NotNull(error);
    }
}

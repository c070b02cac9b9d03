using System.Globalization;
using MailKit.Net.Smtp;
using MailKit.Security;
using Mailroom.IntegrationTests.Infrastructure;
using MimeKit;

namespace Mailroom.IntegrationTests;

/// <summary>
/// SMTP AUTH against the real executable: swaks (PLAIN, LOGIN, wrong password, no TLS, sender
/// check), Python's smtplib login() over STARTTLS, MailKit with SCRAM-SHA-256, and the brute-force lockout.
/// </summary>
public sealed class SubmissionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Alice = ServerFixture.Alice;

    // What MailroomProcess.AddUserAsync sets.
    private const string Password = "correct horse battery staple";

    private MailroomProcess Server => fixture.Server;

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static Task<ProcessResult> SwaksAsync(int port, params string[] options) =>
        ProcessRunner.RunAsync("swaks", [
            "--server", $"127.0.0.1:{port}",
            "--to", Alice,
            "--helo", "client.sender.test",
            "--timeout", "20",
            .. options,
        ]);

    [Theory]
    [InlineData("PLAIN", "-tls", false)]
    [InlineData("LOGIN", "-tls", false)]
    [InlineData("PLAIN", "--tlsc", true)]
    [InlineData("LOGIN", "--tlsc", true)]
    public async Task SwaksAuthenticatesAndDelivers(string mechanism, string tls, bool implicitTls)
    {
        var port = implicitTls ? Server.SubmissionsPort : Server.SubmissionPort;
        var result = await SwaksAsync(port, tls, "--from", Alice, "--auth", mechanism, "--auth-user", Alice, "--auth-password", Password);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("235 2.7.0", result.StandardOutput, StringComparison.Ordinal);
        var queueId = QueuedReply.QueueId(result.StandardOutput, result.ToString());
        var text = await File.ReadAllTextAsync(await Server.WaitForMaildirFileAsync(queueId, Alice));
        Assert.Contains($"by mx.example.test (Mailroom) with ESMTPSA id {queueId}", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
        await Server.Log.WaitForAsync(
            line => line.Contains($"AUTH {mechanism} succeeded, sasl_username={Alice}", StringComparison.Ordinal) && line.Contains("[127.0.0.1]", StringComparison.Ordinal),
            "the AUTH success log line");
    }

    [Fact]
    public async Task SwaksWrongPasswordGets535AndIsLoggedWithoutThePassword()
    {
        var result = await SwaksAsync(Server.SubmissionPort, "-tls", "--from", Alice, "--auth", "PLAIN", "--auth-user", Alice, "--auth-password", "Tr0ub4dor&3-wrong");

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("535 5.7.8", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("queued as", result.StandardOutput, StringComparison.Ordinal);
        var line = await Server.Log.WaitForAsync(
            line => line.Contains("AUTH PLAIN failed", StringComparison.Ordinal) && line.Contains("[127.0.0.1]", StringComparison.Ordinal),
            "the AUTH failure log line");
        Assert.Contains("sasl_username=" + Alice, line, StringComparison.Ordinal);
        Assert.DoesNotContain("Tr0ub4dor", Server.Log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SwaksWithoutTlsGets530()
    {
        var result = await SwaksAsync(Server.SubmissionPort, "--from", Alice);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("530 5.7.0 Must issue a STARTTLS command first", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("250-AUTH", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SwaksWithTlsButNoAuthGets530AuthenticationRequired()
    {
        var result = await SwaksAsync(Server.SubmissionPort, "-tls", "--from", Alice);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("530 5.7.0 Authentication required", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SwaksSenderOfAnotherAddressGets553()
    {
        var result = await SwaksAsync(Server.SubmissionPort, "-tls", "--from", "bob@example.test", "--auth", "PLAIN", "--auth-user", Alice, "--auth-password", Password);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("553 5.7.1 Sender address rejected: not owned by user", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SwaksFromHeaderOfAnotherAddressGets553AfterTheDot()
    {
        var result = await SwaksAsync(Server.SubmissionPort, "-tls", "--from", Alice, "--header", "From: Mallory <mallory@example.test>",
            "--auth", "PLAIN", "--auth-user", Alice, "--auth-password", Password);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("553 5.7.1", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("queued as", result.StandardOutput, StringComparison.Ordinal);
    }

    private const string PythonClient = """
        import smtplib, ssl, sys
        port, password = int(sys.argv[1]), sys.argv[2]
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        message = b"From: alice@example.test\r\nTo: alice@example.test\r\nSubject: smtplib login\r\n\r\nSent after login().\r\n"
        with smtplib.SMTP("127.0.0.1", port, local_hostname="python.sender.test", timeout=20) as smtp:
            smtp.ehlo()
            assert not smtp.has_extn("auth"), "AUTH offered before STARTTLS"
            smtp.starttls(context=context)
            smtp.ehlo()
            assert smtp.has_extn("auth"), "AUTH not offered after STARTTLS"
            try:
                code, reply = smtp.login("alice@example.test", password)
            except smtplib.SMTPAuthenticationError as error:
                print("AUTH", error.smtp_code, error.smtp_error.decode())
                sys.exit(4)
            print("AUTH", code, reply.decode())
            code, reply = smtp.mail("alice@example.test")
            assert code == 250, (code, reply)
            code, reply = smtp.rcpt("alice@example.test")
            assert code == 250, (code, reply)
            code, reply = smtp.data(message)
            print("DATA", code, reply.decode())
            sys.exit(0 if code == 250 else 3)
        """;

    [Fact]
    public async Task PythonSmtplibLogsInOverStartTls()
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/python3", ["-c", PythonClient, Text(Server.SubmissionPort), Password]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("AUTH 235 2.7.0", result.StandardOutput, StringComparison.Ordinal);
        var file = await Server.WaitForMaildirFileAsync(QueuedReply.QueueId(result.StandardOutput, result.ToString()), Alice);
        var text = await File.ReadAllTextAsync(file);
        Assert.Contains(" with ESMTPSA id ", text, StringComparison.Ordinal);

        // Python's smtplib sends no Date or Message-ID: the server added them (RFC 6409 §8).
        Assert.NotNull(MaildirMessage.Header(file, "Date"));
        Assert.EndsWith("@mx.example.test>", MaildirMessage.Header(file, "Message-ID"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PythonSmtplibWrongPasswordIs535()
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/python3", ["-c", PythonClient, Text(Server.SubmissionPort), "wrong"]);

        Assert.True(result.ExitCode == 4, result.ToString());
        Assert.Contains("AUTH 535 5.7.8", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MailKitWithScramSha256()
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Alice", Alice));
        message.To.Add(new MailboxAddress("Alice", Alice));
        message.Subject = "SCRAM-SHA-256 through MailKit";
        message.Body = new TextPart("plain") { Text = "Authenticated with SCRAM." };

        string response;
        using (var client = new SmtpClient())
        {
            client.ServerCertificateValidationCallback = (_, _, _, _) => true;
            client.Timeout = 20_000;
            using var cancellation = new CancellationTokenSource(MailroomProcess.WaitTimeout);
            await client.ConnectAsync("127.0.0.1", Server.SubmissionPort, SecureSocketOptions.StartTls, cancellation.Token);
            Assert.Contains("SCRAM-SHA-256", client.AuthenticationMechanisms);

            // Force SCRAM: MailKit would otherwise pick whatever it prefers.
            client.AuthenticationMechanisms.Remove("PLAIN");
            client.AuthenticationMechanisms.Remove("LOGIN");
            await client.AuthenticateAsync(Alice, Password, cancellation.Token);
            response = await client.SendAsync(message, cancellation.Token);
            await client.DisconnectAsync(quit: true, cancellation.Token);
        }

        var queueId = QueuedReply.QueueId(response, response);
        await Server.Log.WaitForAsync(line => line.Contains($"AUTH SCRAM-SHA-256 succeeded, sasl_username={Alice}", StringComparison.Ordinal), "the SCRAM success log line");
        var text = await File.ReadAllTextAsync(await Server.WaitForMaildirFileAsync(queueId, Alice));
        Assert.Contains($"with ESMTPSA id {queueId}", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RepeatedFailuresLockTheClientOut()
    {
        // A server of its own, so that the lockout does not touch the other tests' client address.
        await using var server = await MailroomProcess.StartAsync("""
            [auth]
            failures_before_delay = 2
            failure_delay = 1
            failures_before_lockout = 3
            lockout = 600
            """, Alice);

        for (var i = 0; i < 3; i++)
        {
            var wrong = await ProcessRunner.RunAsync("swaks", [
                "--server", $"127.0.0.1:{server.SubmissionsPort}", "--tlsc", "--to", Alice, "--from", Alice, "--timeout", "20",
                "--auth", "PLAIN", "--auth-user", Alice, "--auth-password", "guess" + i]);
            Assert.Contains("535 5.7.8", wrong.StandardOutput, StringComparison.Ordinal);
        }

        var right = await ProcessRunner.RunAsync("swaks", [
            "--server", $"127.0.0.1:{server.SubmissionsPort}", "--tlsc", "--to", Alice, "--from", Alice, "--timeout", "20",
            "--auth", "PLAIN", "--auth-user", Alice, "--auth-password", Password]);
        Assert.True(right.ExitCode != 0, right.ToString());
        Assert.Contains("454 4.7.0", right.StandardOutput, StringComparison.Ordinal);
        await server.Log.WaitForAsync(line => line.Contains("too many failed authentications, locked out for 600s", StringComparison.Ordinal), "the lockout log line");
        await server.Log.WaitForAsync(line => line.Contains("AUTH delayed 1s", StringComparison.Ordinal), "the delay log line");
    }
}

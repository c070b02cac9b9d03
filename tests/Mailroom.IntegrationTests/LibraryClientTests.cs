using System.Text;
using System.Text.RegularExpressions;
using MailKit.Net.Smtp;
using MailKit.Security;
using Mailroom.IntegrationTests.Infrastructure;
using MimeKit;
using MimeKit.Text;

namespace Mailroom.IntegrationTests;

/// <summary>Client libraries as the peer: Python's smtplib (Debian's /usr/bin/python3) and MailKit.</summary>
public sealed partial class LibraryClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Alice = ServerFixture.Alice;

    private const string PythonClient = """
        import smtplib, ssl, sys
        port = int(sys.argv[1])
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        message = (b"From: py@sender.test\r\nTo: alice@example.test\r\nSubject: from smtplib\r\n"
                   b"Message-ID: <smtplib-1@sender.test>\r\n\r\nHello from Python's smtplib.\r\n.leading dot survives\r\n")
        with smtplib.SMTP("127.0.0.1", port, local_hostname="python.sender.test", timeout=20) as smtp:
            code, _ = smtp.ehlo()
            assert code == 250, code
            assert smtp.has_extn("starttls"), "no STARTTLS offered"
            code, reply = smtp.starttls(context=context)
            assert code == 220, (code, reply)
            code, _ = smtp.ehlo()
            assert code == 250, code
            code, reply = smtp.mail("py@sender.test")
            assert code == 250, (code, reply)
            code, reply = smtp.rcpt("alice@example.test")
            assert code == 250, (code, reply)
            code, reply = smtp.data(message)
            print("DATA", code, reply.decode())
            sys.exit(0 if code == 250 else 3)
        """;

    private MailroomProcess Server => fixture.Server;

    [Fact]
    public async Task PythonSmtplibWithStartTls()
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/python3", ["-c", PythonClient, Server.SmtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var file = await Server.WaitForMaildirFileAsync(QueuedReply.QueueId(result.StandardOutput, result.ToString()), Alice);
        var text = await File.ReadAllTextAsync(file);
        Assert.StartsWith("Return-Path: <py@sender.test>\r\nDelivered-To: alice@example.test\r\nReceived: from python.sender.test ([127.0.0.1])\r\n\t(using TLSv1.", text, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nHello from Python's smtplib.\r\n.leading dot survives\r\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)] // BDAT (CHUNKING)
    [InlineData(false)] // DATA with BODY=8BITMIME, MailKit's default
    public async Task MailKitWithAnEightBitBody(bool preferBdat)
    {
        const string body = "Grüße aus Köln – ½ € für ☕.\r\nZweite Zeile: ÆØÅ æøå.\r\n";
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Bob", "bob@sender.test"));
        message.To.Add(new MailboxAddress("Alice", Alice));
        message.Subject = "8-bit body through MailKit";
        message.MessageId = $"mailkit-{preferBdat}@sender.test";
        message.Body = new TextPart(TextFormat.Plain)
        {
            Content = new MimeContent(new MemoryStream(Encoding.UTF8.GetBytes(body))),
            ContentTransferEncoding = ContentEncoding.EightBit,
        };
        message.Body.ContentType.Charset = "utf-8";

        string response;
        using (var client = preferBdat ? new ChunkingSmtpClient() : new SmtpClient())
        {
            client.ServerCertificateValidationCallback = (_, _, _, _) => true;
            client.LocalDomain = "mailkit.sender.test";
            client.Timeout = 20_000;
            using var cancellation = new CancellationTokenSource(MailroomProcess.WaitTimeout);
            await client.ConnectAsync("127.0.0.1", Server.SmtpPort, SecureSocketOptions.StartTls, cancellation.Token);
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.Chunking), "CHUNKING not offered");
            Assert.True(client.Capabilities.HasFlag(SmtpCapabilities.EightBitMime), "8BITMIME not offered");
            response = await client.SendAsync(message, cancellation.Token);
            await client.DisconnectAsync(quit: true, cancellation.Token);
        }

        var queueId = QueuedReply.QueueId(response, response);

        // The server log: the message was queued, and the session used BDAT or DATA as asked.
        var queuedLine = await Server.Log.WaitForAsync(line => line.Contains($"{queueId}: client=", StringComparison.Ordinal), $"\"{queueId}: client=...(queued)\"");
        var peer = ClientOf().Match(queuedLine).Groups["client"].Value;
        var disconnect = await Server.Log.WaitForAsync(line => line.Contains($"disconnect from {peer} ", StringComparison.Ordinal), $"\"disconnect from {peer}\"");
        Assert.Matches(preferBdat ? @" bdat=[1-9]" : @" data=1", disconnect);
        Assert.DoesNotMatch(preferBdat ? @" data=" : @" bdat=", disconnect);

        var file = await Server.WaitForMaildirFileAsync(queueId, Alice);
        var bytes = await File.ReadAllBytesAsync(file);
        var expected = Encoding.UTF8.GetBytes(body);
        Assert.True(bytes.AsSpan().IndexOf(expected) >= 0, $"the 8-bit body is not in {file}:\n{Encoding.UTF8.GetString(bytes)}");
        Assert.Equal($"<mailkit-{preferBdat}@sender.test>", MaildirMessage.Header(file, "Message-ID"));
    }

    /// <summary>
    /// MailKit sends with BDAT only when a part is binary (which needs BINARYMIME, not offered) or when
    /// PreferSendAsBinaryData says so; with CHUNKING alone it uses DATA. This client prefers BDAT.
    /// </summary>
    private sealed class ChunkingSmtpClient : SmtpClient
    {
        protected override bool PreferSendAsBinaryData => true;
    }


    [GeneratedRegex(@"client=(?<client>\S+),")]
    private static partial Regex ClientOf();
}

using System.Text;
using System.Text.RegularExpressions;
using Mailroom.IntegrationTests.Infrastructure;

namespace Mailroom.IntegrationTests;

/// <summary>What lands in the Maildir, byte for byte, and which recipients are accepted when.</summary>
public sealed partial class MaildirContentTests
{
    private const string Alice = ServerFixture.Alice;

    [Fact]
    public async Task TheMaildirFileIsTheTraceHeadersPlusTheUnstuffedMessage()
    {
        await using var server = await MailroomProcess.StartAsync("", Alice);
        var longHeader = "X-Long: " + string.Concat(Enumerable.Range(0, 105).Select(i => $"word{i:D4} ")).TrimEnd();
        Assert.InRange(longHeader.Length + 2, 900, 1000); // long, but within RFC 5321's 1000-octet text line
        var message = Encoding.UTF8.GetBytes(
            "From: Sender <sender@sender.test>\r\n"
            + "To: alice@example.test\r\n"
            + "Subject: byte exact\r\n"
            + "Message-ID: <exact-1@sender.test>\r\n"
            + longHeader + "\r\n"
            + "X-Folded: first part\r\n\tsecond part\r\n"
            + "MIME-Version: 1.0\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Content-Transfer-Encoding: 8bit\r\n"
            + "\r\n"
            + "Grüße aus Köln, ½ € — ☕\r\n"
            + ".a line that starts with a dot\r\n"
            + "..\r\n"
            + "\r\n"
            + "trailing spaces   \r\n"
            + "last line\r\n");

        await using var client = await RawSmtpClient.ConnectAsync(server.SmtpPort);
        var ehlo = await client.CommandAsync("EHLO client.sender.test", 250);
        Assert.Contains("8BITMIME", ehlo.Lines);
        var reply = await client.SendMessageAsync("sender@sender.test", Alice, [.. DotStuff(message), .. ".\r\n"u8.ToArray()], " BODY=8BITMIME");
        await client.CommandAsync("QUIT", 221);

        var queueId = QueuedReply.QueueId(reply.Text, client.Transcript.ToString());
        var file = await server.WaitForMaildirFileAsync(queueId, Alice);
        var bytes = await File.ReadAllBytesAsync(file);

        var prefix = "Return-Path: <sender@sender.test>\r\nDelivered-To: alice@example.test\r\n"u8.ToArray();
        Assert.True(bytes.AsSpan().StartsWith(prefix), Encoding.UTF8.GetString(bytes));
        // Latin-1 maps each byte to one char, so character offsets are byte offsets.
        var rest = Encoding.Latin1.GetString(bytes, prefix.Length, bytes.Length - prefix.Length);
        var received = ReceivedHeader().Match(rest);
        Assert.True(received.Success && received.Index == 0, "no Received header in the expected layout:\n" + Encoding.UTF8.GetString(bytes));
        Assert.Equal(queueId, received.Groups["id"].Value);
        Assert.Equal(Encoding.UTF8.GetString(message), Encoding.UTF8.GetString(bytes, prefix.Length + received.Length, bytes.Length - prefix.Length - received.Length));
        Assert.Equal(message, bytes[(prefix.Length + received.Length)..]);
    }

    [Fact]
    public async Task ATextLineOverTheLimitIsRefused()
    {
        await using var server = await MailroomProcess.StartAsync("", Alice);
        await using var client = await RawSmtpClient.ConnectAsync(server.SmtpPort);
        await client.CommandAsync("EHLO client.sender.test", 250);

        var reply = await client.SendMessageAsync("sender@sender.test", Alice, Encoding.ASCII.GetBytes("Subject: long\r\n\r\n" + new string('x', 1200) + "\r\n.\r\n"));

        Assert.True(reply.Code == 500, client.Transcript.ToString()); // SmtpReplies.TextLineTooLong
        Assert.Empty(server.MaildirFiles(Alice));
    }

    [Fact]
    public async Task AUserAddedWhileTheServerRunsIsAcceptedWithoutARestart()
    {
        const string carol = "carol@example.test";
        await using var server = await MailroomProcess.StartAsync("", Alice);
        await using (var before = await RawSmtpClient.ConnectAsync(server.SmtpPort))
        {
            await before.CommandAsync("EHLO client.sender.test", 250);
            await before.CommandAsync("MAIL FROM:<bob@sender.test>", 250);
            var refused = await before.CommandAsync($"RCPT TO:<{carol}>");
            Assert.True(refused.Code == 550 && refused.Text.StartsWith("5.1.1", StringComparison.Ordinal), before.Transcript.ToString());
        }

        await server.AddUserAsync(carol);

        // The server re-reads the users file at most once a second (UserStore.RecheckInterval): poll, bounded.
        SmtpResponse? accepted = null;
        var transcript = new StringBuilder();
        for (var attempt = 0; attempt < 50 && accepted?.Code != 250; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }

            await using var client = await RawSmtpClient.ConnectAsync(server.SmtpPort);
            await client.CommandAsync("EHLO client.sender.test", 250);
            await client.CommandAsync("MAIL FROM:<bob@sender.test>", 250);
            accepted = await client.CommandAsync($"RCPT TO:<{carol}>");
            if (accepted.Code == 250)
            {
                await client.CommandAsync("DATA", 354);
                await client.SendAsync("Subject: hello carol\r\n\r\nWelcome.\r\n.\r\n");
                var queued = await client.ExpectAsync(250);
                await server.WaitForMaildirFileAsync(QueuedReply.QueueId(queued.Text, client.Transcript.ToString()), carol);
            }

            transcript.Append(client.Transcript);
        }

        Assert.True(accepted?.Code == 250, $"carol was never accepted\n{transcript}\n--- mailroom log ---\n{server.Log}");
        Assert.Single(server.MaildirFiles(carol));
    }

    /// <summary>RFC 5321 §4.5.2: a line that starts with "." gets one more.</summary>
    private static byte[] DotStuff(byte[] message)
    {
        var output = new List<byte>(message.Length + 16);
        var lineStart = true;
        foreach (var b in message)
        {
            if (lineStart && b == (byte)'.')
            {
                output.Add((byte)'.');
            }

            output.Add(b);
            lineStart = b == (byte)'\n';
        }

        return [.. output];
    }


    // Postfix's layout (src/Mailroom.Server/Smtp/ReceivedHeader.cs), no TLS, one recipient.
    [GeneratedRegex(@"\AReceived: from client\.sender\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.test \(Mailroom\) with ESMTP id (?<id>[0-9A-Z]+)\r\n\tfor <alice@example\.test>; (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\r\n")]
    private static partial Regex ReceivedHeader();
}

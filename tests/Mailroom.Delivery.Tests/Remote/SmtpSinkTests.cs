using System.Text;
using Mailroom.Delivery.Remote;
using Mailroom.Delivery.Tests.Fakes;
using Mailroom.Queue;

using Mailroom.Tests.Shared;

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>The client against a real server: Postfix's smtp-sink on 127.0.0.1.</summary>
public sealed class SmtpSinkTests
{
    private static readonly SmtpClientOptions Options = new() { HeloName = "client.test" };

    private static async Task<TransactionResult> SendAsync(SmtpSink sink, OutboundMessage message, Action<SmtpClientSession>? inspect = null)
    {
        var connect = await SmtpClientSession.ConnectAsync(sink.EndPoint, "localhost", Options, TimeProvider.System, new LogCapture().CreateLogger("smtp"), CancellationToken.None);
        Assert.True(connect.Connected, connect.Failure?.ToString());
        await using var session = connect.Session;
        inspect?.Invoke(session);
        return await session.SendAsync(message, CancellationToken.None);
    }

    private static OutboundMessage DsnMessage(string content, BodyType body = BodyType.SevenBit) =>
        SmtpClientSessionTests.Message(content, "a@example.org", "b@example.org") with
        {
            Body = body,
            EnvelopeId = "id+1=x",
            Return = DsnReturn.Headers,
            Recipients =
            [
                new OutboundRecipient("a@example.org", DsnNotify.Success | DsnNotify.Failure, "rfc822;Alias+1@example.org"),
                new OutboundRecipient("b@example.org"),
            ],
        };

    [Fact]
    public async Task DeliversDotStuffedDataWithDsnParametersToADsnPeer()
    {
        await using var sink = await SmtpSink.StartAsync();
        var content = "Subject: dots\r\n\r\n.leading dot\r\nbare\nline\r\n..two\r\n";

        var result = await SendAsync(sink, DsnMessage(content), s => Assert.True(s.Capabilities.Pipelining && s.Capabilities.Dsn));

        Assert.All(result.Recipients, r => Assert.Equal(DeliveryOutcome.Delivered, r.Outcome));
        var dump = Assert.Single(sink.Dumps());
        Assert.Contains("X-Mail-Args: <sender@example.com> RET=HDRS ENVID=id+2B1+3Dx\n", dump, StringComparison.Ordinal);
        Assert.Contains("X-Rcpt-Args: <a@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Alias+2B1@example.org\n", dump, StringComparison.Ordinal);
        Assert.Contains("X-Rcpt-Args: <b@example.org>\n", dump, StringComparison.Ordinal);
        Assert.EndsWith("Subject: dots\n\n.leading dot\nbare\nline\n..two\n\n", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendsNoDsnParametersToAPeerWithoutDsn()
    {
        await using var sink = await SmtpSink.StartAsync("-N");

        var result = await SendAsync(sink, DsnMessage("Subject: x\r\n\r\nbody\r\n"), s => Assert.False(s.Capabilities.Dsn));

        Assert.All(result.Recipients, r => Assert.Equal(DeliveryOutcome.Delivered, r.Outcome));
        var dump = Assert.Single(sink.Dumps());
        Assert.Contains("X-Mail-Args: <sender@example.com>\n", dump, StringComparison.Ordinal);
        Assert.Contains("X-Rcpt-Args: <a@example.org>\n", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendsEightBitAsIsWithBody8BitMime()
    {
        await using var sink = await SmtpSink.StartAsync();

        await SendAsync(sink, DsnMessage(EightBitMessage, BodyType.EightBitMime));

        var dump = Assert.Single(sink.Dumps());
        Assert.Contains("X-Mail-Args: <sender@example.com> BODY=8BITMIME", dump, StringComparison.Ordinal);
        Assert.Contains("Grüße aus Köln", dump, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConvertsEightBitToSevenBitForAPeerWithout8BitMime()
    {
        await using var sink = await SmtpSink.StartAsync("-8");

        var result = await SendAsync(sink, DsnMessage(EightBitMessage, BodyType.EightBitMime), s => Assert.False(s.Capabilities.EightBitMime));

        Assert.All(result.Recipients, r => Assert.Equal(DeliveryOutcome.Delivered, r.Outcome));
        var path = Directory.EnumerateFiles(sink.DumpDirectory, "*", SearchOption.AllDirectories).Single();
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.All(bytes, b => Assert.True(b < 0x80));
        var dump = Encoding.ASCII.GetString(bytes);
        Assert.DoesNotContain("BODY=", dump, StringComparison.Ordinal);
        Assert.Matches("(?im)^Content-Transfer-Encoding: (base64|quoted-printable)$", dump);
        var arrived = await MimeKit.MimeMessage.LoadAsync(new MemoryStream(bytes), CancellationToken.None);
        Assert.Equal("Grüße aus Köln", arrived.TextBody?.TrimEnd());
    }

    [Fact]
    public async Task FallsBackToHeloWhenEhloIsRefused()
    {
        await using var sink = await SmtpSink.StartAsync("-e");

        var result = await SendAsync(sink, DsnMessage("Subject: x\r\n\r\nbody\r\n"), s => Assert.False(s.Capabilities.Extended));

        Assert.All(result.Recipients, r => Assert.Equal(DeliveryOutcome.Delivered, r.Outcome));
        var dump = Assert.Single(sink.Dumps());
        Assert.Contains("X-Client-Proto: SMTP\n", dump, StringComparison.Ordinal);
        Assert.Contains("X-Mail-Args: <sender@example.com>\n", dump, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-r", DeliveryOutcome.Deferred)]
    [InlineData("-f", DeliveryOutcome.Failed)]
    public async Task RefusedRecipientsGetTheirReplyAndNoDataIsSent(string option, DeliveryOutcome outcome)
    {
        await using var sink = await SmtpSink.StartAsync(option, "RCPT");

        var result = await SendAsync(sink, DsnMessage("Subject: x\r\n\r\nbody\r\n"));

        Assert.All(result.Recipients, r =>
        {
            Assert.Equal(outcome, r.Outcome);
            Assert.False(r.Accepted);
            Assert.False(r.Reply.IsLocal);
            Assert.StartsWith("smtp; ", r.Reply.DiagnosticCode, StringComparison.Ordinal);
        });
        Assert.Null(result.DataReply);
        Assert.Empty(sink.Dumps());
    }

    [Fact]
    public async Task ADisconnectAfterTheDotDefersEveryRecipient()
    {
        await using var sink = await SmtpSink.StartAsync("-q", ".");

        var result = await SendAsync(sink, DsnMessage("Subject: x\r\n\r\nbody\r\n"));

        Assert.All(result.Recipients, r =>
        {
            Assert.Equal(DeliveryOutcome.Deferred, r.Outcome);
            Assert.Equal("connection lost", r.Text);
        });
    }

    private const string EightBitMessage = "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n" +
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n";
}

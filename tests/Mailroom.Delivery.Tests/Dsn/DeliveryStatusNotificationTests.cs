using System.Text;
using Mailroom.Delivery.Dsn;
using Mailroom.Queue;
using MimeKit;

namespace Mailroom.Delivery.Tests.Dsn;

public sealed class DeliveryStatusNotificationTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Original = Encoding.ASCII.GetBytes("Received: from x\r\nFrom: bob@sender.test\r\nSubject: hello\r\nMessage-ID: <m1@sender.test>\r\n\r\nthe body\r\n");

    private static Envelope Envelope(string sender = "bob@sender.test", DsnReturn ret = DsnReturn.Unspecified, bool utf8 = false) => new()
    {
        ReversePath = sender,
        Recipients = [new EnvelopeRecipient { Address = "carol@far.test", OriginalRecipient = "rfc822;carol@far.test" }],
        ArrivalTime = Now.AddHours(-1),
        Return = ret,
        SmtpUtf8 = utf8,
        EnvelopeId = "ENV-1",
        ClientAddress = "192.0.2.1",
        HeloName = "client.sender.test",
    };

    private static DsnRequest Request(Envelope envelope, DsnAction action, byte[]? original = null)
    {
        var bytes = original ?? Original;
        var recipient = new DsnRecipient(envelope.Recipients[0], action, action == DsnAction.Failed ? "5.1.1" : "4.4.1", "mx.far.test", "smtp; 550 5.1.1 <carol@far.test>: user unknown", Now);
        return new DsnRequest("mx.example.test", new QueueId("1J1EKI55PIP0000"), envelope, [recipient], Now, action == DsnAction.Delayed ? Now.AddDays(4) : null, bytes.Length, () => new MemoryStream(bytes));
    }

    private static MimeMessage RoundTrip(MimeMessage report)
    {
        var buffer = new MemoryStream();
        DeliveryStatusNotification.WriteTo(report, buffer);
        var wire = buffer.ToArray();
        Assert.DoesNotContain((byte)'\n', wire.Where((b, i) => b == (byte)'\n' && (i == 0 || wire[i - 1] != (byte)'\r')));
        buffer.Position = 0;
        return MimeMessage.Load(buffer);
    }

    private static string StatusText(MimeMessage report)
    {
        var part = (MimePart)((Multipart)report.Body!)[1];
        using var stream = new MemoryStream();
        part.Content!.DecodeTo(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public void AFailureReportHasTheThreeRfc3464Parts()
    {
        var report = RoundTrip(DeliveryStatusNotification.Compose(Request(Envelope(), DsnAction.Failed))!);

        Assert.Equal("bob@sender.test", report.To.Mailboxes.Single().Address);
        Assert.Equal("MAILER-DAEMON@mx.example.test", report.From.Mailboxes.Single().Address);
        Assert.Equal("Undelivered Mail Returned to Sender", report.Subject);
        Assert.Equal("auto-replied", report.Headers["Auto-Submitted"]);
        var body = Assert.IsType<MultipartReport>(report.Body!);
        Assert.Equal("delivery-status", body.ReportType);
        Assert.Equal(3, body.Count);
        Assert.Equal("text/plain", body[0].ContentType.MimeType);
        Assert.Equal("message/delivery-status", body[1].ContentType.MimeType);
        Assert.Equal("message/rfc822", body[2].ContentType.MimeType);

        var status = StatusText(report);
        Assert.Contains("Reporting-MTA: dns; mx.example.test\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Original-Envelope-Id: ENV-1\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Final-Recipient: rfc822; carol@far.test\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Original-Recipient: rfc822;carol@far.test\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Action: failed\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Status: 5.1.1\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Remote-MTA: dns; mx.far.test\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Diagnostic-Code: smtp; 550 5.1.1 <carol@far.test>: user unknown\r\n", status, StringComparison.Ordinal);

        var returned = Assert.IsType<MessagePart>(body[2]);
        Assert.Equal("hello", returned.Message!.Subject);
    }

    [Fact]
    public void RetHdrsReturnsOnlyTheHeaders()
    {
        var report = RoundTrip(DeliveryStatusNotification.Compose(Request(Envelope(ret: DsnReturn.Headers), DsnAction.Failed))!);
        var part = Assert.IsType<TextRfc822Headers>(((Multipart)report.Body!)[2]);
        var buffer = new MemoryStream();
        part.Message!.WriteTo(buffer);
        var text = Encoding.ASCII.GetString(buffer.ToArray());

        Assert.Equal("text/rfc822-headers", part.ContentType.MimeType);
        Assert.Contains("Subject: hello", text, StringComparison.Ordinal);
        Assert.DoesNotContain("the body", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ALargeOriginalComesBackAsHeadersOnly()
    {
        var large = Original.Concat(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("x\r\n", 30_000)))).ToArray();
        var report = RoundTrip(DeliveryStatusNotification.Compose(Request(Envelope(), DsnAction.Failed, large))!);

        Assert.Equal("text/rfc822-headers", ((Multipart)report.Body!)[2].ContentType.MimeType);
    }

    [Fact]
    public void ADelayReportSaysUntilWhenItRetries()
    {
        var report = RoundTrip(DeliveryStatusNotification.Compose(Request(Envelope(), DsnAction.Delayed))!);
        var status = StatusText(report);

        Assert.Equal("Delayed Mail (still being retried)", report.Subject);
        Assert.Contains("Action: delayed\r\n", status, StringComparison.Ordinal);
        Assert.Contains("Will-Retry-Until: ", status, StringComparison.Ordinal);
    }

    [Fact]
    public void SmtpUtf8MailGetsGlobalReportTypes()
    {
        var report = RoundTrip(DeliveryStatusNotification.Compose(Request(Envelope(utf8: true), DsnAction.Failed))!);
        var body = (Multipart)report.Body!;

        Assert.Equal("message/global-delivery-status", body[1].ContentType.MimeType);
        Assert.Equal("message/global", body[2].ContentType.MimeType);
    }

    [Fact]
    public void NoReportGoesToTheNullSender()
    {
        Assert.Null(DeliveryStatusNotification.Compose(Request(Envelope(sender: ""), DsnAction.Failed)));
    }

    [Theory]
    [InlineData(DsnNotify.None, DsnAction.Failed, true)]
    [InlineData(DsnNotify.None, DsnAction.Delayed, true)]
    [InlineData(DsnNotify.None, DsnAction.Delivered, false)]
    [InlineData(DsnNotify.Never, DsnAction.Failed, false)]
    [InlineData(DsnNotify.Never, DsnAction.Delayed, false)]
    [InlineData(DsnNotify.Success, DsnAction.Failed, false)]
    [InlineData(DsnNotify.Success, DsnAction.Delivered, true)]
    [InlineData(DsnNotify.Success, DsnAction.Relayed, true)]
    [InlineData(DsnNotify.Failure, DsnAction.Failed, true)]
    [InlineData(DsnNotify.Failure, DsnAction.Delayed, false)]
    [InlineData(DsnNotify.Delay, DsnAction.Delayed, true)]
    [InlineData(DsnNotify.Failure | DsnNotify.Delay, DsnAction.Delayed, true)]
    public void NotifyDecidesWhichReportsAreWanted(DsnNotify notify, DsnAction action, bool wanted)
    {
        var recipient = new EnvelopeRecipient { Address = "a@b.test", Notify = notify };

        Assert.Equal(wanted, DeliveryStatusNotification.Wants(recipient, action));
    }
}

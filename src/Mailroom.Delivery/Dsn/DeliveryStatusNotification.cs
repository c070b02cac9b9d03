using System.Text;
using Mailroom.Queue;
using MimeKit;
using MimeKit.Utils;

namespace Mailroom.Delivery.Dsn;

/// <summary>RFC 3464 §2.3.3 Action values Mailroom reports.</summary>
public enum DsnAction
{
    Failed,
    Delayed,
    Delivered,
    Relayed,
}

/// <summary>What happened to one recipient, for its per-recipient fields of the report.</summary>
public sealed record DsnRecipient(
    EnvelopeRecipient Recipient,
    DsnAction Action,
    string Status,
    string? RemoteMta,
    string? DiagnosticCode,
    DateTimeOffset LastAttempt);

/// <summary>Everything a report is made from.</summary>
public sealed record DsnRequest(
    string ReportingMta,
    QueueId QueueId,
    Envelope Envelope,
    IReadOnlyList<DsnRecipient> Recipients,
    DateTimeOffset Now,
    DateTimeOffset? WillRetryUntil,
    long OriginalLength,
    Func<Stream> OpenOriginal);

/// <summary>
/// Composes delivery status notifications (RFC 3464, with RFC 6533 for SMTPUTF8 mail) with
/// MimeKit: multipart/report with a human-readable part, message/delivery-status, and the original
/// message (RET=FULL, or no RET) or only its headers (RET=HDRS, or when the message is larger than
/// <see cref="MaxReturnedMessage"/>). Reports go from the null sender, so a report about a report
/// is never made (RFC 3461 §6.2, RFC 5321 §6.1).
/// </summary>
public static class DeliveryStatusNotification
{
    /// <summary>Postfix bounce_size_limit = 50000: larger originals come back as headers only.</summary>
    public const long MaxReturnedMessage = 50_000;

    /// <summary>Headers of an original larger than this are cut (a bound against a hostile header block).</summary>
    private const int MaxReturnedHeaders = 64 * 1024;

    /// <summary>
    /// Whether a recipient wants a report for this action (RFC 3461 §4.1): without NOTIFY the
    /// default is failures and delays; NEVER means none; otherwise what NOTIFY lists.
    /// </summary>
    public static bool Wants(EnvelopeRecipient recipient, DsnAction action)
    {
        var notify = recipient.Notify;
        if (notify.HasFlag(DsnNotify.Never))
        {
            return false;
        }

        return action switch
        {
            DsnAction.Failed => notify == DsnNotify.None || notify.HasFlag(DsnNotify.Failure),
            DsnAction.Delayed => notify == DsnNotify.None || notify.HasFlag(DsnNotify.Delay),
            _ => notify.HasFlag(DsnNotify.Success),
        };
    }

    /// <summary>The report as a message from MAILER-DAEMON to the envelope sender; null when the sender is &lt;&gt;.</summary>
    public static MimeMessage? Compose(DsnRequest request)
    {
        if (request.Envelope.ReversePath.Length == 0)
        {
            return null;
        }

        var global = request.Envelope.SmtpUtf8;
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Mail Delivery System", "MAILER-DAEMON@" + request.ReportingMta));
        message.To.Add(MailboxAddress.Parse(ParserOptions.Default, request.Envelope.ReversePath));
        message.Subject = Subject(request.Recipients);
        message.Date = request.Now;
        message.MessageId = $"{request.QueueId.Value}.{request.Now.ToUnixTimeSeconds()}@{request.ReportingMta}";

        // RFC 3834 §5: automatic replies are marked, so that responders do not answer them.
        message.Headers.Add("Auto-Submitted", "auto-replied");

        var report = new MultipartReport("delivery-status");
        report.Add(new TextPart("plain") { Text = HumanReadable(request) });
        report.Add(StatusPart(request, global));
        report.Add(OriginalPart(request, global));
        message.Body = report;
        return message;
    }

    /// <summary>Writes the report in wire form (CRLF line ends) to <paramref name="output"/>.</summary>
    public static void WriteTo(MimeMessage report, Stream output) =>
        report.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, output);

    private static string Subject(IReadOnlyList<DsnRecipient> recipients)
    {
        if (recipients.Any(r => r.Action == DsnAction.Failed))
        {
            return "Undelivered Mail Returned to Sender";
        }

        return recipients.Any(r => r.Action == DsnAction.Delayed)
            ? "Delayed Mail (still being retried)"
            : "Successful Mail Delivery Report";
    }

    private static string HumanReadable(DsnRequest request)
    {
        var text = new StringBuilder();
        text.Append("This is the mail system at host ").Append(request.ReportingMta).Append(".\n\n");
        var failed = request.Recipients.Where(r => r.Action == DsnAction.Failed).ToList();
        var delayed = request.Recipients.Where(r => r.Action == DsnAction.Delayed).ToList();
        var delivered = request.Recipients.Where(r => r.Action is DsnAction.Delivered or DsnAction.Relayed).ToList();
        if (failed.Count > 0)
        {
            text.Append("I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\n");
            AppendRecipients(text, failed);
        }

        if (delayed.Count > 0)
        {
            text.Append("Your message could not be delivered yet to the recipients below.\nThe mail system will keep trying");
            if (request.WillRetryUntil is { } until)
            {
                text.Append(" until ").Append(FormatDate(until));
            }

            text.Append(".\nYou do not need to send it again.\n\n");
            AppendRecipients(text, delayed);
        }

        if (delivered.Count > 0)
        {
            text.Append("Your message was delivered to the recipients below, as you asked.\n\n");
            AppendRecipients(text, delivered);
        }

        return text.ToString();
    }

    private static void AppendRecipients(StringBuilder text, List<DsnRecipient> recipients)
    {
        foreach (var recipient in recipients)
        {
            text.Append('<').Append(recipient.Recipient.Address).Append(">: ");
            text.Append(recipient.DiagnosticCode ?? recipient.Status).Append("\n\n");
        }
    }

    private static MimePart StatusPart(DsnRequest request, bool global)
    {
        var fields = new StringBuilder();
        fields.Append("Reporting-MTA: dns; ").Append(request.ReportingMta).Append("\r\n");
        fields.Append("X-Mailroom-Queue-ID: ").Append(request.QueueId.Value).Append("\r\n");
        if (request.Envelope.EnvelopeId is { } envelopeId)
        {
            fields.Append("Original-Envelope-Id: ").Append(Sanitize(envelopeId)).Append("\r\n");
        }

        if (request.Envelope.ClientAddress is { } client)
        {
            fields.Append("Received-From-MTA: dns; ").Append(Sanitize(request.Envelope.HeloName ?? "unknown")).Append(" ([").Append(client).Append("])\r\n");
        }

        fields.Append("Arrival-Date: ").Append(FormatDate(request.Envelope.ArrivalTime)).Append("\r\n");
        foreach (var recipient in request.Recipients)
        {
            fields.Append("\r\n");
            fields.Append("Final-Recipient: rfc822; ").Append(Sanitize(recipient.Recipient.Address)).Append("\r\n");
            if (recipient.Recipient.OriginalRecipient is { } original)
            {
                fields.Append("Original-Recipient: ").Append(Sanitize(original)).Append("\r\n");
            }

            fields.Append("Action: ").Append(recipient.Action.ToString().ToLowerInvariant()).Append("\r\n");
            fields.Append("Status: ").Append(recipient.Status).Append("\r\n");
            if (recipient.RemoteMta is { } remote)
            {
                fields.Append("Remote-MTA: dns; ").Append(Sanitize(remote)).Append("\r\n");
            }

            if (recipient.DiagnosticCode is { } diagnostic)
            {
                fields.Append("Diagnostic-Code: ").Append(Sanitize(diagnostic)).Append("\r\n");
            }

            fields.Append("Last-Attempt-Date: ").Append(FormatDate(recipient.LastAttempt)).Append("\r\n");
            if (recipient.Action == DsnAction.Delayed && request.WillRetryUntil is { } until)
            {
                fields.Append("Will-Retry-Until: ").Append(FormatDate(until)).Append("\r\n");
            }
        }

        // RFC 6533 §6.2: message/global-delivery-status carries UTF-8 addresses.
        var part = new MimePart("message", global ? "global-delivery-status" : "delivery-status")
        {
            Content = new MimeContent(new MemoryStream(Encoding.UTF8.GetBytes(fields.ToString()))),
            ContentTransferEncoding = global ? ContentEncoding.EightBit : ContentEncoding.SevenBit,
        };
        return part;
    }

    private static MimePart OriginalPart(DsnRequest request, bool global)
    {
        var headersOnly = request.Envelope.Return == DsnReturn.Headers || request.OriginalLength > MaxReturnedMessage;
        var encoding = request.Envelope.Body == BodyType.SevenBit && !global ? ContentEncoding.SevenBit : ContentEncoding.EightBit;
        if (!headersOnly)
        {
            // The original is small (bounded above), so it is copied rather than kept open.
            using var original = request.OpenOriginal();
            var copy = new MemoryStream();
            original.CopyTo(copy);
            copy.Position = 0;
            return new MimePart("message", global ? "global" : "rfc822")
            {
                Content = new MimeContent(copy),
                ContentTransferEncoding = encoding,
            };
        }

        return new MimePart(global ? "message" : "text", global ? "global-headers" : "rfc822-headers")
        {
            Content = new MimeContent(new MemoryStream(ReadHeaders(request.OpenOriginal))),
            ContentTransferEncoding = encoding,
        };
    }

    /// <summary>The header block of the original: everything up to the first empty line.</summary>
    private static byte[] ReadHeaders(Func<Stream> open)
    {
        using var original = open();
        var buffer = new byte[MaxReturnedHeaders];
        var length = original.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

        var text = buffer.AsSpan(0, length);
        var end = text.IndexOf("\r\n\r\n"u8);
        return end < 0 ? text.ToArray() : text[..(end + 2)].ToArray();
    }

    /// <summary>A report field is one line; text from the network must not start another.</summary>
    private static string Sanitize(string value) => value.Replace('\r', ' ').Replace('\n', ' ');

    private static string FormatDate(DateTimeOffset time) => DateUtils.FormatDate(time);
}

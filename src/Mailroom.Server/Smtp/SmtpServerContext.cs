using Mailroom.Protocol;
using Mailroom.Queue;
using Mailroom.Server.Tls;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>What every session of one server shares: options, the queue, the recipient table, TLS, and the replies encoded once.</summary>
public sealed class SmtpServerContext
{
    public SmtpServerContext(
        SmtpServerOptions options,
        IMessageStore store,
        ILocalRecipients recipients,
        ServerCertificateProvider? certificates,
        Action<QueueId> onCommitted,
        TimeProvider timeProvider,
        ILogger logger)
    {
        Options = options;
        Store = store;
        Recipients = recipients;
        Certificates = certificates;
        OnCommitted = onCommitted;
        TimeProvider = timeProvider;
        Logger = logger;

        // RFC 5321 §4.2 and RFC 2034 §4: the greeting and HELO/EHLO replies carry no enhanced status code.
        Greeting = new SmtpReply(220, null, $"{options.Hostname} ESMTP Mailroom");
        HeloReply = new SmtpReply(250, null, options.Hostname);
        EhloReply = new SmtpReply(250, null, EhloLines(options, startTls: false));
        EhloWithStartTls = new SmtpReply(250, null, EhloLines(options, startTls: true));
    }

    public SmtpServerOptions Options { get; }

    public IMessageStore Store { get; }

    public ILocalRecipients Recipients { get; }

    public ServerCertificateProvider? Certificates { get; }

    public Action<QueueId> OnCommitted { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    public SmtpReply Greeting { get; }

    public SmtpReply HeloReply { get; }

    public SmtpReply EhloReply { get; }

    public SmtpReply EhloWithStartTls { get; }

    private static string[] EhloLines(SmtpServerOptions options, bool startTls)
    {
        List<string> lines =
        [
            options.Hostname,
            "PIPELINING",                                        // RFC 2920
            "SIZE " + options.Limits.MessageSize,                // RFC 1870
            "8BITMIME",                                          // RFC 6152
            "SMTPUTF8",                                          // RFC 6531
            "ENHANCEDSTATUSCODES",                               // RFC 2034
            "CHUNKING",                                          // RFC 3030
            "DSN",                                               // RFC 3461
        ];
        if (startTls)
        {
            lines.Add("STARTTLS");                               // RFC 3207
        }

        return [.. lines];
    }
}

/// <summary>Replies that belong to the server's current feature set rather than to the protocol.</summary>
internal static class SmtpServerReplies
{
    public static readonly SmtpReply AuthNotEnabled = new(503, EnhancedStatusCode.InvalidCommand, "Error: authentication not enabled");
}

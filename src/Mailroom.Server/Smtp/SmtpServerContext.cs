using Mailroom.Protocol;
using Mailroom.Queue;
using Mailroom.Server.Sasl;
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
        EhloReply = new SmtpReply(250, null, EhloLines(options, startTls: false, auth: false));
        EhloWithStartTls = new SmtpReply(250, null, EhloLines(options, startTls: true, auth: false));
        EhloWithAuth = new SmtpReply(250, null, EhloLines(options, startTls: false, auth: true));
        Guard = new AuthenticationGuard(options.AuthenticationLimits, timeProvider);
    }

    /// <summary>Checks SMTP AUTH credentials; null: no users, AUTH is not offered anywhere.</summary>
    public SaslAuthenticator? Authenticator { get; init; }

    /// <summary>
    /// The policy checks of issue 5 (README.md "## Policy"), one instance for every session of the
    /// server; null: no checks (component tests that are not about policy).
    /// </summary>
    public Policy.SmtpPolicy? Policy { get; init; }

    /// <summary>SPF, DKIM, DMARC and DKIM signing (issue 6); null: no checks (component tests that are not about them).</summary>
    public Cleanup.MessageCleanup? Cleanup { get; init; }

    /// <summary>The brute-force guard, shared by every session of the server.</summary>
    internal AuthenticationGuard Guard { get; }

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

    /// <summary>The EHLO reply under TLS on a listener that offers AUTH.</summary>
    public SmtpReply EhloWithAuth { get; }

    private static string[] EhloLines(SmtpServerOptions options, bool startTls, bool auth)
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

        if (auth)
        {
            lines.Add("AUTH " + string.Join(' ', SaslAuthenticator.MechanismNames)); // RFC 4954
        }

        return [.. lines];
    }
}

/// <summary>Replies that belong to the server's current feature set rather than to the protocol.</summary>
internal static class SmtpServerReplies
{
    public static readonly SmtpReply AuthNotEnabled = new(503, EnhancedStatusCode.InvalidCommand, "Error: authentication not enabled");

    // RFC 4954 §6 and §4 for the SMTP AUTH replies.
    public static readonly SmtpReply AuthSuccessful = new(235, new EnhancedStatusCode(2, 7, 0), "Authentication successful");
    public static readonly SmtpReply AuthFailed = new(535, new EnhancedStatusCode(5, 7, 8), "Error: authentication failed");
    public static readonly SmtpReply AuthCancelled = new(501, EnhancedStatusCode.PermanentOther, "Authentication cancelled");
    public static readonly SmtpReply AuthCannotDecode = new(501, EnhancedStatusCode.SyntaxError, "Cannot decode response");
    public static readonly SmtpReply AuthLineTooLong = new(500, new EnhancedStatusCode(5, 5, 6), "Authentication Exchange line is too long");
    public static readonly SmtpReply AuthSyntax = new(501, EnhancedStatusCode.InvalidArguments, "Syntax: AUTH mechanism [initial-response]");
    public static readonly SmtpReply AuthUnknownMechanism = new(504, EnhancedStatusCode.InvalidArguments, "Unrecognized authentication type");
    public static readonly SmtpReply AlreadyAuthenticated = new(503, EnhancedStatusCode.InvalidCommand, "Error: already authenticated");
    public static readonly SmtpReply AuthLockedOut = new(454, EnhancedStatusCode.TemporarySecurity, "Temporary authentication failure, try again later");
    public static readonly SmtpReply AuthRequired = new(530, EnhancedStatusCode.SecurityPolicy, "Authentication required");

    // Postfix reject_sender_login_mismatch: 553 5.7.1.
    public static readonly SmtpReply SenderNotOwned = new(553, EnhancedStatusCode.DeliveryNotAuthorized, "Sender address rejected: not owned by user");
    public static readonly SmtpReply HeaderTooLarge = new(552, EnhancedStatusCode.MessageTooBig, "Error: message header size exceeds limit");
}

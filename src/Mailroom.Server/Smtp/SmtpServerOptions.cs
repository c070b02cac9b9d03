using System.Net;
using Mailroom.Protocol;

namespace Mailroom.Server.Smtp;

/// <summary>The role of a listener, which decides what its sessions offer and require.</summary>
public enum SmtpListenerRole
{
    /// <summary>Port 25: mail from other servers (MX).</summary>
    Smtp,

    /// <summary>Port 587: mail from users, STARTTLS (RFC 6409).</summary>
    Submission,

    /// <summary>Port 465: submission with TLS from the first byte (RFC 8314).</summary>
    Submissions,
}

/// <summary>One listening socket.</summary>
public sealed record SmtpListener(SmtpListenerRole Role, IPEndPoint EndPoint)
{
    /// <summary>
    /// Whether SMTP AUTH (RFC 4954) is offered, always under TLS only. Submission listeners always
    /// offer it (and require it for MAIL, RFC 6409 §4.3); an smtp listener only when configured.
    /// </summary>
    public bool Authentication { get; init; } = Role != SmtpListenerRole.Smtp;

    /// <summary>True for submission and submissions: every message needs an authenticated user.</summary>
    public bool RequiresAuthentication => Role != SmtpListenerRole.Smtp;
}

/// <summary>How the SMTP server behaves.</summary>
public sealed record SmtpServerOptions
{
    /// <summary>Our name in the greeting, the EHLO reply and Received headers.</summary>
    public required string Hostname { get; init; }

    public IReadOnlyList<SmtpListener> Listeners { get; init; } = [];

    /// <summary>Clients that may relay to any domain without authentication (Postfix mynetworks).</summary>
    public IReadOnlyList<IPNetwork> TrustedNetworks { get; init; } = [];

    /// <summary>Postfix smtpd_forbid_bare_newline = reject is the safe default against SMTP smuggling.</summary>
    public BareLineEndingPolicy BareLineEndings { get; init; } = BareLineEndingPolicy.Reject;

    public SmtpLimits Limits { get; init; } = new();

    /// <summary>
    /// An authenticated user may use as MAIL FROM and in the From header only its own address and
    /// those of <see cref="SenderAddresses"/> (Postfix reject_sender_login_mismatch). On by default:
    /// a user must not impersonate another (issue 4).
    /// </summary>
    public bool SenderCheck { get; init; } = true;

    /// <summary>
    /// Extra addresses a user may send from: user address (case-insensitive) to addresses, or to
    /// "@domain" for any address in that domain (Postfix smtpd_sender_login_maps).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> SenderAddresses { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The brute-force guard's numbers.</summary>
    public Sasl.AuthenticationLimits AuthenticationLimits { get; init; } = new();
}

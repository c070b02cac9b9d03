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
public sealed record SmtpListener(SmtpListenerRole Role, IPEndPoint EndPoint);

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
}

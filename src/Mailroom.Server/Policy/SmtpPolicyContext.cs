using System.Net;
using System.Threading.RateLimiting;
using Mailroom.Protocol;
using Mailroom.Server.Smtp;

namespace Mailroom.Server.Policy;

/// <summary>
/// What the policy knows of one session. The session creates it after accepting the connection,
/// keeps it up to date (HELO name, reverse path, authentication) and passes it to each
/// <see cref="SmtpPolicy"/> call; the policy keeps its per-connection state here.
/// Not thread-safe: one session uses it from one logical flow.
/// </summary>
public sealed class SmtpPolicyContext
{
    public SmtpPolicyContext(IPAddress clientAddress, SmtpListenerRole role, IPAddress? localAddress = null)
    {
        ArgumentNullException.ThrowIfNull(clientAddress);
        ClientAddress = clientAddress.IsIPv4MappedToIPv6 ? clientAddress.MapToIPv4() : clientAddress;
        Role = role;
        LocalAddress = localAddress is { IsIPv4MappedToIPv6: true } ? localAddress.MapToIPv4() : localAddress;
    }

    /// <summary>The client's address (an IPv4-mapped IPv6 address is unmapped).</summary>
    public IPAddress ClientAddress { get; }

    /// <summary>The address the client connected to (ours), when the session knows it; used by the HELO check.</summary>
    public IPAddress? LocalAddress { get; }

    public SmtpListenerRole Role { get; }

    /// <summary>Set by the session after a successful AUTH.</summary>
    public bool IsAuthenticated { get; set; }

    /// <summary>The client is in trusted_networks (Postfix permit_mynetworks): the checks do not apply to it.</summary>
    public bool IsTrusted { get; set; }

    /// <summary>The last HELO/EHLO name, as the client sent it.</summary>
    public string? HeloName { get; set; }

    /// <summary>The reverse path of the current transaction (set by <see cref="SmtpPolicy.OnMailAsync"/>).</summary>
    public SmtpPath? ReversePath { get; set; }

    /// <summary>The reverse DNS result found at connect (<see cref="IprevResult.None"/> before, or when the checks do not apply).</summary>
    public IprevResult Iprev { get; internal set; } = IprevResult.None;

    /// <summary>Unknown-recipient replies in this connection.</summary>
    public int UnknownRecipients { get; internal set; }

    /// <summary>Recipients accepted by the policy in this connection.</summary>
    public int AcceptedRecipients { get; internal set; }

    /// <summary>MAIL commands accepted by the policy in this connection.</summary>
    public int Messages { get; internal set; }

    /// <summary>A refusal found at connect (DNSBL, reverse DNS), given at MAIL (see <see cref="SmtpPolicy.OnMailAsync"/>).</summary>
    internal PolicyDecision? PendingRefusal { get; set; }

    /// <summary>The per-address connection slot, released by <see cref="SmtpPolicy.SessionEnded"/>.</summary>
    internal RateLimitLease? ConnectionLease { get; set; }

    internal bool Ended { get; set; }
}

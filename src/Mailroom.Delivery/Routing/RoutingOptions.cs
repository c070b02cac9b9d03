using System.Net;

namespace Mailroom.Delivery.Routing;

/// <summary>Where remote mail goes: per-domain routes, a relay host, or the recipient domain's MX.</summary>
public sealed class RoutingOptions
{
    /// <summary>
    /// Our own host name, as it would appear in an MX record: an MX host of this name is us
    /// (Postfix: $myhostname). Default: the machine name.
    /// </summary>
    public string Hostname { get; set; } = Environment.MachineName;

    /// <summary>
    /// The addresses this server receives mail on (Postfix: $inet_interfaces and $proxy_interfaces).
    /// An MX host with one of these addresses is us. Only these count: a loopback address is not
    /// "us" unless listed here. Default: none.
    /// </summary>
    public IReadOnlyCollection<IPAddress> LocalAddresses { get; set; } = [];

    /// <summary>
    /// The ports this server receives mail on, with <see cref="LocalAddresses"/>: a next hop on one of
    /// our addresses but another port is another server (a test sink, a content filter). Null: every
    /// port of our addresses is us.
    /// </summary>
    public IReadOnlyCollection<int>? LocalPorts { get; set; }

    /// <summary>The port for a next hop that names none, and for MX hosts. 25: the "smtp" port (RFC 5321 §4.5.4.2, IANA 25/tcp).</summary>
    public int DefaultPort { get; set; } = NextHop.SmtpPort;

    /// <summary>Where all remote mail goes unless a <see cref="Routes"/> entry names its domain (Postfix: relayhost). Default: none, MX.</summary>
    public NextHop? RelayHost { get; set; }

    /// <summary>Next hops by recipient domain, case-insensitive (Postfix: transport_maps). Default: none.</summary>
    public IReadOnlyDictionary<string, NextHop> Routes { get; set; } = new Dictionary<string, NextHop>();

    /// <summary>
    /// The most addresses one route holds, over all its hosts in order; 0 for no limit. 5: Postfix's
    /// smtp_mx_address_limit. (How many of them one delivery attempt actually connects to is the SMTP
    /// client's business: Postfix's smtp_mx_session_limit, 2.)
    /// </summary>
    public int MaxAddresses { get; set; } = 5;
}

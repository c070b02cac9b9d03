using System.Net;
using Mailroom.Protocol;

namespace Mailroom.Delivery.Routing;

/// <summary>How a route ended.</summary>
public enum RouteStatus
{
    /// <summary>At least one host with at least one address.</summary>
    Ok,

    /// <summary>Try again later (4xx): a DNS failure, or a configured next hop that does not resolve.</summary>
    TemporaryFailure,

    /// <summary>Bounce (5xx): the domain does not exist, refuses mail (null MX), has no usable host, or loops back to us.</summary>
    PermanentFailure,
}

/// <summary>One host to try, with its addresses in the order to try them.</summary>
public sealed record RouteHost(string Name, ushort Preference, IReadOnlyList<IPEndPoint> Addresses);

/// <summary>
/// Where a recipient domain's mail goes (RFC 5321 §5.1): <see cref="Hosts"/> in the order to try
/// them, or, for a failure, an enhanced status code (RFC 3463) and a short text for the reply or
/// bounce. <see cref="Destination"/> names what was routed: the domain, or the configured next
/// hop as written (<c>[smtp.example.net]:587</c>), as Postfix's "nexthop".
/// </summary>
public sealed record Route(RouteStatus Status, string Destination, IReadOnlyList<RouteHost> Hosts, EnhancedStatusCode? StatusCode, string Text)
{
    public static Route Ok(string destination, IReadOnlyList<RouteHost> hosts) => new(RouteStatus.Ok, destination, hosts, null, "");

    public static Route Temporary(string destination, EnhancedStatusCode code, string text) => new(RouteStatus.TemporaryFailure, destination, [], code, text);

    public static Route Permanent(string destination, EnhancedStatusCode code, string text) => new(RouteStatus.PermanentFailure, destination, [], code, text);
}

/// <summary>The enhanced status codes of routing failures (RFC 3463 §3.3, §3.5; RFC 7505 §4.2).</summary>
internal static class RouteCodes
{
    /// <summary>X.1.2 "Bad destination system address": the domain does not exist (NXDOMAIN).</summary>
    public static readonly EnhancedStatusCode DomainNotFound = new(5, 1, 2);

    /// <summary>5.1.10 "Recipient address has null MX" (RFC 7505 §4.2).</summary>
    public static readonly EnhancedStatusCode NullMx = new(5, 1, 10);

    /// <summary>X.4.3 "Directory server failure": a DNS look-up failed (RFC 3463 §3.5).</summary>
    public static readonly EnhancedStatusCode DnsFailure = new(4, 4, 3);

    /// <summary>5.4.4 "Unable to route": no MX host resolves.</summary>
    public static readonly EnhancedStatusCode UnableToRoute = new(5, 4, 4);

    /// <summary>4.4.4 "Unable to route", temporary: a configured next hop does not resolve (a configuration error must not bounce mail).</summary>
    public static readonly EnhancedStatusCode UnableToRouteTemporary = new(4, 4, 4);

    /// <summary>5.4.6 "Routing loop detected".</summary>
    public static readonly EnhancedStatusCode Loop = new(5, 4, 6);
}

using System.Net;

namespace Mailroom.Dns;

/// <summary>
/// The DNS look-ups Mailroom makes. Every method returns its outcome as a value: a failure to
/// resolve is never an exception (cancellation through the token still throws).
/// </summary>
public interface IDnsResolver
{
    /// <summary>The MX records of <paramref name="domain"/> (RFC 1035 §3.3.9), in the order the server gave them.</summary>
    Task<DnsAnswer<MxRecord>> GetMxAsync(string domain, CancellationToken cancellationToken);

    /// <summary>
    /// The AAAA (RFC 3596) and A (RFC 1035 §3.4.1) records of <paramref name="host"/>, queried
    /// together: the IPv6 addresses first, then the IPv4 addresses, each in the server's order.
    /// </summary>
    Task<DnsAnswer<IPAddress>> GetAddressesAsync(string host, CancellationToken cancellationToken);

    /// <summary>
    /// The TXT records of <paramref name="name"/>: one string per record, its character-strings
    /// concatenated without separator (RFC 7208 §3.3).
    /// </summary>
    Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken);

    /// <summary>The PTR names of <paramref name="address"/> (in-addr.arpa / ip6.arpa, RFC 1035 §3.5, RFC 3596 §2.5).</summary>
    Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken);
}

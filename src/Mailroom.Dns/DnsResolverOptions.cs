using System.Net;

namespace Mailroom.Dns;

/// <summary>How <see cref="DnsClientResolver"/> talks to its servers and how long it keeps answers.</summary>
public sealed class DnsResolverOptions
{
    /// <summary>
    /// The recursive servers, tried in order. Empty: those of /etc/resolv.conf, as DnsClient's
    /// <c>LookupClientOptions()</c> reads them.
    /// </summary>
    public IReadOnlyList<IPEndPoint> Servers { get; set; } = [];

    /// <summary>
    /// How long to wait for one reply. 5 s: resolv.conf(5) "timeout" default (RES_TIMEOUT), and
    /// DnsClient's own default.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Further tries per server after a timeout or network error. 2: DnsClient's default
    /// (<c>DnsQueryOptions.Retries</c>); resolv.conf(5)'s "attempts" defaults to 2 as well.
    /// </summary>
    public int Retries { get; set; } = 2;

    /// <summary>
    /// The longest a positive answer is kept, whatever its TTL. 1 h: our choice, so a changed MX is
    /// seen within the hour (Unbound's cache-max-ttl is 1 day; a mail queue re-resolves on each try).
    /// </summary>
    public TimeSpan MaxCacheTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The longest an NXDOMAIN or NODATA answer is kept. RFC 2308 §5 takes the negative TTL from the
    /// SOA (the smaller of its TTL and MINIMUM) and suggests capping it (1-3 h "work well"; BIND's
    /// max-ncache-ttl is 3 h). 15 min: our choice, so a domain whose DNS was just fixed gets mail soon.
    /// </summary>
    public TimeSpan NegativeCacheTtl { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// The most answers kept at once; beyond it expired entries, then those closest to expiry, are
    /// dropped. 10,000: our choice, a few MB at most, far more than the distinct destinations a
    /// queue holds at once.
    /// </summary>
    public int MaxCacheEntries { get; set; } = 10_000;
}

using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.Extensions.Logging;

namespace Mailroom.Dns;

/// <summary>
/// <see cref="IDnsResolver"/> over DnsClient's <see cref="LookupClient"/> (UDP, TCP on truncation),
/// with its own TTL cache (<see cref="DnsCache"/>) timed by the injected <see cref="TimeProvider"/>.
/// Positive answers are kept for their smallest record TTL, NXDOMAIN and NODATA for the negative
/// TTL of the SOA in the authority section (RFC 2308 §5), each capped by the options; a temporary
/// failure is never kept, so the next look-up asks the server again.
/// </summary>
public sealed partial class DnsClientResolver : IDnsResolver
{
    private readonly LookupClient _client;
    private readonly DnsCache _cache;
    private readonly DnsResolverOptions _options;
    private readonly ILogger _logger;

    public DnsClientResolver(DnsResolverOptions options, TimeProvider timeProvider, ILogger<DnsClientResolver> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.Timeout, TimeSpan.Zero, "DnsResolverOptions.Timeout");
        ArgumentOutOfRangeException.ThrowIfNegative(options.Retries, "DnsResolverOptions.Retries");

        LookupClientOptions clientOptions = options.Servers.Count == 0
            ? new LookupClientOptions()
            : new LookupClientOptions([.. options.Servers]);

        // Our cache, not DnsClient's: it runs on the injected TimeProvider and never keeps failures.
        clientOptions.UseCache = false;
        clientOptions.Timeout = options.Timeout;
        clientOptions.Retries = options.Retries;
        // Error RCODEs come back as responses, not exceptions; we map them ourselves.
        clientOptions.ThrowDnsErrors = false;
        // An error RCODE (NXDOMAIN included) or an empty answer is the answer: asking the next
        // server would only repeat it (and turn every NODATA into one query per server).
        clientOptions.ContinueOnDnsError = false;
        clientOptions.ContinueOnEmptyResponse = false;
        // Servers in the configured order, as glibc without "options rotate".
        clientOptions.UseRandomNameServer = false;
        // A truncated UDP reply is asked again over TCP (RFC 7766 §5).
        clientOptions.UseTcpFallback = true;
        clientOptions.Recursion = true;

        _client = new LookupClient(clientOptions);
        _cache = new DnsCache(timeProvider, options.MaxCacheEntries);
        _options = options;
        _logger = logger;
    }

    /// <summary>How many answers the cache holds now (for tests and diagnostics).</summary>
    internal int CachedAnswers => _cache.Count;

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string domain, CancellationToken cancellationToken)
        => QueryAsync<MxRecord>(domain, QueryType.MX, static records => [.. records.OfType<DnsClient.Protocol.MxRecord>().Select(ToMxRecord)], cancellationToken);

    public async Task<DnsAnswer<IPAddress>> GetAddressesAsync(string host, CancellationToken cancellationToken)
    {
        Task<DnsAnswer<IPAddress>> ipv6 = QueryAsync<IPAddress>(host, QueryType.AAAA, static records => [.. records.OfType<AaaaRecord>().Select(r => r.Address)], cancellationToken);
        Task<DnsAnswer<IPAddress>> ipv4 = QueryAsync<IPAddress>(host, QueryType.A, static records => [.. records.OfType<ARecord>().Select(r => r.Address)], cancellationToken);
        await Task.WhenAll(ipv6, ipv4).ConfigureAwait(false);
        return CombineAddresses(await ipv6.ConfigureAwait(false), await ipv4.ConfigureAwait(false));
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken)
        => QueryAsync<string>(name, QueryType.TXT, static records => [.. records.OfType<TxtRecord>().Select(r => string.Concat(r.Text))], cancellationToken);

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        return QueryAsync<string>(address.GetArpaName(), QueryType.PTR, static records => [.. records.OfType<PtrRecord>().Select(r => ToHostName(r.PtrDomainName.Value))], cancellationToken);
    }

    /// <summary>
    /// AAAA and A together: every address found, IPv6 first. Records from either make the answer
    /// Ok (a failure of the other is then only logged by the query); otherwise a temporary failure of
    /// either wins (it may hide records), then NXDOMAIN, then NODATA.
    /// </summary>
    internal static DnsAnswer<IPAddress> CombineAddresses(DnsAnswer<IPAddress> ipv6, DnsAnswer<IPAddress> ipv4)
    {
        if (ipv6.Status == DnsStatus.Ok || ipv4.Status == DnsStatus.Ok)
        {
            return DnsAnswer<IPAddress>.Ok([.. ipv6.Records, .. ipv4.Records]);
        }

        if (ipv6.Status == DnsStatus.TemporaryFailure || ipv4.Status == DnsStatus.TemporaryFailure)
        {
            return DnsAnswer<IPAddress>.TemporaryFailure;
        }

        return ipv6.Status == DnsStatus.NameNotFound || ipv4.Status == DnsStatus.NameNotFound
            ? DnsAnswer<IPAddress>.NameNotFound
            : DnsAnswer<IPAddress>.NoRecords;
    }

    /// <summary>The status an RCODE (RFC 1035 §4.1.1, RFC 6895 §2.3) means for a query that got a reply.</summary>
    internal static DnsStatus StatusOf(DnsHeaderResponseCode code) => code switch
    {
        DnsHeaderResponseCode.NoError => DnsStatus.Ok,
        DnsHeaderResponseCode.NotExistentDomain => DnsStatus.NameNotFound,
        // SERVFAIL, REFUSED, FORMERR, NOTIMP and the rest: the server could not answer; never permanent.
        _ => DnsStatus.TemporaryFailure,
    };

    /// <summary>
    /// How long a negative answer may be kept (RFC 2308 §5): the smaller of the SOA's TTL and its
    /// MINIMUM field (both as the server sent them, see <see cref="PositiveTtl"/>), capped by
    /// <paramref name="cap"/>. Without an SOA nothing is kept ("SHOULD NOT be cached").
    /// </summary>
    internal static TimeSpan NegativeTtl(IEnumerable<DnsResourceRecord> authorities, TimeSpan cap)
    {
        SoaRecord? soa = authorities.OfType<SoaRecord>().FirstOrDefault();
        if (soa is null)
        {
            return TimeSpan.Zero;
        }

        long seconds = Math.Min(Math.Max(soa.InitialTimeToLive, 0), soa.Minimum);
        return Min(TimeSpan.FromSeconds(seconds), cap);
    }

    /// <summary>
    /// How long a positive answer may be kept: the smallest TTL in the answer section (CNAMEs
    /// included), capped. The TTLs as the server sent them (<c>InitialTimeToLive</c>):
    /// DnsClient's <c>TimeToLive</c> counts down on the real clock from the moment the record was
    /// parsed, while our cache counts on the injected TimeProvider (a second's tick in between
    /// turned 120 into 119).
    /// </summary>
    internal static TimeSpan PositiveTtl(IEnumerable<DnsResourceRecord> answers, TimeSpan cap)
    {
        int seconds = answers.Select(r => r.InitialTimeToLive).DefaultIfEmpty(0).Min();
        return Min(TimeSpan.FromSeconds(Math.Max(seconds, 0)), cap);
    }

    private async Task<DnsAnswer<T>> QueryAsync<T>(
        string name,
        QueryType type,
        Func<IReadOnlyList<DnsResourceRecord>, IReadOnlyList<T>> select,
        CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string host = ToHostName(name);
        if (host.Length == 0)
        {
            throw new ArgumentException("A DNS name is required.", nameof(name));
        }

        if (_cache.TryGet(host, (ushort)type, out DnsAnswer<T>? cached))
        {
            LogCacheHit(host, type, cached.Status);
            return cached;
        }

        IDnsQueryResponse response;
        try
        {
            // Absolute: no search list from resolv.conf is ever appended (RFC 1034 §3.1).
            response = await _client.QueryAsync(host + ".", type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (DnsResponseException ex)
        {
            // DnsClient may report a cancelled query as a failed one: the caller's cancellation wins.
            cancellationToken.ThrowIfCancellationRequested();
            // Timeouts and network errors after every retry (DnsResponseCode.ConnectionTimeout, CommunicationError).
            LogTemporaryFailure(host, type, ex.Code.ToString(), ex);
            return DnsAnswer<T>.TemporaryFailure;
        }
        catch (ArgumentException ex)
        {
            // DnsClient refuses a name no DNS can hold (a label over 63 octets, over 255 in all,
            // an empty label): such a name cannot exist (RFC 1035 §2.3.4).
            LogInvalidName(host, type, ex.Message);
            return DnsAnswer<T>.NameNotFound;
        }
        catch (Exception ex)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Anything else (a malformed reply, a socket error): temporary, never permanent.
            LogTemporaryFailure(host, type, ex.GetType().Name, ex);
            return DnsAnswer<T>.TemporaryFailure;
        }

        DnsHeaderResponseCode code = response.Header.ResponseCode;
        DnsAnswer<T> answer;
        TimeSpan ttl;
        switch (StatusOf(code))
        {
            case DnsStatus.Ok:
                IReadOnlyList<T> records = select(response.Answers);
                if (records.Count > 0)
                {
                    answer = DnsAnswer<T>.Ok(records);
                    ttl = PositiveTtl(response.Answers, _options.MaxCacheTtl);
                }
                else
                {
                    answer = DnsAnswer<T>.NoRecords;
                    ttl = NegativeTtl(response.Authorities, _options.NegativeCacheTtl);
                }

                break;
            case DnsStatus.NameNotFound:
                answer = DnsAnswer<T>.NameNotFound;
                ttl = NegativeTtl(response.Authorities, _options.NegativeCacheTtl);
                break;
            default:
                LogTemporaryFailure(host, type, code.ToString(), null);
                return DnsAnswer<T>.TemporaryFailure;
        }

        LogAnswer(host, type, answer.Status, answer.Records.Count, ttl);
        _cache.Set(host, (ushort)type, answer, ttl);
        return answer;
    }

    private static MxRecord ToMxRecord(DnsClient.Protocol.MxRecord record)
        => new(record.Preference, ToHostName(record.Exchange.Value));

    /// <summary>Lowercase, without the trailing dot; the root "." becomes "".</summary>
    internal static string ToHostName(string name)
    {
        string trimmed = name.Trim();
        if (trimmed.EndsWith('.'))
        {
            trimmed = trimmed[..^1];
        }

        return trimmed.ToLowerInvariant();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "dns {Name} {Type}: {Status}, {Count} records, kept {Ttl}")]
    private partial void LogAnswer(string name, QueryType type, DnsStatus status, int count, TimeSpan ttl);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "dns {Name} {Type}: {Status} from cache")]
    private partial void LogCacheHit(string name, QueryType type, DnsStatus status);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "dns {Name} {Type}: temporary failure ({Reason})")]
    private partial void LogTemporaryFailure(string name, QueryType type, string reason, Exception? exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "dns {Name} {Type}: not a valid DNS name ({Reason})")]
    private partial void LogInvalidName(string name, QueryType type, string reason);
}

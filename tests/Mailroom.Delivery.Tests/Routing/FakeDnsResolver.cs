using System.Collections.Concurrent;
using System.Net;
using Mailroom.Dns;

namespace Mailroom.Delivery.Tests.Routing;

/// <summary>An in-memory <see cref="IDnsResolver"/>: names not given are NXDOMAIN. Records every query.</summary>
internal sealed class FakeDnsResolver : IDnsResolver
{
    private readonly Dictionary<string, DnsAnswer<MxRecord>> _mx = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, DnsAnswer<IPAddress>> _addresses = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentQueue<string> Queries { get; } = new();

    public FakeDnsResolver Mx(string domain, params (ushort Preference, string Exchange)[] records)
    {
        _mx[domain] = DnsAnswer<MxRecord>.Ok([.. records.Select(r => new MxRecord(r.Preference, r.Exchange))]);
        return this;
    }

    public FakeDnsResolver Mx(string domain, DnsStatus status)
    {
        _mx[domain] = new DnsAnswer<MxRecord>(status, []);
        return this;
    }

    public FakeDnsResolver Host(string name, params string[] addresses)
    {
        _addresses[name] = DnsAnswer<IPAddress>.Ok([.. addresses.Select(IPAddress.Parse)]);
        return this;
    }

    public FakeDnsResolver Host(string name, DnsStatus status)
    {
        _addresses[name] = new DnsAnswer<IPAddress>(status, []);
        return this;
    }

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string domain, CancellationToken cancellationToken)
    {
        Queries.Enqueue($"MX {domain}");
        return Task.FromResult(_mx.GetValueOrDefault(domain) ?? DnsAnswer<MxRecord>.NameNotFound);
    }

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string host, CancellationToken cancellationToken)
    {
        Queries.Enqueue($"A/AAAA {host}");
        return Task.FromResult(_addresses.GetValueOrDefault(host) ?? DnsAnswer<IPAddress>.NameNotFound);
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) => throw new NotSupportedException();
}

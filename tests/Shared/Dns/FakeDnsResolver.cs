using System.Collections.Concurrent;
using System.Net;
using Mailroom.Dns;

namespace Mailroom.Tests.Shared.Dns;

/// <summary>An in-memory <see cref="IDnsResolver"/>: names not given are NXDOMAIN. Records every query.</summary>
/// <remarks>Shared by the Server and Delivery tests (linked from tests/Shared/Dns).</remarks>
internal sealed class FakeDnsResolver : IDnsResolver
{
    private readonly Dictionary<string, DnsAnswer<MxRecord>> _mx = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, DnsAnswer<IPAddress>> _addresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<IPAddress, DnsAnswer<string>> _ptr = [];

    public ConcurrentQueue<string> Queries { get; } = new();

    /// <summary>Thrown by every look-up when set (an internal error).</summary>
    public Exception? Throw { get; set; }

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

    public FakeDnsResolver Ptr(string address, params string[] names)
    {
        _ptr[IPAddress.Parse(address)] = DnsAnswer<string>.Ok(names);
        return this;
    }

    public FakeDnsResolver Ptr(string address, DnsStatus status)
    {
        _ptr[IPAddress.Parse(address)] = new DnsAnswer<string>(status, []);
        return this;
    }

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string domain, CancellationToken cancellationToken)
    {
        Queries.Enqueue($"MX {domain}");
        ThrowIfSet();
        return Task.FromResult(_mx.GetValueOrDefault(domain) ?? DnsAnswer<MxRecord>.NameNotFound);
    }

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string host, CancellationToken cancellationToken)
    {
        Queries.Enqueue($"A/AAAA {host}");
        ThrowIfSet();
        return Task.FromResult(_addresses.GetValueOrDefault(host) ?? DnsAnswer<IPAddress>.NameNotFound);
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken)
    {
        Queries.Enqueue($"PTR {address}");
        ThrowIfSet();
        return Task.FromResult(_ptr.GetValueOrDefault(address) ?? DnsAnswer<string>.NameNotFound);
    }

    private void ThrowIfSet()
    {
        if (Throw is not null)
        {
            throw Throw;
        }
    }
}

using System.Net;
using Mailroom.Dns;

namespace Mailroom.Authentication.Tests;

/// <summary>
/// An in-memory <see cref="IDnsResolver"/>: names (case-insensitive, without the trailing dot) map to
/// records in order; a <see cref="Timeout"/> entry makes a query for a type time out unless a record of
/// that type came before it (the OpenSPF suite's rule, see tests/testdata/spf/openspf-rfc7208/PROVENANCE.md).
/// A name that is absent is NXDOMAIN; present without the asked type is NODATA. CNAMEs are followed.
/// </summary>
internal sealed class ZoneResolver : IDnsResolver
{
    private readonly Dictionary<string, List<Entry>> _zone = new(StringComparer.OrdinalIgnoreCase);

    public List<string> Queries { get; } = [];

    public abstract record Entry;

    public sealed record Txt(string Text) : Entry;

    public sealed record Address(IPAddress Value) : Entry;

    public sealed record Mx(ushort Preference, string Exchange) : Entry;

    public sealed record Ptr(string Name) : Entry;

    public sealed record Cname(string Target) : Entry;

    public sealed record Timeout : Entry;

    /// <summary>Marks the name as existing without adding a record (e.g. the suite's "TXT: NONE").</summary>
    public ZoneResolver Touch(string name)
    {
        Entries(name);
        return this;
    }

    public ZoneResolver Add(string name, Entry entry)
    {
        Entries(name).Add(entry);
        return this;
    }

    public ZoneResolver AddTxt(string name, string text) => Add(name, new Txt(text));

    public Task<DnsAnswer<MxRecord>> GetMxAsync(string domain, CancellationToken cancellationToken) =>
        Task.FromResult(Query(domain, "MX", entry => entry is Mx mx ? new MxRecord(mx.Preference, mx.Exchange.TrimEnd('.').ToLowerInvariant()) : null));

    public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string host, CancellationToken cancellationToken)
    {
        // Like DnsClientResolver: AAAA and A together; records from either make the answer Ok,
        // otherwise a temporary failure of either wins, then NXDOMAIN, then NODATA.
        var aaaa = Query(host, "AAAA", entry => entry is Address { Value.AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } a ? a.Value : null);
        var a = Query(host, "A", entry => entry is Address { Value.AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } a4 ? a4.Value : null);
        DnsAnswer<IPAddress> answer;
        if (aaaa.Records.Count + a.Records.Count > 0)
        {
            answer = DnsAnswer<IPAddress>.Ok([.. aaaa.Records, .. a.Records]);
        }
        else if (aaaa.Status == DnsStatus.TemporaryFailure || a.Status == DnsStatus.TemporaryFailure)
        {
            answer = DnsAnswer<IPAddress>.TemporaryFailure;
        }
        else if (a.Status == DnsStatus.NameNotFound)
        {
            answer = DnsAnswer<IPAddress>.NameNotFound;
        }
        else
        {
            answer = DnsAnswer<IPAddress>.NoRecords;
        }

        return Task.FromResult(answer);
    }

    public Task<DnsAnswer<string>> GetTxtAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Query(name, "TXT", entry => entry is Txt txt ? txt.Text : null));

    public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(Query(ReverseName(address), "PTR", entry => entry is Ptr ptr ? ptr.Name.TrimEnd('.') : null));

    public static string ReverseName(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        if (bytes.Length == 4)
        {
            return $"{bytes[3]}.{bytes[2]}.{bytes[1]}.{bytes[0]}.in-addr.arpa";
        }

        var hex = Convert.ToHexStringLower(bytes);
        return string.Join('.', hex.Reverse()) + ".ip6.arpa";
    }

    private List<Entry> Entries(string name)
    {
        var key = Normalize(name);
        if (!_zone.TryGetValue(key, out var entries))
        {
            entries = [];
            _zone[key] = entries;
        }

        return entries;
    }

    private static string Normalize(string name) => name.TrimEnd('.').ToLowerInvariant();

    private DnsAnswer<T> Query<T>(string name, string type, Func<Entry, T?> select, int depth = 0)
        where T : class
    {
        Queries.Add($"{type} {name}");
        var key = Normalize(name);
        // Names that cannot exist in DNS (an empty label, a label over 63 octets): as DnsClientResolver, not found.
        if (key.Length == 0 || key.Split('.').Any(label => label.Length is 0 or > 63))
        {
            return DnsAnswer<T>.NameNotFound;
        }

        if (!_zone.TryGetValue(key, out var entries))
        {
            return DnsAnswer<T>.NameNotFound;
        }

        var records = new List<T>();
        foreach (var entry in entries)
        {
            if (select(entry) is { } record)
            {
                records.Add(record);
            }
            else if (entry is Timeout && records.Count == 0)
            {
                return DnsAnswer<T>.TemporaryFailure;
            }
            else if (entry is Cname cname && records.Count == 0 && depth < 8)
            {
                return Query(cname.Target, type, select, depth + 1);
            }
        }

        return records.Count > 0 ? DnsAnswer<T>.Ok(records) : DnsAnswer<T>.NoRecords;
    }
}

using System.Net;
using System.Net.Sockets;
using Mailroom.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Dns.Tests;

/// <summary>The resolver against a real dnsmasq on loopback.</summary>
public sealed class DnsClientResolverTests(DnsmasqFixture fixture) : IClassFixture<DnsmasqFixture>
{
    private readonly Dnsmasq _dns = fixture.Server;

    internal static DnsClientResolver Resolver(IPEndPoint server, TimeProvider? time = null, Action<DnsResolverOptions>? configure = null)
    {
        var options = new DnsResolverOptions
        {
            Servers = [server],
            // Local answers take microseconds; a dead server should fail the test quickly.
            Timeout = TimeSpan.FromSeconds(2),
            Retries = 0,
        };
        configure?.Invoke(options);
        return new DnsClientResolver(options, time ?? new FakeTimeProvider(), NullLogger<DnsClientResolver>.Instance);
    }

    [Fact]
    public async Task Mx_GivesPreferencesAndLowercaseExchangesWithoutTrailingDot()
    {
        DnsAnswer<MxRecord> answer = await Resolver(_dns.EndPoint).GetMxAsync("example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal([new MxRecord(10, "mx1.example.test"), new MxRecord(20, "mx2.example.test")], answer.Records.OrderBy(r => r.Preference));
    }

    [Fact]
    public async Task Mx_AcceptsAnAbsoluteOrMixedCaseName()
    {
        DnsAnswer<MxRecord> answer = await Resolver(_dns.EndPoint).GetMxAsync("Example.TEST.", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal(2, answer.Records.Count);
    }

    [Fact]
    public async Task NullMx_HasAnEmptyExchange()
    {
        DnsAnswer<MxRecord> answer = await Resolver(_dns.EndPoint).GetMxAsync("nullmx.example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        MxRecord record = Assert.Single(answer.Records);
        Assert.Equal(new MxRecord(0, ""), record);
        Assert.True(record.IsNullMx);
    }

    [Fact]
    public async Task Addresses_IPv4Only()
    {
        DnsAnswer<IPAddress> answer = await Resolver(_dns.EndPoint).GetAddressesAsync("mx1.example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal([IPAddress.Parse("127.0.0.11")], answer.Records);
    }

    [Fact]
    public async Task Addresses_IPv6First()
    {
        DnsAnswer<IPAddress> answer = await Resolver(_dns.EndPoint).GetAddressesAsync("dual.example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal([IPAddress.IPv6Loopback, IPAddress.Parse("127.0.0.12")], answer.Records);
    }

    [Fact]
    public async Task Txt_OneStringPerRecord()
    {
        DnsAnswer<string> answer = await Resolver(_dns.EndPoint).GetTxtAsync("example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal(["v=spf1 -all"], answer.Records);
    }

    [Fact]
    public async Task Txt_CharacterStringsAreJoinedWithoutSeparator()
    {
        // RFC 7208 §3.3: "v=spf1 ip4:127.0.0.1 " + "-all".
        DnsAnswer<string> answer = await Resolver(_dns.EndPoint).GetTxtAsync("split.example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal(["v=spf1 ip4:127.0.0.1 -all"], answer.Records);
    }

    [Fact]
    public async Task Ptr_GivesTheHostName()
    {
        DnsAnswer<string> answer = await Resolver(_dns.EndPoint).GetPtrAsync(IPAddress.Parse("127.0.0.11"), CancellationToken.None);

        Assert.Equal(DnsStatus.Ok, answer.Status);
        Assert.Equal(["mx1.example.test"], answer.Records);
    }

    [Fact]
    public async Task UnknownName_IsNameNotFound()
    {
        DnsClientResolver resolver = Resolver(_dns.EndPoint);

        Assert.Equal(DnsStatus.NameNotFound, (await resolver.GetMxAsync("nowhere.example.test", CancellationToken.None)).Status);
        Assert.Equal(DnsStatus.NameNotFound, (await resolver.GetAddressesAsync("nowhere.example.test", CancellationToken.None)).Status);
        Assert.Equal(DnsStatus.NameNotFound, (await resolver.GetTxtAsync("nowhere.example.test", CancellationToken.None)).Status);
        Assert.Equal(DnsStatus.NameNotFound, (await resolver.GetPtrAsync(IPAddress.Parse("127.0.0.99"), CancellationToken.None)).Status);
    }

    [Fact]
    public async Task ExistingNameWithoutTheType_IsNoRecords()
    {
        DnsClientResolver resolver = Resolver(_dns.EndPoint);

        DnsAnswer<MxRecord> mx = await resolver.GetMxAsync("mx1.example.test", CancellationToken.None);
        DnsAnswer<string> txt = await resolver.GetTxtAsync("mx1.example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.NoRecords, mx.Status);
        Assert.Empty(mx.Records);
        Assert.Equal(DnsStatus.NoRecords, txt.Status);
    }

    [Fact]
    public async Task Refused_IsTemporaryFailure_AndNotCached()
    {
        // dnsmasq refuses names outside its zone (REFUSED: the same mapping as SERVFAIL).
        DnsClientResolver resolver = Resolver(_dns.EndPoint);

        DnsAnswer<MxRecord> first = await resolver.GetMxAsync("refused.other.test", CancellationToken.None);
        DnsAnswer<MxRecord> second = await resolver.GetMxAsync("refused.other.test", CancellationToken.None);

        Assert.Equal(DnsStatus.TemporaryFailure, first.Status);
        Assert.Equal(DnsStatus.TemporaryFailure, second.Status);
        // Both reached the server: a temporary failure is never answered from the cache.
        await _dns.WaitForQueriesAsync("MX", "refused.other.test", count: 2);
        Assert.Equal(0, resolver.CachedAnswers);
    }

    [Fact]
    public async Task ServerThatNeverAnswers_IsTemporaryFailure()
    {
        // A UDP socket nobody reads: every query times out.
        using var blackHole = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        blackHole.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        DnsClientResolver resolver = Resolver((IPEndPoint)blackHole.LocalEndPoint!, configure: o => o.Timeout = TimeSpan.FromMilliseconds(200));

        DnsAnswer<MxRecord> answer = await resolver.GetMxAsync("example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.TemporaryFailure, answer.Status);
        Assert.Equal(0, resolver.CachedAnswers);
    }

    [Fact]
    public async Task ServerNotListening_IsTemporaryFailure()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        DnsClientResolver resolver = Resolver(new IPEndPoint(IPAddress.Loopback, port), configure: o => o.Timeout = TimeSpan.FromMilliseconds(200));

        Assert.Equal(DnsStatus.TemporaryFailure, (await resolver.GetAddressesAsync("mx1.example.test", CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Cancellation_Throws()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Resolver(_dns.EndPoint).GetMxAsync("example.test", cancelled.Token));
    }

    [Fact]
    public async Task PositiveAnswer_IsCachedForItsTtl()
    {
        var time = new FakeTimeProvider();
        DnsClientResolver resolver = Resolver(_dns.EndPoint, time);

        await AssertKeptForAsync(resolver, time, "MX", "cached.example.test", DnsStatus.Ok, TimeSpan.FromSeconds(TestZone.Ttl), async () => (await resolver.GetMxAsync("cached.example.test", CancellationToken.None)).Status);

        DnsAnswer<MxRecord> fetched = await resolver.GetMxAsync("cached.example.test", CancellationToken.None);
        DnsAnswer<MxRecord> cached = await resolver.GetMxAsync("cached.example.test", CancellationToken.None);
        Assert.Equal([new MxRecord(10, "mx1.example.test")], fetched.Records);
        Assert.Same(fetched, cached);
    }

    [Fact]
    public async Task PositiveAnswer_IsKeptNoLongerThanMaxCacheTtl()
    {
        var time = new FakeTimeProvider();
        DnsClientResolver resolver = Resolver(_dns.EndPoint, time, o => o.MaxCacheTtl = TimeSpan.FromSeconds(30));

        await AssertKeptForAsync(resolver, time, "MX", "capped.example.test", DnsStatus.Ok, TimeSpan.FromSeconds(30), async () => (await resolver.GetMxAsync("capped.example.test", CancellationToken.None)).Status);
    }

    [Fact]
    public async Task NameNotFound_IsCachedForTheSoaNegativeTtl()
    {
        var time = new FakeTimeProvider();
        DnsClientResolver resolver = Resolver(_dns.EndPoint, time, o => o.NegativeCacheTtl = TimeSpan.FromHours(1));

        await AssertKeptForAsync(resolver, time, "MX", "gone.example.test", DnsStatus.NameNotFound, TimeSpan.FromSeconds(TestZone.Ttl), async () => (await resolver.GetMxAsync("gone.example.test", CancellationToken.None)).Status);
    }

    [Fact]
    public async Task NoRecords_IsCachedNoLongerThanNegativeCacheTtl()
    {
        var time = new FakeTimeProvider();
        DnsClientResolver resolver = Resolver(_dns.EndPoint, time, o => o.NegativeCacheTtl = TimeSpan.FromSeconds(60));

        await AssertKeptForAsync(resolver, time, "TXT", "dual.example.test", DnsStatus.NoRecords, TimeSpan.FromSeconds(60), async () => (await resolver.GetTxtAsync("dual.example.test", CancellationToken.None)).Status);
    }

    /// <summary>
    /// The answer to <paramref name="query"/> comes from the server once, then from the cache until
    /// <paramref name="keptFor"/> has passed on the fake clock, then from the server again.
    /// <paramref name="name"/> must be queried by no other test of the class.
    /// </summary>
    private async Task AssertKeptForAsync(DnsClientResolver resolver, FakeTimeProvider time, string type, string name, DnsStatus expected, TimeSpan keptFor, Func<Task<DnsStatus>> query)
    {
        Assert.Equal(expected, await query());
        time.Advance(keptFor - TimeSpan.FromSeconds(1));
        Assert.Equal(expected, await query());
        await MarkAsync(resolver, name.Replace('.', '-'));
        Assert.Equal(1, _dns.CountQueries(type, name));

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(expected, await query());
        await _dns.WaitForQueriesAsync(type, name, count: 2);
    }

    // A query for a name nothing else asks, awaited until dnsmasq has logged it: dnsmasq logs
    // queries in the order it answers them, so every query sent before this one is in the log now.
    private async Task MarkAsync(DnsClientResolver resolver, string label)
    {
        string name = $"{label}.marker.example.test";
        await resolver.GetAddressesAsync(name, CancellationToken.None);
        await _dns.WaitForQueriesAsync("A", name);
    }
}

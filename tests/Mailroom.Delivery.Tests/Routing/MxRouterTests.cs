using System.Net;
using Mailroom.Delivery.Routing;
using Mailroom.Dns;
using Mailroom.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

using Mailroom.Tests.Shared.Dns;

namespace Mailroom.Delivery.Tests.Routing;

public sealed class MxRouterTests
{
    private const string Us = "mail.ours.test";

    private static MxRouter Router(FakeDnsResolver dns, Action<RoutingOptions>? configure = null, int seed = 1)
    {
        var options = new RoutingOptions { Hostname = Us, LocalAddresses = [IPAddress.Parse("192.0.2.25")] };
        configure?.Invoke(options);
        return new MxRouter(options, dns, new Random(seed), NullLogger<MxRouter>.Instance);
    }

    private static string[] Names(Route route) => [.. route.Hosts.Select(h => h.Name)];

    private static void AssertFailure(Route route, RouteStatus status, string code, string text)
    {
        Assert.Equal(status, route.Status);
        Assert.Equal(code, route.StatusCode.ToString());
        Assert.Equal(text, route.Text);
        Assert.Empty(route.Hosts);
    }

    [Fact]
    public async Task Mx_LowestPreferenceFirst_EachHostsAddressesIPv6ThenIPv4OnPort25()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (20, "mx2.example.test"), (10, "mx1.example.test"), (30, "mx3.example.test"))
            .Host("mx1.example.test", "2001:db8::11", "127.0.0.11")
            .Host("mx2.example.test", "127.0.0.12")
            .Host("mx3.example.test", "127.0.0.13");

        Route route = await Router(dns).RouteAsync("Example.TEST.", CancellationToken.None);

        Assert.Equal(RouteStatus.Ok, route.Status);
        Assert.Equal("example.test", route.Destination);
        Assert.Null(route.StatusCode);
        Assert.Equal(
            [
                new RouteHost("mx1.example.test", 10, [new IPEndPoint(IPAddress.Parse("2001:db8::11"), 25), new IPEndPoint(IPAddress.Parse("127.0.0.11"), 25)]),
                new RouteHost("mx2.example.test", 20, [new IPEndPoint(IPAddress.Parse("127.0.0.12"), 25)]),
                new RouteHost("mx3.example.test", 30, [new IPEndPoint(IPAddress.Parse("127.0.0.13"), 25)]),
            ],
            route.Hosts,
            HostComparer.Instance);
    }

    [Fact]
    public async Task Mx_EqualPreferencesComeInEveryOrder_OthersKeepTheirPlace()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "a.example.test"), (10, "b.example.test"), (10, "c.example.test"), (5, "first.example.test"), (20, "last.example.test"))
            .Host("first.example.test", "127.0.0.1").Host("a.example.test", "127.0.0.2").Host("b.example.test", "127.0.0.3")
            .Host("c.example.test", "127.0.0.4").Host("last.example.test", "127.0.0.5");
        MxRouter router = Router(dns, o => o.MaxAddresses = 0, seed: 12345);

        var orders = new Dictionary<string, int>();
        for (int i = 0; i < 1200; i++)
        {
            string[] names = Names(await router.RouteAsync("example.test", CancellationToken.None));
            Assert.Equal("first.example.test", names[0]);
            Assert.Equal("last.example.test", names[4]);
            string middle = string.Join(",", names[1..4]);
            orders[middle] = orders.GetValueOrDefault(middle) + 1;
        }

        // 3! = 6 orders, 200 expected each; a fair shuffle puts each well above 120 (p < 1e-8 otherwise).
        Assert.Equal(6, orders.Count);
        Assert.All(orders.Values, count => Assert.InRange(count, 120, 280));
    }

    [Fact]
    public async Task Mx_ShuffleIsDeterministicForAGivenRandom()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "a.example.test"), (10, "b.example.test"), (10, "c.example.test"))
            .Host("a.example.test", "127.0.0.2").Host("b.example.test", "127.0.0.3").Host("c.example.test", "127.0.0.4");

        string[] first = Names(await Router(dns, seed: 7).RouteAsync("example.test", CancellationToken.None));
        string[] second = Names(await Router(dns, seed: 7).RouteAsync("example.test", CancellationToken.None));

        Assert.Equal(first, second);
    }

    [Fact]
    public async Task NoMxRecords_TheDomainIsItsOwnMx_Preference0()
    {
        var dns = new FakeDnsResolver().Mx("example.test", DnsStatus.NoRecords).Host("example.test", "::1", "127.0.0.7");

        Route route = await Router(dns).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(RouteStatus.Ok, route.Status);
        RouteHost host = Assert.Single(route.Hosts);
        Assert.Equal("example.test", host.Name);
        Assert.Equal(0, host.Preference);
        Assert.Equal([new IPEndPoint(IPAddress.IPv6Loopback, 25), new IPEndPoint(IPAddress.Parse("127.0.0.7"), 25)], host.Addresses);
    }

    [Fact]
    public async Task NoMxRecords_AndNoAddresses_IsUnableToRoute()
    {
        var dns = new FakeDnsResolver().Mx("example.test", DnsStatus.NoRecords).Host("example.test", DnsStatus.NoRecords);

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.PermanentFailure, "5.4.4", "Unable to route");
    }

    [Fact]
    public async Task NullMx_DoesNotAcceptMail()
    {
        var dns = new FakeDnsResolver().Mx("example.test", (0, ""));

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.PermanentFailure, "5.1.10", "Domain does not accept mail");
        Assert.Equal(["MX example.test"], dns.Queries);
    }

    [Fact]
    public async Task NullMx_BesideRealMx_IsIgnored()
    {
        var dns = new FakeDnsResolver().Mx("example.test", (0, ""), (10, "mx1.example.test")).Host("mx1.example.test", "127.0.0.11");

        Route route = await Router(dns).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(["mx1.example.test"], Names(route));
    }

    [Fact]
    public async Task Nxdomain_IsDomainNotFound()
    {
        AssertFailure(await Router(new FakeDnsResolver()).RouteAsync("nowhere.test", CancellationToken.None), RouteStatus.PermanentFailure, "5.1.2", "Domain not found");
    }

    [Fact]
    public async Task MxLookupFailure_IsTemporary()
    {
        var dns = new FakeDnsResolver().Mx("example.test", DnsStatus.TemporaryFailure);

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.TemporaryFailure, "4.4.3", "DNS lookup failed");
    }

    [Fact]
    public async Task EveryHostsAddressLookupFailing_IsTemporary()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "mx1.example.test"), (20, "mx2.example.test"))
            .Host("mx1.example.test", DnsStatus.TemporaryFailure)
            .Host("mx2.example.test", DnsStatus.TemporaryFailure);

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.TemporaryFailure, "4.4.3", "DNS lookup failed");
    }

    [Fact]
    public async Task ImplicitMxAddressLookupFailing_IsTemporary()
    {
        var dns = new FakeDnsResolver().Mx("example.test", DnsStatus.NoRecords).Host("example.test", DnsStatus.TemporaryFailure);

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.TemporaryFailure, "4.4.3", "DNS lookup failed");
    }

    [Fact]
    public async Task HostsThatDoNotResolve_AreSkipped()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "gone.example.test"), (20, "nodata.example.test"), (30, "broken.example.test"), (40, "mx4.example.test"))
            .Host("nodata.example.test", DnsStatus.NoRecords)
            .Host("broken.example.test", DnsStatus.TemporaryFailure)
            .Host("mx4.example.test", "127.0.0.14");

        Route route = await Router(dns).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(RouteStatus.Ok, route.Status);
        Assert.Equal(["mx4.example.test"], Names(route));
    }

    [Fact]
    public async Task NoHostResolves_AllNotFound_IsUnableToRoute()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "gone.example.test"), (20, "nodata.example.test"))
            .Host("nodata.example.test", DnsStatus.NoRecords);

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.PermanentFailure, "5.4.4", "Unable to route");
    }

    [Fact]
    public async Task NoHostResolves_OneTemporary_IsTemporary()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "gone.example.test"), (20, "broken.example.test"))
            .Host("broken.example.test", DnsStatus.TemporaryFailure);

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.TemporaryFailure, "4.4.3", "DNS lookup failed");
    }

    [Fact]
    public async Task OurNameAsMx_DropsItAndEveryHostOfEqualOrWorsePreference()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (5, "primary.example.test"), (10, "MAIL.OURS.TEST"), (10, "peer.example.test"), (20, "backup.example.test"))
            .Host("primary.example.test", "127.0.0.5").Host("peer.example.test", "127.0.0.10").Host("backup.example.test", "127.0.0.20");

        Route route = await Router(dns).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(["primary.example.test"], Names(route));
        // Hosts at or after our preference are not even looked up.
        Assert.DoesNotContain("A/AAAA backup.example.test", dns.Queries);
        Assert.DoesNotContain("A/AAAA mail.ours.test", dns.Queries);
    }

    [Fact]
    public async Task OurNameAsBestMx_LoopsBackToMyself()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, Us), (20, "backup.example.test"))
            .Host("backup.example.test", "127.0.0.20");

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.PermanentFailure, "5.4.6", "mail for example.test loops back to myself");
    }

    [Fact]
    public async Task OurAddressAsMx_IsUs()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (5, "primary.example.test"), (10, "alias-of-us.example.test"), (20, "backup.example.test"))
            .Host("primary.example.test", "127.0.0.5")
            .Host("alias-of-us.example.test", "::ffff:192.0.2.25")
            .Host("backup.example.test", "127.0.0.20");

        Route route = await Router(dns).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(["primary.example.test"], Names(route));
    }

    [Fact]
    public async Task OurAddressAsBestMx_LoopsBackToMyself()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "alias-of-us.example.test"), (10, "peer.example.test"))
            .Host("alias-of-us.example.test", "192.0.2.25")
            .Host("peer.example.test", "127.0.0.10");

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.PermanentFailure, "5.4.6", "mail for example.test loops back to myself");
    }

    [Fact]
    public async Task ImplicitMxWithOurAddress_LoopsBackToMyself()
    {
        var dns = new FakeDnsResolver().Mx("example.test", DnsStatus.NoRecords).Host("example.test", "192.0.2.25");

        AssertFailure(await Router(dns).RouteAsync("example.test", CancellationToken.None), RouteStatus.PermanentFailure, "5.4.6", "mail for example.test loops back to myself");
    }

    [Fact]
    public async Task OurAddressOnAPortWeDoNotListenOnIsAnotherServer()
    {
        // We listen on 192.0.2.25:2500; a route to [192.0.2.25]:2626 (a content filter, a test sink) is not us.
        Route other = await Router(new FakeDnsResolver(), o =>
        {
            o.LocalPorts = [2500];
            o.RelayHost = NextHop.Parse("[192.0.2.25]:2626");
        }).RouteAsync("example.test", CancellationToken.None);
        Route self = await Router(new FakeDnsResolver(), o =>
        {
            o.LocalPorts = [2500];
            o.RelayHost = NextHop.Parse("[192.0.2.25]:2500");
        }).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(RouteStatus.Ok, other.Status);
        Assert.Equal([new IPEndPoint(IPAddress.Parse("192.0.2.25"), 2626)], Assert.Single(other.Hosts).Addresses);
        AssertFailure(self, RouteStatus.TemporaryFailure, "4.4.4", "mail for example.test loops back to myself");
    }

    [Fact]
    public async Task LoopbackIsNotUsUnlessConfigured()
    {
        var dns = new FakeDnsResolver().Mx("example.test", (10, "mx1.example.test")).Host("mx1.example.test", "127.0.0.1", "::1");

        Route route = await Router(dns, o => o.LocalAddresses = []).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(RouteStatus.Ok, route.Status);
        Assert.Equal(2, route.Hosts[0].Addresses.Count);
    }

    [Fact]
    public async Task Addresses_AreLimitedInRouteOrder()
    {
        var dns = new FakeDnsResolver()
            .Mx("example.test", (10, "mx1.example.test"), (20, "mx2.example.test"), (30, "mx3.example.test"), (40, "mx4.example.test"))
            .Host("mx1.example.test", "127.0.0.1", "127.0.0.2")
            .Host("mx2.example.test", "127.0.0.3", "127.0.0.4")
            .Host("mx3.example.test", "127.0.0.5", "127.0.0.6")
            .Host("mx4.example.test", "127.0.0.7");

        Route route = await Router(dns).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(["mx1.example.test", "mx2.example.test", "mx3.example.test"], Names(route));
        Assert.Equal(5, route.Hosts.Sum(h => h.Addresses.Count));
        Assert.Equal([new IPEndPoint(IPAddress.Parse("127.0.0.5"), 25)], route.Hosts[2].Addresses);
        Assert.DoesNotContain("A/AAAA mx4.example.test", dns.Queries);
    }

    [Fact]
    public async Task DefaultPort_AppliesToMxHosts()
    {
        var dns = new FakeDnsResolver().Mx("example.test", (10, "mx1.example.test")).Host("mx1.example.test", "127.0.0.11");

        Route route = await Router(dns, o => o.DefaultPort = 2525).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("127.0.0.11"), 2525), route.Hosts[0].Addresses[0]);
    }

    [Fact]
    public async Task DomainRoute_WinsOverRelayHost_AndBracketsSkipTheMxLookup()
    {
        var dns = new FakeDnsResolver().Host("smtp.partner.test", "127.0.0.30").Host("relay.ours.test", "127.0.0.40");
        MxRouter router = Router(dns, o =>
        {
            o.RelayHost = NextHop.Parse("[relay.ours.test]");
            o.Routes = new Dictionary<string, NextHop> { ["Partner.Test"] = NextHop.Parse("[smtp.partner.test]:587") };
        });

        Route route = await router.RouteAsync("partner.test", CancellationToken.None);

        Assert.Equal(RouteStatus.Ok, route.Status);
        Assert.Equal("[smtp.partner.test]:587", route.Destination);
        Assert.Equal([new RouteHost("smtp.partner.test", 0, [new IPEndPoint(IPAddress.Parse("127.0.0.30"), 587)])], route.Hosts, HostComparer.Instance);
        Assert.Equal(["A/AAAA smtp.partner.test"], dns.Queries);
    }

    [Fact]
    public async Task RelayHost_WinsOverMx()
    {
        var dns = new FakeDnsResolver().Mx("example.test", (10, "mx1.example.test")).Host("relay.ours.test", "127.0.0.40");

        Route route = await Router(dns, o => o.RelayHost = NextHop.Parse("[relay.ours.test]")).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal("[relay.ours.test]", route.Destination);
        Assert.Equal([new IPEndPoint(IPAddress.Parse("127.0.0.40"), 25)], route.Hosts[0].Addresses);
        Assert.Equal(["A/AAAA relay.ours.test"], dns.Queries);
    }

    [Fact]
    public async Task NextHopWithoutBrackets_UsesItsMx_OnItsPort()
    {
        var dns = new FakeDnsResolver()
            .Mx("relay.ours.test", (10, "out1.ours.test"))
            .Host("out1.ours.test", "127.0.0.41");

        Route route = await Router(dns, o => o.RelayHost = NextHop.Parse("relay.ours.test:2525")).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal("relay.ours.test:2525", route.Destination);
        Assert.Equal([new RouteHost("out1.ours.test", 10, [new IPEndPoint(IPAddress.Parse("127.0.0.41"), 2525)])], route.Hosts, HostComparer.Instance);
    }

    [Fact]
    public async Task LiteralNextHop_NeedsNoDns()
    {
        var dns = new FakeDnsResolver();

        Route route = await Router(dns, o => o.RelayHost = NextHop.Parse("[::1]:2525")).RouteAsync("example.test", CancellationToken.None);

        Assert.Equal("[::1]:2525", route.Destination);
        Assert.Equal([new IPEndPoint(IPAddress.IPv6Loopback, 2525)], route.Hosts[0].Addresses);
        Assert.Empty(dns.Queries);
    }

    [Fact]
    public async Task ConfiguredNextHopNotFound_IsTemporary()
    {
        Route route = await Router(new FakeDnsResolver(), o => o.RelayHost = NextHop.Parse("[relay.gone.test]")).RouteAsync("example.test", CancellationToken.None);

        AssertFailure(route, RouteStatus.TemporaryFailure, "4.4.4", "Unable to route");
        Assert.Equal("[relay.gone.test]", route.Destination);
    }

    [Fact]
    public async Task ConfiguredNextHopPointingAtUs_IsTemporary()
    {
        Route route = await Router(new FakeDnsResolver(), o => o.RelayHost = NextHop.Parse("[192.0.2.25]")).RouteAsync("example.test", CancellationToken.None);

        AssertFailure(route, RouteStatus.TemporaryFailure, "4.4.4", "mail for example.test loops back to myself");
    }

    [Fact]
    public async Task AddressLiteralDomain_IsUsedDirectly()
    {
        var dns = new FakeDnsResolver();

        Route route = await Router(dns).RouteAsync("[IPv6:2001:db8::5]", CancellationToken.None);

        Assert.Equal(RouteStatus.Ok, route.Status);
        Assert.Equal([new IPEndPoint(IPAddress.Parse("2001:db8::5"), 25)], route.Hosts[0].Addresses);
        Assert.Empty(dns.Queries);
    }

    [Fact]
    public async Task AddressLiteralDomainOfOurs_LoopsBackToMyself()
    {
        Route route = await Router(new FakeDnsResolver()).RouteAsync("[192.0.2.25]", CancellationToken.None);

        Assert.Equal(RouteStatus.PermanentFailure, route.Status);
        Assert.Equal(new EnhancedStatusCode(5, 4, 6), route.StatusCode);
    }

    /// <summary>RouteHost holds a list: compare its contents, not the list reference.</summary>
    private sealed class HostComparer : IEqualityComparer<RouteHost>
    {
        public static readonly HostComparer Instance = new();

        public bool Equals(RouteHost? x, RouteHost? y)
            => x is not null && y is not null && x.Name == y.Name && x.Preference == y.Preference && x.Addresses.SequenceEqual(y.Addresses);

        public int GetHashCode(RouteHost obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}

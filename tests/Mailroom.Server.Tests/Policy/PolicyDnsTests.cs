using System.Net;
using Mailroom.Dns;
using Mailroom.Server.Policy;
using Mailroom.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using static Mailroom.Server.Tests.Policy.PolicyTestSupport;

namespace Mailroom.Server.Tests.Policy;

/// <summary>
/// The zone of the DNS-level policy tests: dnsmasq answering for policy.test and 127.in-addr.arpa
/// from its arguments, so a name or a reverse name without records is NXDOMAIN.
/// </summary>
public sealed class PolicyZoneFixture : IAsyncLifetime
{
    private Dnsmasq? _server;

    internal Dnsmasq Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await Dnsmasq.StartAsync(
    [
        // Answered from these arguments only; any other name inside is NXDOMAIN. (Not an
        // --auth-zone: in authoritative mode dnsmasq serves no --ptr-record without its A.)
        "--local=/policy.test/",
        "--local=/127.in-addr.arpa/",

        // 127.0.0.21: PTR confirmed.ptr.policy.test, whose A is 127.0.0.21 (forward-confirmed).
        "--host-record=confirmed.ptr.policy.test,127.0.0.21",

        // 127.0.0.22: PTR liar.ptr.policy.test, whose A is another address (not confirmed).
        "--ptr-record=22.0.0.127.in-addr.arpa,liar.ptr.policy.test",
        "--host-record=liar.ptr.policy.test,127.0.0.99",

        // 127.0.0.23: no PTR at all.

        // Sender domains: an MX, an A only, a null MX; missing.policy.test does not exist.
        "--mx-host=mx.policy.test,mail.policy.test,10",
        "--host-record=mail.policy.test,127.0.0.30",
        "--host-record=aonly.policy.test,127.0.0.31",
        "--mx-host=nullmx.policy.test,.,0",

        // DNSBL zone bl.policy.test lists 127.0.0.2 (RFC 5782 §5 test point); 127.0.0.3 gets an error code.
        "--host-record=2.0.0.127.bl.policy.test,127.0.0.2",
        "--host-record=3.0.0.127.bl.policy.test,127.255.255.254",
    ]);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>Each check's accept and refuse path against a real DNS server (dnsmasq on loopback).</summary>
public sealed class PolicyDnsTests(PolicyZoneFixture fixture) : IClassFixture<PolicyZoneFixture>
{
    private IDnsResolver Resolver() => new DnsClientResolver(
        new DnsResolverOptions { Servers = [fixture.Server.EndPoint], Timeout = TimeSpan.FromSeconds(2), Retries = 0 },
        TimeProvider.System,
        NullLogger<DnsClientResolver>.Instance);

    [Theory]
    [InlineData("127.0.0.21", IprevStatus.Pass, "confirmed.ptr.policy.test")]
    [InlineData("127.0.0.22", IprevStatus.Fail, null)]
    [InlineData("127.0.0.23", IprevStatus.PermError, null)]
    public async Task Iprev(string client, IprevStatus status, string? name)
    {
        var context = Context(client, local: null);
        Assert.Equal(PolicyAction.Accept, (await NewPolicy(Resolver()).OnConnectAsync(context, default)).Action);

        Assert.Equal(status, context.Iprev.Status);
        Assert.Equal(name, context.Iprev.ConfirmedName);
    }

    [Theory]
    [InlineData(ReverseDnsMode.RequireConfirmed, "127.0.0.21", null)]
    [InlineData(ReverseDnsMode.RequireConfirmed, "127.0.0.22", "5.7.25")]
    [InlineData(ReverseDnsMode.RequirePtr, "127.0.0.22", null)]
    [InlineData(ReverseDnsMode.RequirePtr, "127.0.0.23", "5.7.25")]
    public async Task ReverseDnsModes(ReverseDnsMode mode, string client, string? status)
    {
        var policy = NewPolicy(Resolver(), Options(options: o => o with { ReverseDns = mode }));
        var context = Context(client, local: null);
        await policy.OnConnectAsync(context, default);

        var decision = await policy.OnMailAsync(context, Path("someone@mx.policy.test"), default);

        if (status is null)
        {
            Assert.Equal(PolicyAction.Accept, decision.Action);
        }
        else
        {
            AssertReply(decision, PolicyAction.Reject, 550, status);
        }
    }

    [Theory]
    [InlineData("a@mx.policy.test", null, null)]
    [InlineData("a@aonly.policy.test", null, null)]
    [InlineData("a@missing.policy.test", 550, "5.1.8")]
    [InlineData("a@nullmx.policy.test", 550, "5.7.27")]
    public async Task SenderDomain(string sender, int? code, string? status)
    {
        var decision = await NewPolicy(Resolver()).OnMailAsync(Context("127.0.0.21"), Path(sender), default);

        if (code is null)
        {
            Assert.Equal(PolicyAction.Accept, decision.Action);
        }
        else
        {
            AssertReply(decision, PolicyAction.Reject, code.Value, status!);
        }
    }

    [Fact]
    public async Task SenderDomain_ServerDown_Is451_443()
    {
        // Nothing listens on this port: every query times out.
        var dead = new DnsClientResolver(
            new DnsResolverOptions { Servers = [new IPEndPoint(IPAddress.Loopback, 9)], Timeout = TimeSpan.FromMilliseconds(200), Retries = 0 },
            TimeProvider.System,
            NullLogger<DnsClientResolver>.Instance);

        var decision = await NewPolicy(dead).OnMailAsync(Context(), Path("a@mx.policy.test"), default);

        AssertReply(decision, PolicyAction.Defer, 451, "4.4.3");
    }

    [Theory]
    [InlineData("127.0.0.2", true)]
    [InlineData("127.0.0.3", false)] // 127.255.255.254: an error code, ignored
    [InlineData("127.0.0.21", false)]
    public async Task Dnsbl(string client, bool listed)
    {
        var policy = NewPolicy(Resolver(), Options(options: o => o with { DnsblZones = ["bl.policy.test"] }));
        var context = Context(client, local: null);
        await policy.OnConnectAsync(context, default);

        var decision = await policy.OnMailAsync(context, Path("a@mx.policy.test"), default);

        if (listed)
        {
            AssertReply(decision, PolicyAction.Reject, 554, "5.7.1", $"Service unavailable; client [{client}] blocked using bl.policy.test");
        }
        else
        {
            Assert.Equal(PolicyAction.Accept, decision.Action);
        }
    }
}

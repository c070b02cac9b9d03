using System.Net;
using Mailroom.Dns;
using Mailroom.Server.Policy;
using Mailroom.Testing;
using Mailroom.Tests.Shared.Policy;
using Microsoft.Extensions.Logging.Abstractions;
using static Mailroom.Server.Tests.Policy.PolicyTestSupport;

namespace Mailroom.Server.Tests.Policy;

/// <summary>Each check's accept and refuse path against a real DNS server (dnsmasq on loopback).</summary>
public sealed class PolicyDnsTests(PolicyZone fixture) : IClassFixture<PolicyZone>
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

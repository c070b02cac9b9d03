using System.Net;
using Mailroom.Dns;
using Mailroom.Server.Policy;
using static Mailroom.Server.Tests.Policy.PolicyTestSupport;

using Mailroom.Tests.Shared.Dns;

namespace Mailroom.Server.Tests.Policy;

public sealed class ReverseDnsTests
{
    private static readonly FakeDnsResolver s_dns = new FakeDnsResolver()
        .Mx("sender.example", (10, "mx.sender.example"))
        .Ptr("192.0.2.10", "fake.example", "good.example")
        .Host("fake.example", "198.51.100.1")
        .Host("good.example", "2001:db8::1", "192.0.2.10")
        .Ptr("192.0.2.11", "liar.example")
        .Host("liar.example", "198.51.100.2")
        .Ptr("192.0.2.12", DnsStatus.NoRecords)
        .Ptr("192.0.2.13", DnsStatus.TemporaryFailure)
        .Ptr("192.0.2.14", "flaky.example")
        .Host("flaky.example", DnsStatus.TemporaryFailure)
        .Ptr("192.0.2.15", "gone.example");

    [Theory]
    [InlineData("192.0.2.10", IprevStatus.Pass, "good.example")]
    [InlineData("192.0.2.11", IprevStatus.Fail, null)]
    [InlineData("192.0.2.15", IprevStatus.Fail, null)] // the PTR name's forward look-up is NXDOMAIN
    [InlineData("192.0.2.12", IprevStatus.PermError, null)]
    [InlineData("192.0.2.99", IprevStatus.PermError, null)]
    [InlineData("192.0.2.13", IprevStatus.TempError, null)]
    [InlineData("192.0.2.14", IprevStatus.TempError, null)]
    public async Task Connect_RecordsTheIprevResult(string client, IprevStatus status, string? name)
    {
        var context = Context(client);
        var decision = await NewPolicy(s_dns).OnConnectAsync(context, default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
        Assert.Equal(status, context.Iprev.Status);
        Assert.Equal(name, context.Iprev.ConfirmedName);
        Assert.Equal(name ?? "unknown", context.Iprev.ReceivedName);

        // Record (the default) never refuses.
        Assert.Equal(PolicyAction.Accept, (await NewPolicy(s_dns).OnMailAsync(context, Path("a@sender.example"), default)).Action);
    }

    [Fact]
    public async Task AuthenticationResultsEntry_FollowsRfc8601()
    {
        var context = Context("192.0.2.10");
        await NewPolicy(s_dns).OnConnectAsync(context, default);

        Assert.Equal("iprev=pass policy.iprev=192.0.2.10 (good.example)", context.Iprev.AuthenticationResultsEntry);
        Assert.Equal(["fake.example", "good.example"], context.Iprev.PtrNames);
    }

    [Theory]
    [InlineData(ReverseDnsMode.RequirePtr, "192.0.2.10", null, null)]
    [InlineData(ReverseDnsMode.RequirePtr, "192.0.2.11", null, null)]
    [InlineData(ReverseDnsMode.RequirePtr, "192.0.2.12", 550, "5.7.25")]
    [InlineData(ReverseDnsMode.RequirePtr, "192.0.2.13", 450, "4.7.25")]
    [InlineData(ReverseDnsMode.RequireConfirmed, "192.0.2.10", null, null)]
    [InlineData(ReverseDnsMode.RequireConfirmed, "192.0.2.11", 550, "5.7.25")]
    [InlineData(ReverseDnsMode.RequireConfirmed, "192.0.2.12", 550, "5.7.25")]
    [InlineData(ReverseDnsMode.RequireConfirmed, "192.0.2.14", 450, "4.7.25")]
    public async Task Modes_RefuseAtMail(ReverseDnsMode mode, string client, int? code, string? status)
    {
        var policy = NewPolicy(s_dns, Options(options: o => o with { ReverseDns = mode }));
        var context = Context(client);
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(context, default)).Action);

        var decision = await policy.OnMailAsync(context, Path("a@sender.example"), default);

        if (code is null)
        {
            Assert.Equal(PolicyAction.Accept, decision.Action);
        }
        else
        {
            AssertReply(decision, code >= 500 ? PolicyAction.Reject : PolicyAction.Defer, code.Value, status!, "Client host rejected");
        }
    }
}

public sealed class DnsblTests
{
    [Theory]
    [InlineData("192.0.2.99", "99.2.0.192")]
    [InlineData("127.0.0.2", "2.0.0.127")]
    [InlineData("2001:db8:1:2:3:4:567:89ab", "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2")]
    public void ReversedName_FollowsRfc5782(string address, string expected)
        => Assert.Equal(expected, DnsblCheck.ReversedName(IPAddress.Parse(address)));

    [Theory]
    [InlineData("127.0.0.2", true)]
    [InlineData("127.0.0.11", true)]
    [InlineData("127.0.1.2", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.255.255.254", false)]
    [InlineData("127.255.255.255", false)]
    [InlineData("192.0.2.1", false)]
    public void IsListing(string answer, bool listed) => Assert.Equal(listed, DnsblCheck.IsListing(IPAddress.Parse(answer)));

    private static readonly FakeDnsResolver s_dns = new FakeDnsResolver()
        .Mx("sender.example", (10, "mx.sender.example"))
        .Host("2.0.0.127.broken.example", DnsStatus.TemporaryFailure)
        .Host("2.0.0.127.errors.example", "127.255.255.254")
        .Host("2.0.0.127.bl.example", "127.0.0.2")
        .Host("2.0.0.127.other.example", "127.0.0.4");

    [Fact]
    public async Task Listed_IsRefusedAtMail_554_571_NamingTheFirstListingZone()
    {
        var options = Options(options: o => o with { DnsblZones = ["broken.example", "errors.example", "bl.example", "other.example"] });
        var policy = NewPolicy(s_dns, options);
        var context = Context("127.0.0.2");
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(context, default)).Action);

        var decision = await policy.OnMailAsync(context, Path("a@sender.example"), default);

        AssertReply(decision, PolicyAction.Reject, 554, "5.7.1", "Service unavailable; client [127.0.0.2] blocked using bl.example");
    }

    [Fact]
    public async Task FailingZonesAndErrorCodes_AreSkipped()
    {
        var options = Options(options: o => o with { DnsblZones = ["broken.example", "errors.example"] });
        var policy = NewPolicy(s_dns, options);
        var context = Context("127.0.0.2");
        await policy.OnConnectAsync(context, default);

        Assert.Equal(PolicyAction.Accept, (await policy.OnMailAsync(context, Path("a@sender.example"), default)).Action);
    }

    [Fact]
    public async Task NotListed_IsAccepted()
    {
        var policy = NewPolicy(s_dns, Options(options: o => o with { DnsblZones = ["bl.example"] }));
        var context = Context("127.0.0.3");
        await policy.OnConnectAsync(context, default);

        Assert.Equal(PolicyAction.Accept, (await policy.OnMailAsync(context, Path("a@sender.example"), default)).Action);
    }
}

using Mailroom.Dns;
using Mailroom.Protocol;
using Mailroom.Server.Policy;
using Mailroom.Server.Smtp;
using static Mailroom.Server.Tests.Policy.PolicyTestSupport;

using Mailroom.Tests.Shared.Dns;

namespace Mailroom.Server.Tests.Policy;

public sealed class SenderDomainTests
{
    private static readonly FakeDnsResolver s_dns = new FakeDnsResolver()
        .Mx("mx.example", (10, "mail.mx.example"))
        .Host("aonly.example", "192.0.2.5")
        .Mx("aonly.example", DnsStatus.NoRecords)
        .Mx("nullmx.example", (0, ""))
        .Mx("servfail.example", DnsStatus.TemporaryFailure)
        .Host("servfail.example", DnsStatus.TemporaryFailure)
        .Mx("nodata.example", DnsStatus.NoRecords)
        .Host("nodata.example", DnsStatus.NoRecords)
        .Mx("mxfail.example", DnsStatus.TemporaryFailure)
        .Host("mxfail.example", "192.0.2.6");

    [Theory]
    [InlineData("user@mx.example")]
    [InlineData("user@aonly.example")]
    [InlineData("user@mxfail.example")]
    [InlineData("user@[192.0.2.1]")]
    public async Task Accepts_DomainWithMxOrAddress_AndAddressLiterals(string sender)
    {
        var decision = await NewPolicy(s_dns).OnMailAsync(Context(), Path(sender), default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
    }

    [Fact]
    public async Task Accepts_TheNullReversePath_WithoutAnyLookup()
    {
        var dns = new FakeDnsResolver();
        var decision = await NewPolicy(dns).OnMailAsync(Context(), SmtpPath.Null, default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
        Assert.DoesNotContain(dns.Queries, q => q.StartsWith("MX", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("user@missing.example", PolicyAction.Reject, 550, "5.1.8")]
    [InlineData("user@nodata.example", PolicyAction.Reject, 550, "5.1.8")]
    [InlineData("user@nullmx.example", PolicyAction.Reject, 550, "5.7.27")]
    [InlineData("user@servfail.example", PolicyAction.Defer, 451, "4.4.3")]
    public async Task Refuses_UnknownDomains(string sender, PolicyAction action, int code, string status)
    {
        var decision = await NewPolicy(s_dns).OnMailAsync(Context(), Path(sender), default);

        AssertReply(decision, action, code, status, "Sender address rejected");
    }

    [Fact]
    public async Task Off_AcceptsAnyDomain()
    {
        var options = Options(options: o => o with { RejectUnknownSenderDomain = false });
        var decision = await NewPolicy(s_dns, options).OnMailAsync(Context(), Path("user@missing.example"), default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
    }

    [Fact]
    public async Task AuthenticatedSessions_AreExempt_UnlessConfigured()
    {
        var context = Context();
        context.IsAuthenticated = true;

        var exempt = await NewPolicy(s_dns).OnMailAsync(context, Path("user@missing.example"), default);
        var applied = await NewPolicy(s_dns, Options(options: o => o with { ApplyToAuthenticated = true })).OnMailAsync(context, Path("user@missing.example"), default);

        Assert.Equal(PolicyAction.Accept, exempt.Action);
        AssertReply(applied, PolicyAction.Reject, 550, "5.1.8");
    }

    [Fact]
    public async Task TrustedClients_AreExempt_AsPostfixPermitMynetworks()
    {
        var context = Context();
        context.IsTrusted = true;

        var decision = await NewPolicy(s_dns).OnMailAsync(context, Path("user@missing.example"), default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
        Assert.False(NewPolicy(s_dns).AppliesTo(context));
    }

    [Fact]
    public async Task SubmissionListener_IsExempt_ByDefault()
    {
        var decision = await NewPolicy(s_dns).OnMailAsync(Context(role: SmtpListenerRole.Submission), Path("user@missing.example"), default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
    }

    [Fact]
    public async Task InternalError_IsA4xx()
    {
        var dns = new FakeDnsResolver { Throw = new InvalidOperationException("bug") };
        var decision = await NewPolicy(dns).OnMailAsync(Context(), Path("user@mx.example"), default);

        AssertReply(decision, PolicyAction.Defer, 451, "4.3.0");
    }
}

public sealed class HeloTests
{
    [Theory]
    [InlineData("client.example.org")]
    [InlineData("localhost")]
    [InlineData("[198.51.100.7]")]
    [InlineData("[IPv6:2001:db8::7]")]
    [InlineData("[192.0.2.10]")] // the client's own address
    public async Task Accepts_ValidNames(string helo)
    {
        var context = Context();
        var decision = await NewPolicy().OnHeloAsync(context, helo, default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
        Assert.Equal(helo, context.HeloName);
    }

    [Theory]
    [InlineData("-bad-.example")]
    [InlineData("under_score.example")]
    [InlineData("a..b")]
    [InlineData("[not-an-address]")]
    [InlineData("[300.1.1.1]")]
    public async Task Rejects_InvalidNames_501_552(string helo)
    {
        var decision = await NewPolicy().OnHeloAsync(Context(), helo, default);

        AssertReply(decision, PolicyAction.Reject, 501, "5.5.2", "Helo command rejected: Invalid name");
    }

    [Theory]
    [InlineData("mx.mailroom.test")]
    [InlineData("MX.Mailroom.Test")]
    [InlineData("[192.0.2.1]")]
    [InlineData("192.0.2.1")]
    [InlineData("other-name.mailroom.test")]
    public async Task Rejects_AClientClaimingToBeUs_550_571(string helo)
    {
        var options = Options(options: o => o with { OurNames = ["other-name.mailroom.test"] });
        var decision = await NewPolicy(options: options).OnHeloAsync(Context(local: "192.0.2.1"), helo, default);

        AssertReply(decision, PolicyAction.Reject, 550, "5.7.1", "Helo command rejected: You are not me");
    }

    [Fact]
    public async Task SubmissionListener_IsNotChecked()
    {
        var decision = await NewPolicy().OnHeloAsync(Context(role: SmtpListenerRole.Submission), "mx.mailroom.test", default);

        Assert.Equal(PolicyAction.Accept, decision.Action);
    }
}

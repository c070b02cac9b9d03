using System.Net;
using Mailroom.Authentication.Results;
using Mailroom.Authentication.Spf;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Authentication.Tests.Spf;

public sealed class SpfHeadersTests
{
    private static async Task<SpfCheckResult> CheckAsync(string record, string reversePath, string client = "192.0.2.1")
    {
        var resolver = new ZoneResolver().AddTxt("example.com", record);
        var evaluator = new SpfEvaluator(resolver, new FakeTimeProvider(), new SpfOptions { ReceivingHost = "mx.example.org" });
        return await evaluator.CheckMailFromAsync(IPAddress.Parse(client), reversePath, "mail.example.com", CancellationToken.None);
    }

    [Fact]
    public async Task ReceivedSpfOfAPass()
    {
        var result = await CheckAsync("v=spf1 ip4:192.0.2.0/24 -all", "user@example.com");

        Assert.Equal(
            "Received-SPF: pass (mx.example.org: domain of user@example.com designates 192.0.2.1 as permitted sender) "
            + "client-ip=192.0.2.1; envelope-from=\"user@example.com\"; helo=mail.example.com; receiver=mx.example.org; "
            + "identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";\r\n",
            SpfHeaders.ReceivedSpf(result, "mx.example.org"));
    }

    [Fact]
    public async Task ReceivedSpfOfAPermErrorCarriesTheProblem()
    {
        var result = await CheckAsync("v=spf1 ip4:192.0.2.300 -all", "user@example.com");

        Assert.Equal(SpfResult.PermError, result.Result);
        Assert.Contains("problem=\"example.com: invalid mechanism \\\"ip4:192.0.2.300\\\"\";", SpfHeaders.ReceivedSpfValue(result, "mx.example.org"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NullReversePathChecksTheHeloIdentity()
    {
        var resolver = new ZoneResolver().AddTxt("mail.example.com", "v=spf1 -all");
        var evaluator = new SpfEvaluator(resolver, new FakeTimeProvider());

        var result = await evaluator.CheckMailFromAsync(IPAddress.Parse("192.0.2.1"), "", "mail.example.com", CancellationToken.None);

        Assert.Equal(SpfResult.Fail, result.Result);
        Assert.Equal(SpfIdentity.Helo, result.Identity);
        Assert.Equal("postmaster@mail.example.com", result.Sender);
        Assert.Equal("spf=fail smtp.helo=mail.example.com", Resinfo(SpfHeaders.ToAuthenticationResult(result)));
    }

    [Fact]
    public async Task AuthenticationResultOfAMailFromCheck()
    {
        var result = await CheckAsync("v=spf1 ~all", "user@example.com");

        Assert.Equal("spf=softfail smtp.mailfrom=user@example.com", Resinfo(SpfHeaders.ToAuthenticationResult(result)));
    }

    [Fact]
    public async Task TheDefaultExplanationNamesSenderAndAddress()
    {
        var result = await CheckAsync("v=spf1 -all", "user@example.com");

        Assert.Equal("See https://www.open-spf.org/Why?id=user%40example.com&ip=192.0.2.1&r=mx.example.org", result.Explanation);
    }

    private static string Resinfo(AuthenticationResult result) =>
        AuthenticationResultsHeader.FormatValue("x", [result])["x;\r\n\t".Length..];
}

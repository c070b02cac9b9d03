using System.Net;
using Mailroom.Authentication.Spf;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Authentication.Tests.Spf;

/// <summary>
/// Every test of the OpenSPF RFC 7208 suite (tests/testdata/spf/openspf-rfc7208/rfc7208-tests.yml),
/// each over an in-memory resolver holding only its scenario's zone data, run as the reference
/// runner does: check_host(ip, domain of mailfrom or helo, mailfrom or postmaster@helo).
/// </summary>
public sealed class Rfc7208SuiteTests
{
    private static SpfSuite Suite => SpfSuite.Load("spf", "openspf-rfc7208", "rfc7208-tests.yml");

    public static TheoryData<string, string> Tests()
    {
        var data = new TheoryData<string, string>();
        foreach (var scenario in Suite.Scenarios)
        {
            foreach (var test in scenario.Tests)
            {
                data.Add(scenario.Description, test.Id);
            }
        }

        return data;
    }

    [Fact]
    public void TheSuiteHasItsPublishedSize() => Assert.Equal(203, Tests().Count);

    [Theory]
    [MemberData(nameof(Tests))]
    public async Task Rfc7208(string scenario, string id)
    {
        var test = Suite.Find(scenario, id);
        var resolver = Suite.ResolverFor(scenario);
        // The reference runner sets the default explanation to "DEFAULT" (PROVENANCE.md).
        var evaluator = new SpfEvaluator(resolver, new FakeTimeProvider(), new SpfOptions { DefaultExplanation = "DEFAULT" });

        var result = await evaluator.CheckMailFromAsync(IPAddress.Parse(test.Host), test.MailFrom, test.Helo, CancellationToken.None);

        var actual = result.Result.ToString().ToLowerInvariant();
        Assert.True(test.Results.Contains(actual), $"expected {string.Join(" or ", test.Results)}, got {actual} ({result.Problem}); DNS: {string.Join(", ", resolver.Queries)}");
        if (test.Explanation is not null && actual == "fail")
        {
            Assert.Equal(test.Explanation, result.Explanation);
        }
    }
}

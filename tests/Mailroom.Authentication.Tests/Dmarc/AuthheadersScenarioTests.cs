using System.Text.RegularExpressions;
using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Dmarc;
using MimeKit;
using YamlDotNet.RepresentationModel;

namespace Mailroom.Authentication.Tests.Dmarc;

/// <summary>
/// The DMARC scenarios of authheaders (tests/testdata/dmarc/authheaders/scenarios.yaml). DKIM results
/// come from the scenario's "prior" Authentication-Results (never verified again, RFC 7489), or from
/// our verifier for the signed messages (see DkimVerificationTests). Scenarios whose expectation rests
/// on DMARCbis or RFC 9091 (np=, the PSD tree walk), or on a choice where we deliberately differ,
/// assert our documented behaviour instead and say so.
/// </summary>
public sealed partial class AuthheadersScenarioTests
{
    private static readonly Lazy<YamlMappingNode> s_root = new(() =>
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(TestData.Text("dmarc", "authheaders", "scenarios.yaml")));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    });

    internal static ZoneResolver Zone()
    {
        var zone = new ZoneResolver();
        foreach (var (name, value) in ((YamlMappingNode)s_root.Value["dns"]).Children)
        {
            var text = ((YamlScalarNode)value).Value;
            var owner = ((YamlScalarNode)name).Value!;
            if (value is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } && (text is null or "null" or "~"))
            {
                continue; // NXDOMAIN
            }

            if (string.IsNullOrEmpty(text))
            {
                zone.Touch(owner);
            }
            else
            {
                zone.AddTxt(owner, text);
            }
        }

        return zone;
    }

    internal static YamlMappingNode Scenario(string id) =>
        ((YamlSequenceNode)s_root.Value["scenarios"]).Children.Cast<YamlMappingNode>().Single(s => Scalar(s["id"]) == id);

    internal static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    internal static string? Expect(YamlMappingNode scenario, string key) =>
        ((YamlMappingNode)scenario["expect"]).Children.TryGetValue(key, out var value) ? Scalar(value) : null;

    internal static HeaderList Headers(YamlMappingNode scenario)
    {
        var path = Scalar(scenario["message"]).Split('/');
        using var stream = File.OpenRead(TestData.PathOf(["dmarc", "authheaders", .. path]));
        return MimeMessage.Load(stream).Headers;
    }

    private static List<DkimSignatureResult> Prior(YamlMappingNode scenario)
    {
        if (!scenario.Children.TryGetValue("prior", out var prior))
        {
            return [];
        }

        return [.. DkimPrior().Matches(Scalar(prior)).Select(m =>
            new DkimSignatureResult(Enum.Parse<DkimResult>(m.Groups["result"].Value, ignoreCase: true), m.Groups["d"].Value, null))];
    }

    internal static DmarcEvaluator Evaluator() => new(Zone(), PublicSuffixList.Embedded, new Random(1));

    /// <summary>Scenarios that need no DKIM verification and no DMARCbis: the reference's result is ours.</summary>
    [Theory]
    [InlineData("dmarc_record_syntax_error")]
    [InlineData("subdomain_uses_org_sp")]
    [InlineData("np_existing_subdomain_uses_sp")]
    [InlineData("record_without_p_tag")]
    public async Task SameResultAsTheReference(string id)
    {
        var scenario = Scenario(id);

        var result = await Evaluator().CheckAsync(Headers(scenario), null, Prior(scenario), CancellationToken.None);

        Assert.Equal(Expect(scenario, "dmarc"), result.Result.ToString().ToLowerInvariant());
        if (Expect(scenario, "header_from") is { } from)
        {
            Assert.Equal(from, result.FromDomain);
        }

        if (Expect(scenario, "policy") is { } policy && result.Result != DmarcResult.PermError)
        {
            Assert.Equal(policy, result.RequestedPolicy?.ToString().ToLowerInvariant());
        }

        if (Expect(scenario, "record_used") is { } used)
        {
            Assert.Equal(used == "org-domain", result.UsedOrganizationalDomain);
        }
    }

    /// <summary>
    /// From without an address, and From with two mailboxes: the reference reports permerror / fails on
    /// one domain; we refuse the message (RFC 7489 §6.6.1 allows it, and the issue asks for it).
    /// </summary>
    [Theory]
    [InlineData("dmarc_from_without_address")]
    [InlineData("multiple_from_addresses_1")]
    [InlineData("multiple_from_addresses_2")]
    public async Task UnusableFromIsRefused(string id)
    {
        var scenario = Scenario(id);

        var result = await Evaluator().CheckAsync(Headers(scenario), null, Prior(scenario), CancellationToken.None);

        Assert.True(result.InvalidFrom);
        Assert.Equal(DmarcResult.PermError, result.Result);
        Assert.Equal(DmarcDisposition.Reject, result.Disposition);
        Assert.Null(result.FromDomain);
    }

    /// <summary>
    /// np= (RFC 9091, not RFC 7489): the reference applies np=reject to the non-existent sub.example.biz;
    /// an RFC 7489 receiver applies sp=quarantine, as the scenario's note says.
    /// </summary>
    [Fact]
    public async Task NonExistentSubdomainGetsSpUnderRfc7489()
    {
        var scenario = Scenario("np_nonexistent_subdomain");

        var result = await Evaluator().CheckAsync(Headers(scenario), null, Prior(scenario), CancellationToken.None);

        Assert.Equal(DmarcResult.Fail, result.Result);
        Assert.Equal("sub.example.biz", result.FromDomain);
        Assert.True(result.UsedOrganizationalDomain);
        Assert.Equal(DmarcPolicy.Quarantine, result.RequestedPolicy);
        Assert.Equal(DmarcDisposition.Quarantine, result.Disposition);
    }

    /// <summary>The From-domain extraction vectors.</summary>
    [Fact]
    public void FromDomainVectors()
    {
        var vectors = ((YamlSequenceNode)s_root.Value["from_domain_vectors"]).Children.Cast<YamlSequenceNode>().ToList();
        Assert.Equal(4, vectors.Count);
        foreach (var vector in vectors)
        {
            var headers = new HeaderList { new Header(HeaderId.From, Scalar(vector[0])) };
            Assert.Equal(Scalar(vector[1]), DmarcFromHeader.TryGetDomain(headers, out _));
        }
    }

    [GeneratedRegex(@"dkim=(?<result>\w+) header\.d=(?<d>[^\s;]+)")]
    private static partial Regex DkimPrior();
}

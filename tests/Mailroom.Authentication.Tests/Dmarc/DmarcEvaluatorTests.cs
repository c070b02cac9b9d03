using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Dmarc;
using Mailroom.Authentication.Results;
using Mailroom.Authentication.Spf;

namespace Mailroom.Authentication.Tests.Dmarc;

public sealed class DmarcEvaluatorTests
{
    private static DmarcEvaluator Evaluator(string record, Random? random = null, string owner = "_dmarc.example.com") =>
        new(new ZoneResolver().AddTxt(owner, record), PublicSuffixList.Embedded, random ?? new Random(1));

    private static DmarcInput Input(string from, SpfResult spf = SpfResult.None, string? spfDomain = null, params (DkimResult Result, string Domain)[] dkim) =>
        new(from, spf, spfDomain, [.. dkim.Select(d => new DkimSignatureResult(d.Result, d.Domain, "s"))]);

    [Theory]
    [InlineData("v=DMARC1; p=reject", "mail.example.com", DmarcResult.Pass)]
    [InlineData("v=DMARC1; p=reject; aspf=s", "mail.example.com", DmarcResult.Fail)]
    [InlineData("v=DMARC1; p=reject; aspf=s", "example.com", DmarcResult.Pass)]
    [InlineData("v=DMARC1; p=reject", "example.net", DmarcResult.Fail)]
    public async Task SpfAlignment(string record, string spfDomain, DmarcResult expected)
    {
        var result = await Evaluator(record).CheckAsync(Input("example.com", SpfResult.Pass, spfDomain), CancellationToken.None);

        Assert.Equal(expected, result.Result);
        Assert.Equal(expected == DmarcResult.Pass, result.SpfAligned);
    }

    [Theory]
    [InlineData("v=DMARC1; p=reject", "news.example.com", DkimResult.Pass, DmarcResult.Pass)]
    [InlineData("v=DMARC1; p=reject; adkim=s", "news.example.com", DkimResult.Pass, DmarcResult.Fail)]
    [InlineData("v=DMARC1; p=reject", "example.com", DkimResult.Fail, DmarcResult.Fail)]
    public async Task DkimAlignment(string record, string d, DkimResult dkim, DmarcResult expected)
    {
        var result = await Evaluator(record).CheckAsync(Input("example.com", SpfResult.Fail, "example.com", (dkim, d)), CancellationToken.None);

        Assert.Equal(expected, result.Result);
    }

    [Fact]
    public async Task SpfPassOfAnotherDomainDoesNotAlign()
    {
        var result = await Evaluator("v=DMARC1; p=quarantine").CheckAsync(
            Input("example.com", SpfResult.Pass, "bulk.example.net", (DkimResult.Pass, "example.net")), CancellationToken.None);

        Assert.Equal(DmarcResult.Fail, result.Result);
        Assert.Equal(DmarcDisposition.Quarantine, result.Disposition);
        Assert.Equal("dmarc=fail (p=quarantine dis=quarantine) header.from=example.com policy.dmarc=quarantine",
            AuthenticationResultsHeader.FormatValue("x", [result.ToAuthenticationResult()])["x;\r\n\t".Length..]);
    }

    [Fact]
    public async Task SubdomainFallsBackToTheOrganizationalDomainAndItsSp()
    {
        var result = await Evaluator("v=DMARC1; p=none; sp=reject").CheckAsync(Input("a.b.example.com"), CancellationToken.None);

        Assert.True(result.UsedOrganizationalDomain);
        Assert.Equal(DmarcPolicy.Reject, result.RequestedPolicy);
        Assert.Equal(DmarcDisposition.Reject, result.Disposition);
    }

    [Fact]
    public async Task PctLeavesSomeMessagesOutOfThePolicy()
    {
        // pct=50 with a seeded Random: over 1,000 messages, each is in or out of the sample, reject → quarantine when out.
        var evaluator = Evaluator("v=DMARC1; p=reject; pct=50", new Random(42));
        var rejected = 0;
        var quarantined = 0;
        for (var i = 0; i < 1000; i++)
        {
            var result = await evaluator.CheckAsync(Input("example.com"), CancellationToken.None);
            rejected += result.Disposition == DmarcDisposition.Reject ? 1 : 0;
            quarantined += result.Disposition == DmarcDisposition.Quarantine && result.SampledOut ? 1 : 0;
        }

        Assert.Equal(1000, rejected + quarantined);
        Assert.InRange(rejected, 400, 600);
    }

    [Fact]
    public async Task PctZeroNeverRejects()
    {
        var result = await Evaluator("v=DMARC1; p=quarantine; pct=0").CheckAsync(Input("example.com"), CancellationToken.None);

        Assert.Equal(DmarcResult.Fail, result.Result);
        Assert.Equal(DmarcDisposition.None, result.Disposition);
        Assert.True(result.SampledOut);
    }

    [Fact]
    public async Task NoRecordIsNone()
    {
        var result = await Evaluator("v=spf1 -all", owner: "example.com").CheckAsync(Input("example.com"), CancellationToken.None);

        Assert.Equal(DmarcResult.None, result.Result);
        Assert.Equal(DmarcDisposition.None, result.Disposition);
    }

    [Fact]
    public async Task DnsFailureIsTempError()
    {
        var zone = new ZoneResolver().Add("_dmarc.example.com", new ZoneResolver.Timeout());
        var evaluator = new DmarcEvaluator(zone, PublicSuffixList.Embedded, new Random(1));

        var result = await evaluator.CheckAsync(Input("example.com"), CancellationToken.None);

        Assert.Equal(DmarcResult.TempError, result.Result);
        Assert.Equal(DmarcDisposition.None, result.Disposition);
    }

    [Fact]
    public async Task TwoRecordsEndDiscovery()
    {
        var zone = new ZoneResolver()
            .AddTxt("_dmarc.a.example.com", "v=DMARC1; p=none")
            .AddTxt("_dmarc.a.example.com", "v=DMARC1; p=reject")
            .AddTxt("_dmarc.example.com", "v=DMARC1; p=reject");
        var evaluator = new DmarcEvaluator(zone, PublicSuffixList.Embedded, new Random(1));

        var result = await evaluator.CheckAsync(Input("a.example.com"), CancellationToken.None);

        Assert.Equal(DmarcResult.None, result.Result);
    }

    [Fact]
    public void RecordTags()
    {
        Assert.True(DmarcRecord.TryParse("v=DMARC1; p=quarantine; sp=none; adkim=s; aspf=r; pct=20; rua=mailto:a@example.com; ruf=mailto:f@example.com", out var record, out _));
        Assert.Equal(new DmarcRecord(DmarcPolicy.Quarantine, DmarcPolicy.None, DmarcAlignment.Strict, DmarcAlignment.Relaxed, 20, "mailto:a@example.com", "mailto:f@example.com"), record);
        // §6.6.3 step 6: an invalid p= with rua= is p=none.
        Assert.True(DmarcRecord.TryParse("v=DMARC1; p=bogus; rua=mailto:a@example.com", out record, out _));
        Assert.Equal(DmarcPolicy.None, record!.Policy);
        Assert.False(DmarcRecord.TryParse("p=reject; v=DMARC1", out _, out _));
    }

    [Theory]
    [InlineData("From: a@example.com\r\nFrom: b@example.com\r\n\r\n")]
    [InlineData("To: a@example.com\r\n\r\n")]
    [InlineData("From: a@example.com, b@example.com\r\n\r\n")]
    [InlineData("From: undisclosed:;\r\n\r\n")]
    [InlineData("From: <@>\r\n\r\n")]
    public async Task UnusableFromHeadersAreRefused(string message)
    {
        var headers = MimeKit.MimeMessage.Load(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(message))).Headers;

        var result = await Evaluator("v=DMARC1; p=none").CheckAsync(headers, null, [], CancellationToken.None);

        Assert.True(result.InvalidFrom);
        Assert.Equal(DmarcDisposition.Reject, result.Disposition);
        Assert.NotNull(result.Problem);
    }
}

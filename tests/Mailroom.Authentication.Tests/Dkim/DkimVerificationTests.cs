using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Dmarc;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Authentication.Tests.Dkim;

public sealed class DkimVerificationTests
{
    private static readonly FakeTimeProvider s_now = new(new DateTimeOffset(2026, 9, 1, 0, 0, 0, TimeSpan.Zero));

    internal static ZoneResolver Rfc8463Zone()
    {
        var zone = new ZoneResolver();
        foreach (var line in TestData.Text("dkim", "rfc8463-example", "dns-records.txt").Split('\n'))
        {
            if (line.StartsWith(';') || line.Trim().Length == 0)
            {
                continue;
            }

            var owner = line[..line.IndexOf(' ', StringComparison.Ordinal)];
            var text = line[(line.IndexOf('"', StringComparison.Ordinal) + 1)..line.LastIndexOf('"')];
            zone.AddTxt(owner, text);
        }

        return zone;
    }

    [Fact]
    public async Task Rfc8463ExampleBothSignaturesPass()
    {
        var verification = new DkimVerification(Rfc8463Zone(), s_now);

        var results = await verification.VerifyAsync(TestData.Bytes("dkim", "rfc8463-example", "rfc8463-signed-message.eml"), CancellationToken.None);

        Assert.Collection(
            results,
            ed => Assert.Equal(new DkimSignatureResult(DkimResult.Pass, "football.example.com", "brisbane") { Identity = "@football.example.com", Algorithm = "ed25519-sha256", KeyBits = 256, SignaturePrefix = ed.SignaturePrefix }, ed),
            rsa => Assert.Equal(new DkimSignatureResult(DkimResult.Pass, "football.example.com", "test") { Identity = "@football.example.com", Algorithm = "rsa-sha256", KeyBits = 1024, SignaturePrefix = rsa.SignaturePrefix }, rsa));
        Assert.Equal("dkim=pass (256-bit key) header.d=football.example.com header.i=@football.example.com header.s=brisbane header.a=ed25519-sha256 header.b=\"" + results[0].SignaturePrefix + "\"",
            Mailroom.Authentication.Results.AuthenticationResultsHeader.FormatValue("x", [results[0].ToAuthenticationResult()])["x;\r\n\t".Length..]);
    }

    [Fact]
    public async Task Rfc8463ExampleAlteredBodyFails()
    {
        var message = TestData.Text("dkim", "rfc8463-example", "rfc8463-signed-message.eml").Replace("Joe.", "Joe!", StringComparison.Ordinal);
        var verification = new DkimVerification(Rfc8463Zone(), s_now);

        var results = await verification.VerifyAsync(System.Text.Encoding.UTF8.GetBytes(message), CancellationToken.None);

        Assert.All(results, r => Assert.Equal(DkimResult.Fail, r.Result));
    }

    [Fact]
    public async Task DnsFailureIsTempErrorAndMissingKeyPermError()
    {
        var zone = new ZoneResolver().Add("brisbane._domainkey.football.example.com", new ZoneResolver.Timeout());
        var verification = new DkimVerification(zone, s_now);

        var results = await verification.VerifyAsync(TestData.Bytes("dkim", "rfc8463-example", "rfc8463-signed-message.eml"), CancellationToken.None);

        Assert.Equal([DkimResult.TempError, DkimResult.PermError], results.Select(r => r.Result));
    }

    [Fact]
    public async Task RevokedKeyIsPermError()
    {
        var zone = new ZoneResolver().AddTxt("brisbane._domainkey.football.example.com", "v=DKIM1; k=ed25519; p=");
        var results = await new DkimVerification(zone, s_now).VerifyAsync(TestData.Bytes("dkim", "rfc8463-example", "rfc8463-signed-message.eml"), CancellationToken.None);

        Assert.Equal(DkimResult.PermError, results[0].Result);
        Assert.Contains("revoked", results[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpiryIsJudgedOnTheInjectedClock()
    {
        var key = DkimKeyGenerator.Generate(DkimKeyAlgorithm.Ed25519);
        using var pem = new MemoryStream(System.Text.Encoding.ASCII.GetBytes(key.PrivateKeyPem));
        var signer = new MimeKit.Cryptography.DkimSigner(pem, "example.com", "x1", MimeKit.Cryptography.DkimSignatureAlgorithm.Ed25519Sha256)
        {
            SignaturesExpireAfter = TimeSpan.FromHours(1),
        };
        var message = new MimeKit.MimeMessage();
        message.From.Add(new MimeKit.MailboxAddress("", "a@example.com"));
        message.Body = new MimeKit.TextPart("plain") { Text = "hello\n" };
        signer.Sign(message, [MimeKit.HeaderId.From]);
        using var bytes = new MemoryStream();
        message.WriteTo(bytes);
        var zone = new ZoneResolver().AddTxt("x1._domainkey.example.com", key.KeyRecord);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);

        var before = await new DkimVerification(zone, clock).VerifyAsync(bytes.ToArray(), CancellationToken.None);
        clock.Advance(TimeSpan.FromHours(2));
        var after = await new DkimVerification(zone, clock).VerifyAsync(bytes.ToArray(), CancellationToken.None);

        Assert.Equal(DkimResult.Pass, before.Single().Result);
        Assert.Equal((DkimResult.PermError, "signature expired (x=)"), (after.Single().Result, after.Single().Reason));
    }

    [Fact]
    public async Task LengthTagThatLeavesBodyUnsignedFails()
    {
        // l=10 added to the RFC 8463 signatures: the relaxed body is longer, so neither may pass.
        var message = TestData.Text("dkim", "rfc8463-example", "rfc8463-signed-message.eml")
            .Replace("c=relaxed/relaxed;", "c=relaxed/relaxed; l=10;", StringComparison.Ordinal);

        var results = await new DkimVerification(Rfc8463Zone(), s_now).VerifyAsync(System.Text.Encoding.UTF8.GetBytes(message), CancellationToken.None);

        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal(DkimResult.Fail, r.Result));
        Assert.All(results, r => Assert.StartsWith("l= covers only 10 of ", r.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnsignedMessageHasNoResults()
    {
        var results = await new DkimVerification(new ZoneResolver(), s_now).VerifyAsync(TestData.Bytes("dkim", "rfc8463-example", "unsigned-message.eml"), CancellationToken.None);

        Assert.Empty(results);
        Assert.Equal(DkimResult.None, DkimVerification.NoSignature.Result);
    }

    [Theory]
    [InlineData("gmail.msg")]
    [InlineData("related.msg")]
    [InlineData("multipart-no-end-boundary.msg")]
    public async Task RealGmailMessagesPass(string file)
    {
        var pem = TestData.Text("dkim", "mimekit-dkim", "gmail.pub");
        var p = string.Concat(pem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal)).Select(l => l.Trim()));
        var zone = new ZoneResolver().AddTxt("20120113._domainkey.gmail.com", "k=rsa; p=" + p);

        var results = await new DkimVerification(zone, s_now).VerifyAsync(TestData.Bytes("dkim", "mimekit-dkim", file), CancellationToken.None);

        var result = Assert.Single(results);
        Assert.Equal(DkimResult.Pass, result.Result);
        Assert.Equal("gmail.com", result.Domain);
        Assert.Equal(2048, result.KeyBits);
    }

    /// <summary>The signed authheaders messages: DKIM verified here, then DMARC from that result.</summary>
    [Theory]
    [InlineData("dkim_only")]
    [InlineData("dmarc_pass_dkim_aligned")]
    [InlineData("from_display_name_with_comma")]
    public async Task AuthheadersSignedScenarios(string id)
    {
        var scenario = Dmarc.AuthheadersScenarioTests.Scenario(id);
        var path = Dmarc.AuthheadersScenarioTests.Scalar(scenario["message"]).Split('/');
        var dkim = await new DkimVerification(Dmarc.AuthheadersScenarioTests.Zone(), s_now).VerifyAsync(TestData.Bytes(["dmarc", "authheaders", .. path]), CancellationToken.None);

        var result = Assert.Single(dkim);
        Assert.Equal(Dmarc.AuthheadersScenarioTests.Expect(scenario, "dkim"), result.Result.ToString().ToLowerInvariant());
        Assert.Equal("example.com", result.Domain);
        if (Dmarc.AuthheadersScenarioTests.Expect(scenario, "dmarc") is { } expected)
        {
            var dmarc = await Dmarc.AuthheadersScenarioTests.Evaluator().CheckAsync(Dmarc.AuthheadersScenarioTests.Headers(scenario), null, dkim, CancellationToken.None);
            Assert.Equal(expected, dmarc.Result.ToString().ToLowerInvariant());
            Assert.Equal(DmarcPolicy.Reject, dmarc.RequestedPolicy);
            Assert.Equal(DmarcDisposition.None, dmarc.Disposition);
        }
    }

    // RFC 6376 §3.4.3 (simple): trailing empty lines go, an empty body is CRLF; §3.4.4 (relaxed): WSP runs
    // become one SP, WSP at line end goes, trailing empty lines go, an empty body is empty.
    [Theory]
    [InlineData("Hello.\r\n", false, 8)]
    [InlineData("Hello.\n\n\n", false, 8)]
    [InlineData("", false, 2)]
    [InlineData("", true, 0)]
    [InlineData("Hello. \t\r\n\r\n\r\n", false, 10)]
    [InlineData("Hello. \t\r\n\r\n\r\n", true, 8)]
    [InlineData("a  \t b\r\nc", true, 8)]
    public void CanonicalBodyLength(string body, bool relaxed, long expected) =>
        Assert.Equal(expected, DkimBodyCanonicalization.Length(System.Text.Encoding.ASCII.GetBytes(body), relaxed));
}

using System.Net;
using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Dmarc;
using Mailroom.Authentication.Results;
using Mailroom.Authentication.Spf;
using MimeKit;

namespace Mailroom.Authentication.Tests.Results;

public sealed class AuthenticationResultsHeaderTests
{
    [Fact]
    public void OneHeaderCarriesEveryMethod()
    {
        var client = IPAddress.Parse("192.0.2.1");
        var spf = new SpfCheckResult(SpfResult.Pass, SpfIdentity.MailFrom, "alice@example.com", "example.com", "mail.example.com", client);
        var dkim = new[] { new DkimSignatureResult(DkimResult.Pass, "example.com", "m1") { KeyBits = 2048 }, new DkimSignatureResult(DkimResult.Fail, "example.net", "s") { Reason = "signature or body hash did not verify" } };
        var dmarc = new DmarcCheckResult(DmarcResult.Pass, DmarcDisposition.None, "example.com")
        {
            Record = new DmarcRecord(DmarcPolicy.Reject, null, DmarcAlignment.Relaxed, DmarcAlignment.Relaxed, 100, null, null),
            RequestedPolicy = DmarcPolicy.Reject,
        };

        var header = AuthenticationResultsHeader.Compose("mx.example.org", AuthenticationResultsHeader.Iprev("pass", client, "mail.example.com"), spf, dkim, dmarc);

        Assert.Equal(
            "Authentication-Results: mx.example.org;\r\n"
            + "\tiprev=pass (mail.example.com) policy.iprev=192.0.2.1;\r\n"
            + "\tspf=pass smtp.mailfrom=alice@example.com;\r\n"
            + "\tdkim=pass (2048-bit key) header.d=example.com header.s=m1;\r\n"
            + "\tdkim=fail reason=\"signature or body hash did not verify\" header.d=example.net header.s=s;\r\n"
            + "\tdmarc=pass (p=reject dis=none) header.from=example.com policy.dmarc=reject\r\n",
            header);
    }

    [Fact]
    public void UnsignedMessageIsDkimNoneAndNothingCheckedIsNone()
    {
        Assert.Equal("Authentication-Results: mx.example.org;\r\n\tdkim=none\r\n", AuthenticationResultsHeader.Compose("mx.example.org", null, null, [], null));
        Assert.Equal("Authentication-Results: mx.example.org; none\r\n", AuthenticationResultsHeader.Compose("mx.example.org", null, null, null, null));
    }

    [Fact]
    public void HeadersClaimingOurAuthservIdAreRemoved()
    {
        const string text = "Authentication-Results: MX.example.org; spf=pass smtp.mailfrom=a@example.com\r\n"
            + "Authentication-Results: (comment) mx.example.org.; dkim=pass header.d=example.com\r\n"
            + "Authentication-Results: \"mx.example.org\"; dmarc=pass\r\n"
            + "Authentication-Results: lists.example.net; spf=pass smtp.mailfrom=b@example.net\r\n"
            + "Authentication-Results: mx.example.org.evil.test; dkim=pass\r\n"
            + "From: a@example.com\r\n\r\nbody\r\n";
        var message = MimeMessage.Load(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(text)));

        var removed = AuthenticationResultsHeader.RemoveForged(message.Headers, "mx.example.org");

        Assert.Equal(3, removed);
        Assert.Equal(
            ["lists.example.net; spf=pass smtp.mailfrom=b@example.net", "mx.example.org.evil.test; dkim=pass"],
            message.Headers.Where(h => h.Field == AuthenticationResultsHeader.Name).Select(h => h.Value.Trim()));
    }

    [Theory]
    [InlineData("a@example.com", "a@example.com")]
    [InlineData("example.com", "example.com")]
    [InlineData("x y", "\"x y\"")]
    [InlineData("a;b", "\"a;b\"")]
    public void PropertyValuesAreQuotedWhenNeeded(string value, string expected)
    {
        var header = AuthenticationResultsHeader.FormatValue("id", [new AuthenticationResult("spf", "pass") { Properties = [new AuthenticationProperty("smtp", "mailfrom", value)] }]);

        Assert.EndsWith($"smtp.mailfrom={expected}", header, StringComparison.Ordinal);
    }
}

using System.Text;

namespace Mailroom.Protocol.Tests;

public sealed class SmtpPathTests
{
    private static bool Parse(string text, out SmtpPath path, bool allowNull = true, bool allowPostmaster = true) =>
        SmtpPath.TryParse(Encoding.UTF8.GetBytes(text), allowNull, allowPostmaster, out path, out _);

    [Theory]
    [InlineData("<alice@example.com>", "alice", "example.com")]
    [InlineData("<Alice@EXAMPLE.com>", "Alice", "example.com")] // domains lowercased, local parts kept
    [InlineData("<a.b+tag@sub.example.org>", "a.b+tag", "sub.example.org")]
    [InlineData("<!#$%&'*+-/=?^_`{|}~@example.com>", "!#$%&'*+-/=?^_`{|}~", "example.com")]
    [InlineData("<\"john doe\"@example.com>", "\"john doe\"", "example.com")]
    [InlineData("<\"a\\\"b\"@example.com>", "\"a\\\"b\"", "example.com")]
    [InlineData("<\"x>y\"@example.com>", "\"x>y\"", "example.com")]
    [InlineData("<user@[192.0.2.1]>", "user", "[192.0.2.1]")]
    [InlineData("<user@[IPv6:2001:db8::1]>", "user", "[ipv6:2001:db8::1]")]
    [InlineData("<@relay.example,@b.example:user@c.example>", "user", "c.example")] // source route ignored
    [InlineData("<user@xn--bcher-kva.example>", "user", "xn--bcher-kva.example")]
    public void ParsesValidMailboxes(string text, string localPart, string domain)
    {
        Assert.True(Parse(text, out var path));
        Assert.Equal(localPart, path.LocalPart);
        Assert.Equal(domain, path.Domain);
        Assert.False(path.IsInternational);
    }

    [Theory]
    [InlineData("<>")]
    public void TheNullPathIsAllowedOnlyWhereAsked(string text)
    {
        Assert.True(Parse(text, out var path, allowNull: true));
        Assert.True(path.IsNull);
        Assert.Equal(string.Empty, path.Address);
        Assert.False(Parse(text, out _, allowNull: false));
    }

    [Theory]
    [InlineData("<postmaster>")]
    [InlineData("<Postmaster>")]
    [InlineData("<POSTMASTER>")]
    public void BarePostmasterIsAForwardPath(string text)
    {
        Assert.True(Parse(text, out var path, allowPostmaster: true));
        Assert.True(path.IsBarePostmaster);
        Assert.False(Parse(text, out _, allowPostmaster: false));
    }

    [Theory]
    [InlineData("<用户@例子.广告>", "用户", "例子.广告")]
    [InlineData("<josé@exämple.com>", "josé", "exämple.com")]
    public void ParsesInternationalisedAddresses(string text, string localPart, string domain)
    {
        Assert.True(Parse(text, out var path));
        Assert.Equal(localPart, path.LocalPart);
        Assert.Equal(domain, path.Domain);
        Assert.True(path.IsInternational);
    }

    [Theory]
    [InlineData("alice@example.com")]           // no brackets
    [InlineData("<alice@example.com")]          // unclosed
    [InlineData("<alice>")]                     // no domain
    [InlineData("<@example.com>")]              // no local part
    [InlineData("<alice@>")]
    [InlineData("<alice@@example.com>")]
    [InlineData("<.alice@example.com>")]        // dot-string cannot start with a dot
    [InlineData("<alice.@example.com>")]
    [InlineData("<al..ice@example.com>")]
    [InlineData("<al ice@example.com>")]
    [InlineData("<alice@-example.com>")]        // label cannot start with a hyphen
    [InlineData("<alice@example-.com>")]
    [InlineData("<alice@exa_mple.com>")]
    [InlineData("<alice@example..com>")]
    [InlineData("<alice@example.com.>")]
    [InlineData("<alice@[300.1.1.1]>")]
    [InlineData("<alice@[1.2.3]>")]
    [InlineData("<alice@[IPv6:zz::1]>")]
    [InlineData("<alice@[tag:content]>")]
    [InlineData("<\"unterminated@example.com>")]
    [InlineData("<@a.example:>")]
    [InlineData("<@a_b:user@c.example>")]
    public void RefusesInvalidPaths(string text)
    {
        Assert.False(Parse(text, out _));
    }

    [Fact]
    public void EnforcesTheRfc5321Lengths()
    {
        var local64 = new string('a', 64);
        Assert.True(Parse($"<{local64}@example.com>", out _));
        Assert.False(Parse($"<{local64}a@example.com>", out _));

        // 256 octets with the brackets is the largest path: "<a@" + 252 + ">".
        var label = new string('b', 63);
        var domain = $"{label}.{label}.{label}.{new string('c', 60)}";
        Assert.Equal(256, $"<a@{domain}>".Length);
        Assert.True(Parse($"<a@{domain}>", out _));
        Assert.False(Parse($"<ab@{domain}>", out _));
    }

    [Fact]
    public void UnquotedLocalPartRemovesQuotingForLookups()
    {
        Assert.True(Parse("<\"john\\\"doe\"@example.com>", out var path));
        Assert.Equal("john\"doe", path.UnquotedLocalPart);
    }

    [Fact]
    public void ReportsHowManyBytesThePathTook()
    {
        var bytes = Encoding.ASCII.GetBytes("<a@b.example> SIZE=1");
        Assert.True(SmtpPath.TryParse(bytes, true, false, out _, out var consumed));
        Assert.Equal(13, consumed);
    }
}

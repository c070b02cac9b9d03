using System.Net;
using Mailroom.Delivery.Routing;

namespace Mailroom.Delivery.Tests.Routing;

public sealed class NextHopTests
{
    [Theory]
    [InlineData("[smtp.example.net]:587", "smtp.example.net", null, 587, false)]
    [InlineData("[smtp.example.net]", "smtp.example.net", null, null, false)]
    [InlineData("smtp.example.net", "smtp.example.net", null, null, true)]
    [InlineData("smtp.example.net:2525", "smtp.example.net", null, 2525, true)]
    [InlineData("  SMTP.Example.NET.  ", "smtp.example.net", null, null, true)]
    [InlineData("[mail_relay.example.net]", "mail_relay.example.net", null, null, false)]
    [InlineData("[10.0.0.5]:25", "10.0.0.5", "10.0.0.5", 25, false)]
    [InlineData("[10.0.0.5]", "10.0.0.5", "10.0.0.5", null, false)]
    [InlineData("[::1]:2525", "::1", "::1", 2525, false)]
    [InlineData("[2001:DB8::1]", "2001:db8::1", "2001:db8::1", null, false)]
    [InlineData("[IPv6:2001:db8::1]:25", "2001:db8::1", "2001:db8::1", 25, false)]
    [InlineData("localhost", "localhost", null, null, true)]
    public void Parses(string text, string host, string? address, int? port, bool useMx)
    {
        Assert.True(NextHop.TryParse(text, out NextHop? hop, out string error), error);

        Assert.Equal(host, hop.Host);
        Assert.Equal(address is null ? null : IPAddress.Parse(address), hop.Address);
        Assert.Equal(port, hop.Port);
        Assert.Equal(useMx, hop.UseMx);
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("[smtp.example.net]:587")]
    [InlineData("smtp.example.net")]
    [InlineData("smtp.example.net:2525")]
    [InlineData("[10.0.0.5]")]
    [InlineData("[::1]:2525")]
    public void RoundTrips(string text)
        => Assert.Equal(text, NextHop.Parse(text).ToString());

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("[smtp.example.net", "'[' without ']'")]
    [InlineData("[smtp.example.net]587", "expected ':port'")]
    [InlineData("[]", "no host")]
    [InlineData(":25", "no host")]
    [InlineData("smtp.example.net:", "port ''")]
    [InlineData("smtp.example.net:0", "port '0'")]
    [InlineData("smtp.example.net:65536", "port '65536'")]
    [InlineData("[smtp.example.net]:x25", "port 'x25'")]
    [InlineData("smtp.example.net:-1", "port '-1'")]
    [InlineData("10.0.0.5", "write it in brackets")]
    [InlineData("10.0.0.5:25", "write it in brackets")]
    [InlineData("::1", "IPv6 address")]
    [InlineData("2001:db8::1", "IPv6 address")]
    [InlineData("smtp example.net", "' ' is not allowed")]
    [InlineData("[smtp/example.net]", "'/' is not allowed")]
    [InlineData("smtp..example.net", "1 to 63 characters")]
    [InlineData(".example.net", "1 to 63 characters")]
    [InlineData("-smtp.example.net", "'-'")]
    [InlineData("smtp-.example.net", "'-'")]
    [InlineData("[fe80::1%eth0]", "not a valid IPv6 address")]
    [InlineData("[2001:db8::zz]", "not a valid IPv6 address")]
    public void Refuses(string text, string reason)
    {
        Assert.False(NextHop.TryParse(text, out NextHop? hop, out string error));

        Assert.Null(hop);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_LongLabelsAndNames()
    {
        Assert.False(NextHop.TryParse(new string('a', 64) + ".example.net", out _, out string label));
        Assert.Contains("1 to 63 characters", label, StringComparison.Ordinal);

        string longName = string.Join('.', Enumerable.Repeat(new string('a', 63), 4)); // 255 characters
        Assert.False(NextHop.TryParse(longName, out _, out string name));
        Assert.Contains("1 to 253 characters", name, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ThrowsWithTheReason()
        => Assert.Contains("write it in brackets", Assert.Throws<FormatException>(() => NextHop.Parse("10.0.0.5")).Message, StringComparison.Ordinal);
}

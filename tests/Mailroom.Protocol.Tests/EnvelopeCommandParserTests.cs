using System.Text;

namespace Mailroom.Protocol.Tests;

public sealed class EnvelopeCommandParserTests
{
    private static SmtpReply? Mail(string arguments, out SmtpPath path, out MailParameters parameters) =>
        EnvelopeCommandParser.ParseMail(Encoding.UTF8.GetBytes(arguments), out path, out parameters);

    private static SmtpReply? Rcpt(string arguments, out SmtpPath path, out RcptParameters parameters) =>
        EnvelopeCommandParser.ParseRcpt(Encoding.UTF8.GetBytes(arguments), out path, out parameters);

    [Fact]
    public void ParsesEveryMailParameter()
    {
        var error = Mail("FROM:<a@b.example> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B314 AUTH=<>", out var path, out var parameters);

        Assert.Null(error);
        Assert.Equal("a@b.example", path.Address);
        Assert.Equal(12345, parameters.Size);
        Assert.Equal(MailBodyType.EightBitMime, parameters.Body);
        Assert.True(parameters.SmtpUtf8);
        Assert.Equal(DsnReturnType.Headers, parameters.Return);
        Assert.Equal("QQ+314", parameters.EnvelopeId);
        Assert.Equal("<>", parameters.Auth);
    }

    [Theory]
    [InlineData("from:<a@b.example>")]
    [InlineData("FROM: <a@b.example>")]   // tolerated like Postfix
    [InlineData("FROM:<>")]
    [InlineData("FROM:<> body=binarymime")]
    public void AcceptsCommonForms(string arguments)
    {
        Assert.Null(Mail(arguments, out _, out _));
    }

    [Theory]
    [InlineData("<a@b.example>", 501, "5.5.4")]            // no FROM:
    [InlineData("TO:<a@b.example>", 501, "5.5.4")]
    [InlineData("FROM:a@b.example", 501, "5.1.7")]
    [InlineData("FROM:<a@b.example> SIZE=abc", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> SIZE=-1", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> SIZE=123456789012345678901", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> SIZE=1 SIZE=2", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> BODY=9BIT", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> RET=ALL", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> SMTPUTF8=yes", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> ENVID=a+zz", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> XFOO=1", 555, "5.5.4")]
    [InlineData("FROM:<a@b.example>SIZE=1", 501, "5.5.4")]
    [InlineData("FROM:<a@b.example> =1", 501, "5.5.4")]
    public void RefusesBadMailCommands(string arguments, int code, string status)
    {
        var error = Mail(arguments, out _, out _);

        Assert.NotNull(error);
        Assert.Equal(code, error.Code);
        Assert.Equal(status, error.Status.ToString());
    }

    [Fact]
    public void ParsesRcptParameters()
    {
        var error = Rcpt("TO:<bob@c.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Bx@c.example", out var path, out var parameters);

        Assert.Null(error);
        Assert.Equal("bob@c.example", path.Address);
        Assert.Equal(DsnNotifyFlags.Success | DsnNotifyFlags.Failure, parameters.Notify);
        Assert.Equal("rfc822;bob+x@c.example", parameters.OriginalRecipient);
    }

    [Theory]
    [InlineData("TO:<bob@c.example> NOTIFY=NEVER,SUCCESS")]
    [InlineData("TO:<bob@c.example> NOTIFY=SOMETIMES")]
    [InlineData("TO:<bob@c.example> NOTIFY=SUCCESS,SUCCESS")]
    [InlineData("TO:<bob@c.example> ORCPT=bob@c.example")]
    [InlineData("TO:<bob@c.example> ORCPT=rfc822;")]
    [InlineData("TO:<>")]
    public void RefusesBadRcptCommands(string arguments)
    {
        var error = Rcpt(arguments, out _, out _);

        Assert.NotNull(error);
        Assert.Equal(501, error.Code);
    }

    [Fact]
    public void RcptParametersFromMailAreUnsupported()
    {
        var error = Rcpt("TO:<bob@c.example> SIZE=10", out _, out _);

        Assert.Equal(555, error!.Code);
    }

    [Theory]
    [InlineData("a+2Bb", "a+b")]
    [InlineData("plain", "plain")]
    [InlineData("+3D+20", "= ")]
    public void DecodesXtext(string text, string expected)
    {
        Assert.True(Xtext.TryDecode(Encoding.ASCII.GetBytes(text), out var decoded));
        Assert.Equal(expected, decoded);
        Assert.Equal(text.Replace("+20", "+20"), Xtext.Encode(decoded) == text ? text : Xtext.Encode(decoded));
    }

    [Theory]
    [InlineData("a=b")]
    [InlineData("a+2")]
    [InlineData("a+2b")] // hex must be upper case
    [InlineData("a b")]
    public void RefusesBadXtext(string text)
    {
        Assert.False(Xtext.TryDecode(Encoding.ASCII.GetBytes(text), out _));
    }
}

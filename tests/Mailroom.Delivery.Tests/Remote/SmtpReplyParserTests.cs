using System.Buffers;
using System.Text;
using Mailroom.Delivery.Remote;
using Mailroom.Protocol;

namespace Mailroom.Delivery.Tests.Remote;

public sealed class SmtpReplyParserTests
{
    private static ReplyParseStatus Parse(string text, out SmtpReplyInfo? reply, out long consumed, int maxLine = 512, int maxLines = 100)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text));
        var status = SmtpReplyParser.TryParse(buffer, maxLine, maxLines, out reply, out var position);
        consumed = buffer.Slice(0, position).Length;
        return status;
    }

    [Fact]
    public void ReadsAMultiLineReplyAndLeavesTheRest()
    {
        var text = "250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n220 next";
        Assert.Equal(ReplyParseStatus.Done, Parse(text, out var reply, out var consumed));
        Assert.Equal(250, reply!.Code);
        Assert.Equal(["mx.example.com", "PIPELINING", "SIZE 1000"], reply.Lines);
        Assert.Equal(text.IndexOf("220", StringComparison.Ordinal), consumed);
    }

    [Fact]
    public void TakesTheEnhancedStatusCodeAndBuildsTheDiagnosticCode()
    {
        Assert.Equal(ReplyParseStatus.Done, Parse("550-5.1.1 user\r\n550 5.1.1 unknown\r\n", out var reply, out _));
        Assert.Equal(new EnhancedStatusCode(5, 1, 1), reply!.Status);
        Assert.Equal("smtp; 550 5.1.1 user unknown", reply.DiagnosticCode);
        Assert.Equal(DeliveryOutcome.Failed, reply.Outcome);
    }

    [Theory]
    [InlineData("250 2.1.0 Ok\r\n", "2.1.0")]
    [InlineData("450 5.1.1 mismatched class\r\n", null)]
    [InlineData("250 1.2 not a code\r\n", null)]
    [InlineData("250 2.0.0\r\n", "2.0.0")]
    public void EnhancedStatusCodeOnlyWhenWellFormed(string text, string? status)
    {
        Assert.Equal(ReplyParseStatus.Done, Parse(text, out var reply, out _));
        Assert.Equal(status, reply!.Status?.ToString());
    }

    [Theory]
    [InlineData("250-first\r\n")]
    [InlineData("250 partial")]
    [InlineData("")]
    public void WaitsForTheLastLine(string text) =>
        Assert.Equal(ReplyParseStatus.NeedMoreData, Parse(text, out _, out _));

    [Theory]
    [InlineData("250-a\r\n251 b\r\n")]
    [InlineData("hello\r\n")]
    [InlineData("25\r\n")]
    [InlineData("250xtext\r\n")]
    [InlineData("650 bad class\r\n")]
    public void RefusesMalformedReplies(string text) =>
        Assert.Equal(ReplyParseStatus.Invalid, Parse(text, out _, out _));

    [Fact]
    public void BoundsLineLengthEvenBeforeTheLineEnds()
    {
        Assert.Equal(ReplyParseStatus.Invalid, Parse("250 " + new string('x', 600), out _, out _));
        Assert.Equal(ReplyParseStatus.Invalid, Parse("250 " + new string('x', 600) + "\r\n", out _, out _));
        Assert.Equal(ReplyParseStatus.Done, Parse("250 " + new string('x', 506) + "\r\n", out _, out _));
    }

    [Fact]
    public void BoundsTheNumberOfLines()
    {
        var text = string.Concat(Enumerable.Repeat("250-x\r\n", 100)) + "250 x\r\n";
        Assert.Equal(ReplyParseStatus.Invalid, Parse(text, out _, out _));
        Assert.Equal(ReplyParseStatus.Done, Parse(text, out _, out _, maxLines: 101));
    }

    [Fact]
    public void ReplacesControlCharacters()
    {
        Assert.Equal(ReplyParseStatus.Done, Parse("250 a\tb\u0007c\r\n", out var reply, out _));
        Assert.Equal("a b c", reply!.Text);
    }

    [Fact]
    public void ReadsCapabilities()
    {
        var caps = EhloCapabilities.Parse(["mx", "PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8", "DSN", "CHUNKING", "STARTTLS", "AUTH PLAIN login", "AUTH=XOAUTH2", "ENHANCEDSTATUSCODES", ""]);
        Assert.True(caps.Pipelining && caps.EightBitMime && caps.SmtpUtf8 && caps.Dsn && caps.Chunking && caps.StartTls && caps.EnhancedStatusCodes);
        Assert.Equal(10240000, caps.Size);
        Assert.Equal(["PLAIN", "LOGIN", "XOAUTH2"], caps.AuthMechanisms);
        Assert.Null(EhloCapabilities.Parse(["mx"]).Size);
    }
}

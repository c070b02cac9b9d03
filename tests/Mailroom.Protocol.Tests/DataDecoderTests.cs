using System.Buffers;
using System.Globalization;
using System.Text;
using Mailroom.Tests.Shared;

namespace Mailroom.Protocol.Tests;

public sealed class DataDecoderTests
{
    private sealed record Decoded(bool Ended, string Content, int Consumed, DataDefects Defects);

    private static Decoded Decode(byte[] input, Split split, BareLineEndingPolicy policy = BareLineEndingPolicy.Reject, int maxLine = 1000)
    {
        var decoder = new DataDecoder(policy, maxLine);
        var output = new ArrayBufferWriter<byte>();
        var total = 0;
        var step = split == Split.OneBlock ? input.Length : 1;
        for (var offset = 0; offset < input.Length; offset += step)
        {
            var chunk = input.AsSpan(offset, Math.Min(step, input.Length - offset));
            if (decoder.Decode(chunk, output, out var consumed))
            {
                return new Decoded(true, Encoding.Latin1.GetString(output.WrittenSpan), total + consumed, decoder.Defects);
            }

            Assert.Equal(chunk.Length, consumed);
            total += consumed;
        }

        return new Decoded(false, Encoding.Latin1.GetString(output.WrittenSpan), total, decoder.Defects);
    }

    private static Decoded Decode(string input, Split split, BareLineEndingPolicy policy = BareLineEndingPolicy.Reject, int maxLine = 1000) =>
        Decode(Encoding.Latin1.GetBytes(input), split, policy, maxLine);

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void EndsAtCrLfDotCrLfAndLeavesTheRest(Split split)
    {
        var result = Decode("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", split);

        Assert.True(result.Ended);
        Assert.Equal("Subject: x\r\n\r\nbody\r\n", result.Content);
        Assert.Equal("Subject: x\r\n\r\nbody\r\n.\r\n".Length, result.Consumed);
        Assert.Equal(DataDefects.None, result.Defects);
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void AnEmptyMessageEndsAtOnce(Split split)
    {
        var result = Decode(".\r\n", split);

        Assert.True(result.Ended);
        Assert.Equal(string.Empty, result.Content);
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void RemovesExactlyOneLeadingDot(Split split)
    {
        var result = Decode("..\r\n...x\r\n.y\r\na.b\r\n. \r\n.\r\n", split);

        Assert.True(result.Ended);
        Assert.Equal(".\r\n..x\r\ny\r\na.b\r\n \r\n", result.Content);
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void KeepsEightBitAndNulBytes(Split split)
    {
        var input = new byte[] { 0xC3, 0xA9, 0x00, 0xFF, 0x0D, 0x0A, 0x2E, 0x0D, 0x0A };
        var result = Decode(input, split);

        Assert.True(result.Ended);
        Assert.Equal(Encoding.Latin1.GetString(input, 0, 6), result.Content);
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void ABareLineFeedIsADefectAndDoesNotStartALine(Split split)
    {
        var result = Decode("a\n.\r\nb\r\n.\r\n", split);

        Assert.True(result.Ended);
        Assert.Equal(DataDefects.BareLineEnding, result.Defects);
        Assert.Equal("a.\r\nb\r\n", result.Content); // the message went on past the fake end
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void NormalizeStoresBareLineEndsAsCrLfButNeverEndsOnThem(Split split)
    {
        var result = Decode("a\nb\rc\n.\r\nd\r\n.\r\n", split, BareLineEndingPolicy.Normalize);

        Assert.True(result.Ended);
        Assert.Equal("a\r\nb\r\nc\r\n.\r\nd\r\n", result.Content);
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void FlagsLinesLongerThanTheLimit(Split split)
    {
        var fits = Decode(new string('x', 998) + "\r\n.\r\n", split);
        var over = Decode(new string('x', 999) + "\r\n.\r\n", split);

        Assert.Equal(DataDefects.None, fits.Defects);
        Assert.Equal(DataDefects.LineTooLong, over.Defects);
        Assert.True(over.Ended);
    }

    [Fact]
    public void WaitsForMoreWhenTheEndIsIncomplete()
    {
        var result = Decode("body\r\n.\r", Split.OneBlock);

        Assert.False(result.Ended);
        Assert.Equal("body\r\n", result.Content);
    }

    public static TheoryData<string, string, Split> SmugglingSequences()
    {
        var data = new TheoryData<string, string, Split>();
        foreach (var (id, hex) in SmugglingCorpus.Sequences())
        {
            data.Add(id, hex, Split.OneBlock);
            data.Add(id, hex, Split.ByteByByte);
        }

        return data;
    }

    /// <summary>
    /// The SEC Consult inbound probe for every fake end-of-data sequence of the shared corpus: the
    /// first message must not end at the fake sequence, so the smuggled commands stay content.
    /// </summary>
    [Theory]
    [MemberData(nameof(SmugglingSequences))]
    public void NoSmugglingSequenceEndsTheMessage(string id, string hex, Split split)
    {
        var sequence = Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
        var probe = Encoding.ASCII.GetBytes("From: test@d.example\r\nSubject: CHECK\r\n\r\nTESTING fake end-of-data sequence!\r\n")
            .Concat(sequence)
            .Concat(Encoding.ASCII.GetBytes("\r\nmail FROM:<smuggled@d.example>\r\nrcpt TO:<r@d.example>\r\ndata\r\nFrom: smuggled@d.example\r\n\r\nSMUGGLING WORKS\r\n.\r\n"))
            .ToArray();

        foreach (var policy in new[] { BareLineEndingPolicy.Reject, BareLineEndingPolicy.Normalize })
        {
            var result = Decode(probe, split, policy);

            Assert.True(result.Ended, id);
            Assert.Equal(probe.Length, result.Consumed); // one message, ending only at the real end
            Assert.Contains("SMUGGLING WORKS", result.Content, StringComparison.Ordinal);
            if (sequence.Contains((byte)0))
            {
                continue; // NUL sequences have no bare CR/LF: plain content
            }

            Assert.True(result.Defects.HasFlag(DataDefects.BareLineEnding), id);
        }
    }

    [Fact]
    public void TheAiosmtpdPayloadKeepsItsTail()
    {
        var payload = "From: Anne Person <anne@example.com>\r\nTo: Bart Person <bart@example.com>\r\nSubject: A test\r\nMessage-ID: <ant>\r\n\r\nTesting\n.\r\nNO SMUGGLING\n\r\n.\r\n";
        var result = Decode(payload, Split.OneBlock, BareLineEndingPolicy.Normalize);

        Assert.True(result.Ended);
        Assert.Contains("NO SMUGGLING", result.Content, StringComparison.Ordinal);
        Assert.Equal(payload.Length, result.Consumed);
    }
}

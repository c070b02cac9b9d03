using System.Buffers;
using System.Text;

namespace Mailroom.Protocol.Tests;

public sealed class SmtpLineReaderTests
{
    private static List<string> ReadAll(string input, int max, Split split, out List<LineReadStatus> statuses)
    {
        var lines = new List<string>();
        statuses = [];
        var reader = new SequenceReader<byte>(Feed.Sequence(Encoding.ASCII.GetBytes(input), split));
        while (true)
        {
            var status = SmtpLineReader.TryReadLine(ref reader, max, out var line);
            statuses.Add(status);
            if (status == LineReadStatus.Complete)
            {
                lines.Add(Encoding.ASCII.GetString(line.ToArray()));
            }
            else if (status == LineReadStatus.TooLong)
            {
                continue;
            }
            else if (status == LineReadStatus.TooLongUnterminated)
            {
                if (!SmtpLineReader.TrySkipToLineEnd(ref reader))
                {
                    break;
                }
            }
            else
            {
                break;
            }
        }

        return lines;
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void ReadsPipelinedLinesWithoutTheirLineEnds(Split split)
    {
        var lines = ReadAll("EHLO a\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@y>\r\nDA", 512, split, out var statuses);

        Assert.Equal(["EHLO a", "MAIL FROM:<x@y>", "RCPT TO:<z@y>"], lines);
        Assert.Equal(LineReadStatus.NeedMoreData, statuses[^1]);
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void AcceptsACommandEndingInABareLineFeed(Split split)
    {
        var lines = ReadAll("NOOP\nQUIT\r\n", 512, split, out _);

        Assert.Equal(["NOOP", "QUIT"], lines);
    }

    [Theory]
    [InlineData(Split.OneBlock)]
    [InlineData(Split.ByteByByte)]
    public void ALineOfExactlyTheLimitIsAcceptedAndOneMoreIsNot(Split split)
    {
        var fits = "NOOP " + new string('a', 512 - 7) + "\r\n";
        var over = "NOOP " + new string('a', 512 - 6) + "\r\nQUIT\r\n";

        Assert.Single(ReadAll(fits, 512, split, out _));
        var lines = ReadAll(over, 512, split, out var statuses);
        Assert.Equal(["QUIT"], lines);
        Assert.Equal(LineReadStatus.TooLong, statuses[0]);
    }

    [Fact]
    public void AnUnterminatedLongLineIsCutAtTheLimitWithoutWaitingForItsEnd()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(new byte[600]));

        Assert.Equal(LineReadStatus.TooLongUnterminated, SmtpLineReader.TryReadLine(ref reader, 512, out _));
        Assert.Equal(0, reader.Remaining);
    }
}

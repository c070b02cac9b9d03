using System.Buffers;

namespace Mailroom.Protocol;

/// <summary>The outcome of reading one command line from buffered input.</summary>
public enum LineReadStatus
{
    /// <summary>No complete line yet; read more input.</summary>
    NeedMoreData,

    /// <summary>A complete line was read (without its line end).</summary>
    Complete,

    /// <summary>The line is longer than the limit; it was skipped up to and including its line end.</summary>
    TooLong,

    /// <summary>The line is longer than the limit and its end has not arrived: the buffered bytes were skipped,
    /// the rest must be skipped with <see cref="SmtpLineReader.TrySkipToLineEnd"/> as it arrives.</summary>
    TooLongUnterminated,
}

/// <summary>
/// Finds command lines in buffered input. RFC 5321 §2.3.8 ends lines with CRLF; like Postfix, a
/// command line ending in a bare LF is accepted (a command cannot smuggle a message; DATA is
/// strict). The limit (RFC 5321 §4.5.3.1.4: 512 octets with CRLF) is enforced here, before any
/// parsing: a longer line never reaches the parser.
/// </summary>
public static class SmtpLineReader
{
    /// <summary>Reads one line, or skips one that is longer than <paramref name="maxLength"/> (line end included).</summary>
    public static LineReadStatus TryReadLine(ref SequenceReader<byte> reader, int maxLength, out ReadOnlySequence<byte> line)
    {
        if (reader.TryReadTo(out line, (byte)'\n', advancePastDelimiter: true))
        {
            if (line.Length + 1 > maxLength)
            {
                return LineReadStatus.TooLong;
            }

            if (!line.IsEmpty && EndsWithCarriageReturn(line))
            {
                line = line.Slice(0, line.Length - 1);
            }

            return LineReadStatus.Complete;
        }

        if (reader.Remaining >= maxLength)
        {
            reader.Advance(reader.Remaining);
            line = default;
            return LineReadStatus.TooLongUnterminated;
        }

        line = default;
        return LineReadStatus.NeedMoreData;
    }

    /// <summary>Skips input up to and including the next LF; false when none is buffered yet (all of it was skipped).</summary>
    public static bool TrySkipToLineEnd(ref SequenceReader<byte> reader)
    {
        if (reader.TryAdvanceTo((byte)'\n', advancePastDelimiter: true))
        {
            return true;
        }

        reader.Advance(reader.Remaining);
        return false;
    }

    private static bool EndsWithCarriageReturn(in ReadOnlySequence<byte> line)
    {
        var last = line.Slice(line.Length - 1);
        return last.FirstSpan[0] == (byte)'\r';
    }
}

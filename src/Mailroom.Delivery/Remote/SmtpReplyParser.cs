using System.Buffers;
using System.Text;
using Mailroom.Protocol;

namespace Mailroom.Delivery.Remote;

/// <summary>The state of a reply in the read buffer.</summary>
internal enum ReplyParseStatus
{
    NeedMoreData,
    Done,
    Invalid,
}

/// <summary>
/// Reads one SMTP reply (RFC 5321 §4.2): lines "xyz-text" then a last line "xyz text", all with
/// the same code, each ending in CRLF (a bare LF is tolerated). The enhanced status code of
/// RFC 2034/3463 is taken from the first line when present and of the same class as the code.
/// Pure and stateless: it parses from the start of the buffer each time, and refuses a line longer
/// than the limit (even unfinished) and more lines than the limit, so a hostile server cannot make
/// the client buffer without bound.
/// </summary>
internal static class SmtpReplyParser
{
    public static ReplyParseStatus TryParse(ReadOnlySequence<byte> buffer, int maxLineLength, int maxLines, out SmtpReplyInfo? reply, out SequencePosition consumed)
    {
        reply = null;
        consumed = buffer.Start;
        var reader = new SequenceReader<byte>(buffer);
        var lines = new List<string>();
        var code = 0;
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n', advancePastDelimiter: true))
            {
                return reader.Remaining > maxLineLength ? ReplyParseStatus.Invalid : ReplyParseStatus.NeedMoreData;
            }

            if (line.Length + 1 > maxLineLength || lines.Count >= maxLines)
            {
                return ReplyParseStatus.Invalid;
            }

            ReadOnlySpan<byte> bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
            if (bytes.Length > 0 && bytes[^1] == (byte)'\r')
            {
                bytes = bytes[..^1];
            }

            // reply-line = Reply-code [ SP / "-" textstring ]; "250" alone is tolerated as a last line.
            if (bytes.Length < 3 || !IsDigit(bytes[0], '2', '5') || !IsDigit(bytes[1], '0', '5') || !IsDigit(bytes[2], '0', '9'))
            {
                return ReplyParseStatus.Invalid;
            }

            var lineCode = ((bytes[0] - '0') * 100) + ((bytes[1] - '0') * 10) + (bytes[2] - '0');
            if (code != 0 && lineCode != code)
            {
                return ReplyParseStatus.Invalid;
            }

            code = lineCode;
            var last = bytes.Length == 3 || bytes[3] == (byte)' ';
            if (!last && bytes[3] != (byte)'-')
            {
                return ReplyParseStatus.Invalid;
            }

            lines.Add(bytes.Length > 4 ? Clean(bytes[4..]) : string.Empty);
            if (last)
            {
                break;
            }
        }

        EnhancedStatusCode? status = null;
        if (TryReadStatus(lines[0], code / 100, out var parsed, out var length))
        {
            status = parsed;
            for (var i = 0; i < lines.Count; i++)
            {
                // Servers repeat the code on every line; strip it wherever it is.
                if (lines[i].StartsWith(parsed.ToString(), StringComparison.Ordinal))
                {
                    lines[i] = lines[i][Math.Min(lines[i].Length, length)..].TrimStart(' ');
                }
            }
        }

        consumed = reader.Position;
        reply = new SmtpReplyInfo(code, status, lines);
        return ReplyParseStatus.Done;
    }

    /// <summary>RFC 3463 §2: class "." subject "." detail, subject and detail 1 to 3 digits, then a space or the end.</summary>
    private static bool TryReadStatus(string text, int replyClass, out EnhancedStatusCode status, out int length)
    {
        status = default;
        length = 0;
        if (text.Length < 5 || text[0] - '0' != replyClass || text[1] != '.')
        {
            return false;
        }

        var i = 2;
        if (!TryReadNumber(text, ref i, out var subject) || i >= text.Length || text[i] != '.')
        {
            return false;
        }

        i++;
        if (!TryReadNumber(text, ref i, out var detail) || (i < text.Length && text[i] != ' '))
        {
            return false;
        }

        status = new EnhancedStatusCode((byte)replyClass, (short)subject, (short)detail);
        length = i;
        return true;
    }

    private static bool TryReadNumber(string text, ref int i, out int value)
    {
        value = 0;
        var start = i;
        while (i < text.Length && i - start < 3 && char.IsAsciiDigit(text[i]))
        {
            value = (value * 10) + (text[i++] - '0');
        }

        return i > start && (i >= text.Length || !char.IsAsciiDigit(text[i]));
    }

    private static bool IsDigit(byte b, char low, char high) => b >= low && b <= high;

    /// <summary>The text as UTF-8, with control characters replaced: it goes to logs and bounce messages.</summary>
    private static string Clean(ReadOnlySpan<byte> text)
    {
        var decoded = Encoding.UTF8.GetString(text);
        return string.Create(decoded.Length, decoded, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) ? ' ' : source[i];
            }
        });
    }
}

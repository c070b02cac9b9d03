using System.Text;

namespace Mailroom.Protocol;

/// <summary>
/// One SMTP reply (RFC 5321 §4.2): a three-digit code, an RFC 3463 enhanced status code when the
/// reply may carry one (RFC 2034 §4: not on the greeting, the HELO/EHLO reply or 3xx replies),
/// and one or more lines of text. The wire form is encoded once, so that replying allocates nothing.
/// </summary>
public sealed class SmtpReply
{
    private readonly byte[] _wire;

    public SmtpReply(int code, EnhancedStatusCode? status, params string[] lines)
    {
        if (code is < 200 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(code));
        }

        if (lines.Length == 0)
        {
            lines = [string.Empty];
        }

        Code = code;
        Status = status;
        Lines = lines;
        _wire = Encode(code, status, lines);
    }

    public int Code { get; }

    public EnhancedStatusCode? Status { get; }

    public IReadOnlyList<string> Lines { get; }

    /// <summary>The text of the first line, after the enhanced status code.</summary>
    public string Text => Lines[0];

    public bool IsPositive => Code < 400;

    public bool IsTransientFailure => Code is >= 400 and < 500;

    public bool IsPermanentFailure => Code >= 500;

    /// <summary>The reply as sent: every line "code(-| )[status ]text" ending in CRLF.</summary>
    public ReadOnlySpan<byte> Wire => _wire;

    public override string ToString() => Encoding.UTF8.GetString(_wire).TrimEnd('\r', '\n');

    private static byte[] Encode(int code, EnhancedStatusCode? status, string[] lines)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            builder.Append(code).Append(i == lines.Length - 1 ? ' ' : '-');
            if (status is { } s)
            {
                builder.Append(s.ToString()).Append(' ');
            }

            // A line break inside the text would let it forge a second reply; replace it.
            builder.Append(lines[i].Replace('\r', ' ').Replace('\n', ' ')).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }
}

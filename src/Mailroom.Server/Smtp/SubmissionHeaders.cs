using MimeKit;

namespace Mailroom.Server.Smtp;

/// <summary>
/// What a submission's header block says that the server needs (RFC 6409 §8): the From addresses
/// for the sender check, and whether Date and Message-ID are present. Pure: no I/O.
/// </summary>
internal sealed class SubmissionHeaders
{
    /// <summary>The header block of a submission is buffered up to this size (the project's choice;
    /// Postfix's header_size_limit is 100 KiB); beyond it nothing is added and From cannot be checked.</summary>
    public const int MaxHeaderBlock = 64 * 1024;

    private SubmissionHeaders(List<byte[]> from, bool hasDate, bool hasMessageId)
    {
        FromFields = from;
        HasDate = hasDate;
        HasMessageId = hasMessageId;
    }

    /// <summary>The raw values of every From field (RFC 5322 §3.6.2 allows one, old mail has more).</summary>
    public IReadOnlyList<byte[]> FromFields { get; }

    public bool HasDate { get; }

    public bool HasMessageId { get; }

    /// <summary>
    /// The length of the header block in <paramref name="content"/> (up to and including the line
    /// end before the empty line), or -1 when the empty line has not arrived yet. Scanning starts at
    /// <paramref name="from"/> (what an earlier call has seen, less three bytes for a split CRLF CRLF).
    /// </summary>
    public static int FindEnd(ReadOnlySpan<byte> content, int from)
    {
        if (content.Length > 0 && (content[0] == '\n' || (content[0] == '\r' && content.Length > 1 && content[1] == '\n')))
        {
            return 0;
        }

        for (var i = Math.Max(from, 0); i < content.Length; i++)
        {
            if (content[i] != '\n')
            {
                continue;
            }

            if (i + 1 < content.Length && content[i + 1] == '\n')
            {
                return i + 1;
            }

            if (i + 2 < content.Length && content[i + 1] == '\r' && content[i + 2] == '\n')
            {
                return i + 1;
            }
        }

        return -1;
    }

    /// <summary>Reads the fields of a header block (RFC 5322 §2.2: unfolds continuation lines).</summary>
    public static SubmissionHeaders Parse(ReadOnlySpan<byte> block)
    {
        var from = new List<byte[]>();
        var hasDate = false;
        var hasMessageId = false;
        var field = new List<byte>();

        void Finish()
        {
            if (field.Count == 0)
            {
                return;
            }

            var bytes = field.ToArray();
            field.Clear();
            var colon = Array.IndexOf(bytes, (byte)':');
            if (colon <= 0)
            {
                return;
            }

            // RFC 5322 §4.5 (obsolete syntax): white space may precede the colon.
            var name = System.Text.Encoding.ASCII.GetString(bytes, 0, colon).TrimEnd(' ', '\t');
            if (name.Equals("From", StringComparison.OrdinalIgnoreCase))
            {
                from.Add(bytes[(colon + 1)..]);
            }
            else if (name.Equals("Date", StringComparison.OrdinalIgnoreCase))
            {
                hasDate = true;
            }
            else if (name.Equals("Message-ID", StringComparison.OrdinalIgnoreCase))
            {
                hasMessageId = true;
            }
        }

        while (!block.IsEmpty)
        {
            var newline = block.IndexOf((byte)'\n');
            var line = newline < 0 ? block : block[..newline];
            block = newline < 0 ? [] : block[(newline + 1)..];
            if (line.Length > 0 && line[^1] == '\r')
            {
                line = line[..^1];
            }

            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t'))
            {
                field.Add((byte)' ');
                field.AddRange(line);
                continue;
            }

            Finish();
            field.AddRange(line);
        }

        Finish();
        return new SubmissionHeaders(from, hasDate, hasMessageId);
    }

    /// <summary>The mailbox addresses of one From value; null when it does not parse or names no mailbox.</summary>
    public static IReadOnlyList<string>? Mailboxes(byte[] value)
    {
        if (!InternetAddressList.TryParse(ParserOptions.Default, value, 0, value.Length, out var list))
        {
            return null;
        }

        var addresses = list.Mailboxes.Select(mailbox => mailbox.Address).ToList();
        return addresses.Count == 0 ? null : addresses;
    }
}

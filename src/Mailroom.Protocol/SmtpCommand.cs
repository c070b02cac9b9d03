namespace Mailroom.Protocol;

/// <summary>
/// A command line split into its verb and argument text (RFC 5321 §4.1.1: the verb is
/// case-insensitive and followed by a space before any argument). Parsing the arguments is left
/// to the verb's own parser.
/// </summary>
public readonly record struct SmtpCommand(SmtpVerb Verb, Range ArgumentRange)
{
    /// <summary>What follows the verb and its separating space in <paramref name="line"/>; empty when there is none.</summary>
    public ReadOnlySpan<byte> Arguments(ReadOnlySpan<byte> line) => line[ArgumentRange];

    /// <summary>Splits a line (without its line end) into verb and arguments. Never fails: an unknown verb is <see cref="SmtpVerb.Unknown"/>.</summary>
    public static SmtpCommand Parse(ReadOnlySpan<byte> line)
    {
        var space = line.IndexOf((byte)' ');
        var verbText = space < 0 ? line : line[..space];
        var start = space < 0 ? line.Length : space + 1;

        // "MAIL FROM:" and "RCPT TO:": the arguments start at the "FROM:" / "TO:" keyword.
        var end = start + TrimTrailingSpaces(line[start..]).Length;
        return new SmtpCommand(ParseVerb(verbText), start..end);
    }

    private static SmtpVerb ParseVerb(ReadOnlySpan<byte> verb)
    {
        if (verb.Length is < 4 or > 8)
        {
            return SmtpVerb.Unknown;
        }

        Span<byte> upper = stackalloc byte[8];
        for (var i = 0; i < verb.Length; i++)
        {
            var b = verb[i];
            upper[i] = b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b;
        }

        return upper[..verb.Length] switch
        {
            var v when v.SequenceEqual("HELO"u8) => SmtpVerb.Helo,
            var v when v.SequenceEqual("EHLO"u8) => SmtpVerb.Ehlo,
            var v when v.SequenceEqual("MAIL"u8) => SmtpVerb.Mail,
            var v when v.SequenceEqual("RCPT"u8) => SmtpVerb.Rcpt,
            var v when v.SequenceEqual("DATA"u8) => SmtpVerb.Data,
            var v when v.SequenceEqual("BDAT"u8) => SmtpVerb.Bdat,
            var v when v.SequenceEqual("RSET"u8) => SmtpVerb.Rset,
            var v when v.SequenceEqual("NOOP"u8) => SmtpVerb.Noop,
            var v when v.SequenceEqual("QUIT"u8) => SmtpVerb.Quit,
            var v when v.SequenceEqual("HELP"u8) => SmtpVerb.Help,
            var v when v.SequenceEqual("VRFY"u8) => SmtpVerb.Vrfy,
            var v when v.SequenceEqual("EXPN"u8) => SmtpVerb.Expn,
            var v when v.SequenceEqual("STARTTLS"u8) => SmtpVerb.StartTls,
            var v when v.SequenceEqual("AUTH"u8) => SmtpVerb.Auth,
            _ => SmtpVerb.Unknown,
        };
    }

    private static ReadOnlySpan<byte> TrimTrailingSpaces(ReadOnlySpan<byte> text)
    {
        var end = text.Length;
        while (end > 0 && (text[end - 1] == (byte)' ' || text[end - 1] == (byte)'\t'))
        {
            end--;
        }

        return text[..end];
    }
}

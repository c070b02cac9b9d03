using System.Buffers.Text;
using System.Text;

namespace Mailroom.Protocol;

/// <summary>RFC 6152 / RFC 3030 BODY values.</summary>
public enum MailBodyType : byte
{
    Unspecified,
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// <summary>RFC 3461 §4.3 RET.</summary>
public enum DsnReturnType : byte
{
    Unspecified,
    Full,
    Headers,
}

/// <summary>RFC 3461 §4.1 NOTIFY.</summary>
[Flags]
public enum DsnNotifyFlags : byte
{
    None = 0,
    Never = 1,
    Success = 2,
    Failure = 4,
    Delay = 8,
}

/// <summary>The parameters of MAIL FROM that Mailroom supports (RFC 1870, 6152, 3030, 6531, 3461, 4954).</summary>
public record struct MailParameters
{
    /// <summary>SIZE=, the client's estimate of the message size (RFC 1870).</summary>
    public long? Size;
    public MailBodyType Body;
    public bool SmtpUtf8;
    public DsnReturnType Return;

    /// <summary>ENVID, decoded from xtext (RFC 3461 §4.4).</summary>
    public string? EnvelopeId;

    /// <summary>AUTH= (RFC 4954 §5), decoded from xtext; kept only for the log.</summary>
    public string? Auth;
}

/// <summary>The parameters of RCPT TO that Mailroom supports (RFC 3461).</summary>
public record struct RcptParameters
{
    public DsnNotifyFlags Notify;

    /// <summary>ORCPT as "addr-type;address", the address decoded from xtext.</summary>
    public string? OriginalRecipient;
}

/// <summary>
/// Parses "MAIL FROM:&lt;path&gt; params" and "RCPT TO:&lt;path&gt; params" (RFC 5321 §4.1.1.2-3, §4.1.2).
/// Like Postfix, a space between the colon and the path is tolerated. Each method returns null on
/// success, or the exact reply to send.
/// </summary>
public static class EnvelopeCommandParser
{
    private const int MaxEnvelopeIdLength = 100; // RFC 3461 §4.4: ENVID is at most 100 characters.

    public static SmtpReply? ParseMail(ReadOnlySpan<byte> arguments, out SmtpPath reversePath, out MailParameters parameters)
    {
        reversePath = SmtpPath.Null;
        parameters = default;
        if (!TrySkipKeyword(ref arguments, "FROM:"u8))
        {
            return SmtpReplies.MailSyntax;
        }

        if (!SmtpPath.TryParse(arguments, allowNull: true, allowBarePostmaster: false, out reversePath, out var consumed))
        {
            return SmtpReplies.BadSender;
        }

        var rest = arguments[consumed..];
        foreach (var (keyword, value, error) in new EsmtpParameterEnumerator(rest))
        {
            if (error is not null)
            {
                return error;
            }

            var reply = ApplyMailParameter(keyword, value, ref parameters);
            if (reply is not null)
            {
                return reply;
            }
        }

        return null;
    }

    public static SmtpReply? ParseRcpt(ReadOnlySpan<byte> arguments, out SmtpPath forwardPath, out RcptParameters parameters)
    {
        forwardPath = SmtpPath.Null;
        parameters = default;
        if (!TrySkipKeyword(ref arguments, "TO:"u8))
        {
            return SmtpReplies.RcptSyntax;
        }

        if (!SmtpPath.TryParse(arguments, allowNull: false, allowBarePostmaster: true, out forwardPath, out var consumed))
        {
            return SmtpReplies.BadRecipient;
        }

        var rest = arguments[consumed..];
        foreach (var (keyword, value, error) in new EsmtpParameterEnumerator(rest))
        {
            if (error is not null)
            {
                return error;
            }

            var reply = ApplyRcptParameter(keyword, value, ref parameters);
            if (reply is not null)
            {
                return reply;
            }
        }

        return null;
    }

    private static bool TrySkipKeyword(ref ReadOnlySpan<byte> arguments, ReadOnlySpan<byte> keyword)
    {
        if (arguments.Length < keyword.Length || !Ascii.EqualsIgnoreCase(arguments[..keyword.Length], keyword))
        {
            return false;
        }

        arguments = arguments[keyword.Length..].TrimStart((byte)' ');
        return true;
    }

    private static SmtpReply? ApplyMailParameter(ReadOnlySpan<byte> keyword, ReadOnlySpan<byte> value, ref MailParameters parameters)
    {
        if (Ascii.EqualsIgnoreCase(keyword, "SIZE"u8))
        {
            // RFC 1870 §3: size-value = 1*20DIGIT.
            if (parameters.Size is not null)
            {
                return SmtpReplies.DuplicateParameter;
            }

            if (value.IsEmpty || value.Length > 20 || !Utf8Parser.TryParse(value, out long size, out var used) || used != value.Length || size < 0)
            {
                return SmtpReplies.BadParameterValue;
            }

            parameters.Size = size;
            return null;
        }

        if (Ascii.EqualsIgnoreCase(keyword, "BODY"u8))
        {
            if (parameters.Body != MailBodyType.Unspecified)
            {
                return SmtpReplies.DuplicateParameter;
            }

            parameters.Body = value switch
            {
                var v when Ascii.EqualsIgnoreCase(v, "7BIT"u8) => MailBodyType.SevenBit,
                var v when Ascii.EqualsIgnoreCase(v, "8BITMIME"u8) => MailBodyType.EightBitMime,
                var v when Ascii.EqualsIgnoreCase(v, "BINARYMIME"u8) => MailBodyType.BinaryMime,
                _ => MailBodyType.Unspecified,
            };
            return parameters.Body == MailBodyType.Unspecified ? SmtpReplies.BadParameterValue : null;
        }

        if (Ascii.EqualsIgnoreCase(keyword, "SMTPUTF8"u8))
        {
            // RFC 6531 §3.4: SMTPUTF8 takes no value.
            if (parameters.SmtpUtf8)
            {
                return SmtpReplies.DuplicateParameter;
            }

            parameters.SmtpUtf8 = true;
            return value.IsEmpty ? null : SmtpReplies.BadParameterValue;
        }

        if (Ascii.EqualsIgnoreCase(keyword, "RET"u8))
        {
            if (parameters.Return != DsnReturnType.Unspecified)
            {
                return SmtpReplies.DuplicateParameter;
            }

            parameters.Return = value switch
            {
                var v when Ascii.EqualsIgnoreCase(v, "FULL"u8) => DsnReturnType.Full,
                var v when Ascii.EqualsIgnoreCase(v, "HDRS"u8) => DsnReturnType.Headers,
                _ => DsnReturnType.Unspecified,
            };
            return parameters.Return == DsnReturnType.Unspecified ? SmtpReplies.BadParameterValue : null;
        }

        if (Ascii.EqualsIgnoreCase(keyword, "ENVID"u8))
        {
            if (parameters.EnvelopeId is not null)
            {
                return SmtpReplies.DuplicateParameter;
            }

            if (value.IsEmpty || value.Length > MaxEnvelopeIdLength || !Xtext.TryDecode(value, out var envelopeId))
            {
                return SmtpReplies.BadParameterValue;
            }

            parameters.EnvelopeId = envelopeId;
            return null;
        }

        if (Ascii.EqualsIgnoreCase(keyword, "AUTH"u8))
        {
            if (parameters.Auth is not null)
            {
                return SmtpReplies.DuplicateParameter;
            }

            if (value.IsEmpty || !Xtext.TryDecode(value, out var auth))
            {
                return SmtpReplies.BadParameterValue;
            }

            parameters.Auth = auth;
            return null;
        }

        return SmtpReplies.UnsupportedParameter;
    }

    private static SmtpReply? ApplyRcptParameter(ReadOnlySpan<byte> keyword, ReadOnlySpan<byte> value, ref RcptParameters parameters)
    {
        if (Ascii.EqualsIgnoreCase(keyword, "NOTIFY"u8))
        {
            if (parameters.Notify != DsnNotifyFlags.None)
            {
                return SmtpReplies.DuplicateParameter;
            }

            // RFC 3461 §4.1: "NEVER" alone, or a comma list of SUCCESS, FAILURE, DELAY.
            var notify = DsnNotifyFlags.None;
            foreach (var range in value.Split((byte)','))
            {
                DsnNotifyFlags flag = value[range] switch
                {
                    var v when Ascii.EqualsIgnoreCase(v, "NEVER"u8) => DsnNotifyFlags.Never,
                    var v when Ascii.EqualsIgnoreCase(v, "SUCCESS"u8) => DsnNotifyFlags.Success,
                    var v when Ascii.EqualsIgnoreCase(v, "FAILURE"u8) => DsnNotifyFlags.Failure,
                    var v when Ascii.EqualsIgnoreCase(v, "DELAY"u8) => DsnNotifyFlags.Delay,
                    _ => DsnNotifyFlags.None,
                };
                if (flag == DsnNotifyFlags.None || (notify & flag) != 0)
                {
                    return SmtpReplies.BadParameterValue;
                }

                notify |= flag;
            }

            if ((notify & DsnNotifyFlags.Never) != 0 && notify != DsnNotifyFlags.Never)
            {
                return SmtpReplies.BadParameterValue;
            }

            parameters.Notify = notify;
            return null;
        }

        if (Ascii.EqualsIgnoreCase(keyword, "ORCPT"u8))
        {
            if (parameters.OriginalRecipient is not null)
            {
                return SmtpReplies.DuplicateParameter;
            }

            // RFC 3461 §4.2: ORCPT = addr-type ";" xtext.
            var semicolon = value.IndexOf((byte)';');
            if (semicolon <= 0 || semicolon == value.Length - 1 || !Xtext.TryDecode(value[(semicolon + 1)..], out var address))
            {
                return SmtpReplies.BadParameterValue;
            }

            parameters.OriginalRecipient = Encoding.ASCII.GetString(value[..semicolon]) + ";" + address;
            return null;
        }

        return SmtpReplies.UnsupportedParameter;
    }
}

/// <summary>Splits "KEY=value KEY2" (RFC 5321 §4.1.2 Mail-parameters / Rcpt-parameters).</summary>
internal ref struct EsmtpParameterEnumerator
{
    private ReadOnlySpan<byte> _rest;

    public EsmtpParameterEnumerator(ReadOnlySpan<byte> text) => _rest = text;

    public EsmtpParameter Current { get; private set; }

    public readonly EsmtpParameterEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_rest.IsEmpty)
        {
            return false;
        }

        // Parameters are separated from the path and from each other by spaces.
        if (_rest[0] != (byte)' ')
        {
            Current = new EsmtpParameter(default, default, SmtpReplies.BadParameterValue);
            _rest = default;
            return true;
        }

        _rest = _rest.TrimStart((byte)' ');
        if (_rest.IsEmpty)
        {
            return false;
        }

        var end = _rest.IndexOf((byte)' ');
        var parameter = end < 0 ? _rest : _rest[..end];
        _rest = end < 0 ? default : _rest[end..];

        var equals = parameter.IndexOf((byte)'=');
        var keyword = equals < 0 ? parameter : parameter[..equals];
        var value = equals < 0 ? default : parameter[(equals + 1)..];
        if (!IsKeyword(keyword) || (equals >= 0 && !IsValue(value)))
        {
            Current = new EsmtpParameter(default, default, SmtpReplies.BadParameterValue);
            _rest = default;
            return true;
        }

        Current = new EsmtpParameter(keyword, value, null);
        return true;
    }

    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    private static bool IsKeyword(ReadOnlySpan<byte> keyword)
    {
        if (keyword.IsEmpty || !char.IsAsciiLetterOrDigit((char)keyword[0]))
        {
            return false;
        }

        foreach (var b in keyword)
        {
            if (!char.IsAsciiLetterOrDigit((char)b) && b != (byte)'-')
            {
                return false;
            }
        }

        return true;
    }

    // esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 adds UTF8-non-ascii.
    private static bool IsValue(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (!(b is (>= 33 and <= 60) or (>= 62 and <= 126) || b >= 0x80))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>One parameter, or the reply for a malformed one.</summary>
internal readonly ref struct EsmtpParameter(ReadOnlySpan<byte> keyword, ReadOnlySpan<byte> value, SmtpReply? error)
{
    private readonly ReadOnlySpan<byte> _keyword = keyword;
    private readonly ReadOnlySpan<byte> _value = value;

    public void Deconstruct(out ReadOnlySpan<byte> keyword, out ReadOnlySpan<byte> value, out SmtpReply? error)
    {
        keyword = _keyword;
        value = _value;
        error = Error;
    }

    public SmtpReply? Error { get; } = error;
}

/// <summary>RFC 3461 §4 xtext: printable ASCII except "+" and "=", with "+XX" hex escapes.</summary>
public static class Xtext
{
    public static bool TryDecode(ReadOnlySpan<byte> text, out string decoded)
    {
        decoded = string.Empty;
        var bytes = new byte[text.Length];
        var length = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var b = text[i];
            if (b == (byte)'+')
            {
                if (i + 2 >= text.Length || !IsUpperHex(text[i + 1]) || !IsUpperHex(text[i + 2]))
                {
                    return false;
                }

                bytes[length++] = (byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2]));
                i += 2;
            }
            else if (b is >= 33 and <= 126 and not (byte)'=' || b >= 0x80)
            {
                bytes[length++] = b;
            }
            else
            {
                return false;
            }
        }

        decoded = Encoding.UTF8.GetString(bytes, 0, length);
        return true;
    }

    public static string Encode(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (b is >= 33 and <= 126 and not (byte)'+' and not (byte)'=')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('+').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    private static bool IsUpperHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'A' and <= (byte)'F');

    private static int HexValue(byte b) => b <= (byte)'9' ? b - '0' : b - 'A' + 10;
}

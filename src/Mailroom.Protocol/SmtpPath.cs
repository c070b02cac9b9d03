using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Unicode;

namespace Mailroom.Protocol;

/// <summary>
/// A reverse or forward path of RFC 5321 §4.1.2 (with RFC 6531's UTF-8 additions): the null path
/// &lt;&gt;, the bare &lt;postmaster&gt; (§4.1.1.3), or a mailbox local-part@domain. A source route
/// (&lt;@a,@b:user@c&gt;) is accepted and ignored, as §4.1.2 and Appendix C say.
/// Domains are lowercased (they are case-insensitive); local parts are kept exactly as written.
/// </summary>
public sealed class SmtpPath : IEquatable<SmtpPath>
{
    // RFC 5321 §4.5.3.1.1-3: the largest local part, domain and path an implementation must accept.
    public const int MaxLocalPartLength = 64;
    public const int MaxDomainLength = 255;
    public const int MaxPathLength = 256;

    public static readonly SmtpPath Null = new(string.Empty, string.Empty, isInternational: false);

    private SmtpPath(string localPart, string domain, bool isInternational)
    {
        LocalPart = localPart;
        Domain = domain;
        IsInternational = isInternational;
    }

    /// <summary>The local part as written on the wire: a dot-string or a quoted string with its quotes.</summary>
    public string LocalPart { get; }

    /// <summary>The domain, lowercased; an address literal keeps its brackets ("[192.0.2.1]"); empty for &lt;&gt; and &lt;postmaster&gt;.</summary>
    public string Domain { get; }

    /// <summary>The path contains non-ASCII characters (it needs SMTPUTF8, RFC 6531).</summary>
    public bool IsInternational { get; }

    public bool IsNull => LocalPart.Length == 0;

    /// <summary>The domain-less &lt;postmaster&gt; of RFC 5321 §4.1.1.3.</summary>
    public bool IsBarePostmaster => Domain.Length == 0 && LocalPart.Length != 0;

    public bool IsAddressLiteral => Domain.StartsWith('[');

    /// <summary>The address without angle brackets ("" for the null path).</summary>
    public string Address => IsNull ? string.Empty : Domain.Length == 0 ? LocalPart : LocalPart + "@" + Domain;

    /// <summary>The local part with quoting removed: the name a mailbox lookup uses.</summary>
    public string UnquotedLocalPart => Unquote(LocalPart);

    public static SmtpPath Create(string localPart, string domain)
    {
        var international = !Ascii.IsValid(localPart) || !Ascii.IsValid(domain);
        return new SmtpPath(localPart, domain.ToLowerInvariant(), international);
    }

    /// <summary>
    /// Parses a path in angle brackets at the start of <paramref name="text"/>.
    /// </summary>
    /// <param name="text">The bytes after "FROM:" or "TO:".</param>
    /// <param name="allowNull">Whether &lt;&gt; is allowed (reverse paths only).</param>
    /// <param name="allowBarePostmaster">Whether &lt;postmaster&gt; is allowed (forward paths only).</param>
    /// <param name="path">The path.</param>
    /// <param name="consumed">How many bytes the path took, including the brackets.</param>
    public static bool TryParse(ReadOnlySpan<byte> text, bool allowNull, bool allowBarePostmaster, out SmtpPath path, out int consumed)
    {
        path = Null;
        consumed = 0;
        if (text.IsEmpty || text[0] != (byte)'<')
        {
            return false;
        }

        var close = text.IndexOf((byte)'>');
        if (close < 0)
        {
            return false;
        }

        // A '>' inside a quoted local part is legal; find the closing bracket after any quoted string.
        var quoteStart = text.IndexOf((byte)'"');
        if (quoteStart >= 0 && quoteStart < close)
        {
            var afterQuote = FindClosingQuote(text, quoteStart);
            if (afterQuote < 0)
            {
                return false;
            }

            var next = text[afterQuote..].IndexOf((byte)'>');
            if (next < 0)
            {
                return false;
            }

            close = afterQuote + next;
        }

        var inner = text[1..close];
        consumed = close + 1;
        if (inner.Length + 2 > MaxPathLength)
        {
            return false;
        }

        if (inner.IsEmpty)
        {
            return allowNull;
        }

        // Source route: "@a,@b:" before the mailbox; accept its syntax and ignore it.
        if (inner[0] == (byte)'@')
        {
            var colon = inner.IndexOf((byte)':');
            if (colon < 0 || !IsValidSourceRoute(inner[..colon]))
            {
                return false;
            }

            inner = inner[(colon + 1)..];
        }

        if (allowBarePostmaster && Ascii.EqualsIgnoreCase(inner, "postmaster"u8))
        {
            path = new SmtpPath(Encoding.ASCII.GetString(inner), string.Empty, isInternational: false);
            return true;
        }

        return TryParseMailbox(inner, out path);
    }

    /// <summary>Parses a bare mailbox, local-part@domain.</summary>
    public static bool TryParseMailbox(ReadOnlySpan<byte> text, out SmtpPath path)
    {
        path = Null;
        int localLength;
        if (!text.IsEmpty && text[0] == (byte)'"')
        {
            localLength = FindClosingQuote(text, 0);
            if (localLength < 0 || !IsValidQuotedString(text[..localLength]))
            {
                return false;
            }
        }
        else
        {
            localLength = text.IndexOf((byte)'@');
            if (localLength <= 0 || !IsValidDotString(text[..localLength]))
            {
                return false;
            }
        }

        if (localLength > MaxLocalPartLength || localLength >= text.Length || text[localLength] != (byte)'@')
        {
            return false;
        }

        var domain = text[(localLength + 1)..];
        if (domain.Length is 0 or > MaxDomainLength || !(IsValidDomain(domain) || IsValidAddressLiteral(domain)))
        {
            return false;
        }

        var local = text[..localLength];
        if (!Utf8.IsValid(text))
        {
            return false;
        }

        path = new SmtpPath(Encoding.UTF8.GetString(local), Encoding.UTF8.GetString(domain).ToLowerInvariant(), !Ascii.IsValid(text));
        return true;
    }

    /// <summary>RFC 5321 §4.1.2 Domain (with RFC 6531 U-labels: any non-ASCII byte counts as a letter).</summary>
    public static bool IsValidDomain(ReadOnlySpan<byte> domain)
    {
        if (domain.IsEmpty || domain.Length > MaxDomainLength)
        {
            return false;
        }

        foreach (var range in domain.Split((byte)'.'))
        {
            var label = domain[range];
            if (label.Length is 0 or > 63 || !IsLetDig(label[0]) || !IsLetDig(label[^1]))
            {
                return false;
            }

            foreach (var b in label)
            {
                if (!IsLetDig(b) && b != (byte)'-')
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>RFC 5321 §4.1.3 address literal: [IPv4], [IPv6:...] or [tag:content].</summary>
    public static bool IsValidAddressLiteral(ReadOnlySpan<byte> literal)
    {
        if (literal.Length < 3 || literal[0] != (byte)'[' || literal[^1] != (byte)']')
        {
            return false;
        }

        var inner = literal[1..^1];
        if (inner.StartsWith("IPv6:"u8) || inner.StartsWith("ipv6:"u8))
        {
            return IPAddress.TryParse(inner[5..], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6;
        }

        if (inner.Length > 0 && char.IsAsciiDigit((char)inner[0]))
        {
            return inner.Count((byte)'.') == 3 && IPAddress.TryParse(inner, out var v4) && v4.AddressFamily == AddressFamily.InterNetwork;
        }

        // General-address-literal = Standardized-tag ":" 1*dcontent; no tags other than IPv6 are registered.
        return false;
    }

    private static bool IsValidSourceRoute(ReadOnlySpan<byte> route)
    {
        foreach (var range in route.Split((byte)','))
        {
            var hop = route[range];
            if (hop.Length < 2 || hop[0] != (byte)'@' || !IsValidDomain(hop[1..]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsValidDotString(ReadOnlySpan<byte> text)
    {
        foreach (var range in text.Split((byte)'.'))
        {
            var atom = text[range];
            if (atom.IsEmpty)
            {
                return false;
            }

            foreach (var b in atom)
            {
                if (!IsAtext(b))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>RFC 5321 §4.1.2 Quoted-string, including its quotes.</summary>
    private static bool IsValidQuotedString(ReadOnlySpan<byte> text)
    {
        if (text.Length < 2)
        {
            return false;
        }

        var inner = text[1..^1];
        for (var i = 0; i < inner.Length; i++)
        {
            var b = inner[i];
            if (b == (byte)'\\')
            {
                // quoted-pairSMTP = %d92 %d32-126
                if (++i >= inner.Length || inner[i] is < 32 or > 126)
                {
                    return false;
                }
            }
            else if (!(b is 32 or 33 or (>= 35 and <= 91) or (>= 93 and <= 126) || b >= 0x80))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The index just past the quote that closes the quoted string starting at <paramref name="start"/>, or -1.</summary>
    private static int FindClosingQuote(ReadOnlySpan<byte> text, int start)
    {
        for (var i = start + 1; i < text.Length; i++)
        {
            if (text[i] == (byte)'\\')
            {
                i++;
            }
            else if (text[i] == (byte)'"')
            {
                return i + 1;
            }
        }

        return -1;
    }

    // RFC 5322 §3.2.3 atext, plus RFC 6531 §3.3 UTF8-non-ascii (validated as UTF-8 as a whole).
    private static bool IsAtext(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b >= 0x80 || "!#$%&'*+-/=?^_`{|}~"u8.Contains(b);

    private static bool IsLetDig(byte b) => char.IsAsciiLetterOrDigit((char)b) || b >= 0x80;

    private static string Unquote(string localPart)
    {
        if (localPart.Length < 2 || localPart[0] != '"')
        {
            return localPart;
        }

        var builder = new StringBuilder(localPart.Length);
        for (var i = 1; i < localPart.Length - 1; i++)
        {
            if (localPart[i] == '\\' && i + 1 < localPart.Length - 1)
            {
                i++;
            }

            builder.Append(localPart[i]);
        }

        return builder.ToString();
    }

    public bool Equals(SmtpPath? other) =>
        other is not null && LocalPart == other.LocalPart && Domain == other.Domain;

    public override bool Equals(object? obj) => Equals(obj as SmtpPath);

    public override int GetHashCode() => HashCode.Combine(LocalPart, Domain);

    public override string ToString() => "<" + Address + ">";
}

using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Mailroom.Server.Users;

/// <summary>
/// Validation and normalisation of the mailbox addresses that appear in the users file, the alias
/// table and the local domain list: <c>local-part@domain</c> with a dot-atom local part
/// (RFC 5321 §4.1.2, UTF-8 allowed per RFC 6531 §3.3) and a host name domain.
/// The domain is lowercased, loses a trailing dot and is converted to A-labels (RFC 5890);
/// the local part is kept as written (RFC 5321 §2.4: local parts are case-sensitive).
/// </summary>
public static class AddressSyntax
{
    // RFC 5321 §4.5.3.1.1: 64 octets for a local part.
    private const int MaxLocalPartOctets = 64;

    // RFC 1035 §2.3.4 (and RFC 5321 §4.5.3.1.2): 255 octets for a name, 253 characters in text form.
    private const int MaxDomainLength = 253;

    // RFC 1035 §2.3.4: 63 octets for a label.
    private const int MaxLabelLength = 63;

    /// <summary>Normalises a domain: trailing dot removed, A-labels, lowercase. False when it is not a valid host name.</summary>
    public static bool TryNormalizeDomain(string domain, [NotNullWhen(true)] out string? normalized)
    {
        normalized = null;
        if (domain.EndsWith('.'))
        {
            domain = domain[..^1];
        }

        if (domain.Length == 0 || domain.Length > MaxDomainLength * 4)
        {
            return false;
        }

        string ascii;
        try
        {
            ascii = new IdnMapping { UseStd3AsciiRules = true }.GetAscii(domain.ToLowerInvariant());
        }
        catch (ArgumentException)
        {
            return false;
        }

        ascii = ascii.ToLowerInvariant();
        if (ascii.Length > MaxDomainLength)
        {
            return false;
        }

        foreach (var label in ascii.Split('.'))
        {
            if (label.Length == 0 || label.Length > MaxLabelLength || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c == '-'))
                {
                    return false;
                }
            }
        }

        normalized = ascii;
        return true;
    }

    /// <summary>True when <paramref name="localPart"/> is a dot-atom (RFC 5322 §3.2.3, UTF-8 per RFC 6531).</summary>
    public static bool IsValidLocalPart(string localPart)
    {
        if (localPart.Length == 0 || Encoding.UTF8.GetByteCount(localPart) > MaxLocalPartOctets)
        {
            return false;
        }

        if (localPart[0] == '.' || localPart[^1] == '.' || localPart.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in localPart)
        {
            if (!IsAtext(c) && c != '.')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Splits at the last '@' and normalises the domain; the local part is kept as written.</summary>
    public static bool TryNormalizeAddress(string address, [NotNullWhen(true)] out string? normalized)
    {
        normalized = null;
        if (!TrySplit(address, out var localPart, out var domain))
        {
            return false;
        }

        normalized = localPart + "@" + domain;
        return true;
    }

    /// <summary>Splits a valid address into its local part (as written) and its normalised domain.</summary>
    public static bool TrySplit(string address, out string localPart, out string domain)
    {
        localPart = "";
        domain = "";
        var at = address.LastIndexOf('@');
        if (at <= 0 || at == address.Length - 1)
        {
            return false;
        }

        var local = address[..at];
        if (!IsValidLocalPart(local) || !TryNormalizeDomain(address[(at + 1)..], out var normalizedDomain))
        {
            return false;
        }

        localPart = local;
        domain = normalizedDomain;
        return true;
    }

    // RFC 5322 §3.2.3 atext, plus UTF8-non-ascii (RFC 6531 §3.3).
    private static bool IsAtext(char c) =>
        char.IsAsciiLetterOrDigit(c) || c > 0x7F && !char.IsControl(c) && !char.IsWhiteSpace(c) ||
        "!#$%&'*+-/=?^_`{|}~".Contains(c);
}

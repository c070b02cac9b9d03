using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Mailroom.Authentication.Spf;

/// <summary>A mechanism's qualifier (RFC 7208 §4.6.2); the default is "+".</summary>
internal enum SpfQualifier
{
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

/// <summary>The mechanisms of RFC 7208 §5.</summary>
internal enum SpfMechanismKind
{
    All,
    Include,
    A,
    Mx,
    Ptr,
    Ip4,
    Ip6,
    Exists,
}

/// <summary>
/// One parsed mechanism. <see cref="DomainSpec"/> is the unexpanded macro-string (null: the current domain);
/// <see cref="Network"/> is set for ip4/ip6; the CIDR lengths default to the full address.
/// </summary>
internal sealed record SpfMechanism(
    SpfQualifier Qualifier,
    SpfMechanismKind Kind,
    string? DomainSpec,
    IPAddress? Network,
    int Cidr4,
    int Cidr6,
    string Text)
{
    /// <summary>True for the mechanisms that count towards the DNS lookup limit (RFC 7208 §4.6.4).</summary>
    public bool QueriesDns => Kind is SpfMechanismKind.Include or SpfMechanismKind.A or SpfMechanismKind.Mx
        or SpfMechanismKind.Ptr or SpfMechanismKind.Exists;
}

/// <summary>A parsed SPF record (RFC 7208 §4.6, §12 ABNF): mechanisms in order, redirect= and exp=.</summary>
internal sealed partial record SpfRecord(IReadOnlyList<SpfMechanism> Mechanisms, string? Redirect, string? Explanation)
{
    /// <summary>True when <paramref name="text"/> is an SPF record: "v=spf1" then a space or the end (RFC 7208 §4.5).</summary>
    public static bool IsSpfRecord(string text) =>
        text.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (text.Length == 6 || text[6] == ' ');

    /// <summary>
    /// Parses a whole record before anything is evaluated, so that a syntax error anywhere is a
    /// PermError (RFC 7208 §4.6: "detect-errors-anywhere").
    /// </summary>
    public static bool TryParse(string text, out SpfRecord? record, out string? error)
    {
        record = null;
        if (!IsSpfRecord(text))
        {
            error = "not an SPF record";
            return false;
        }

        var mechanisms = new List<SpfMechanism>();
        string? redirect = null;
        string? explanation = null;
        // RFC 7208 §4.6.1: terms are separated by one or more spaces; §3.1: US-ASCII only.
        foreach (var term in text[6..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (term.Any(c => c is < '!' or > '~'))
            {
                error = $"invalid character in \"{Printable(term)}\"";
                return false;
            }

            if (ModifierPattern().Match(term) is { Success: true } modifier)
            {
                var name = modifier.Groups["name"].Value;
                var value = modifier.Groups["value"].Value;
                if (name.Equals("redirect", StringComparison.OrdinalIgnoreCase) || name.Equals("exp", StringComparison.OrdinalIgnoreCase))
                {
                    // RFC 7208 §6: each of these at most once.
                    var isRedirect = name.Equals("redirect", StringComparison.OrdinalIgnoreCase);
                    if ((isRedirect ? redirect : explanation) is not null)
                    {
                        error = $"{name.ToLowerInvariant()}= appears twice";
                        return false;
                    }

                    if (!SpfMacro.IsValidDomainSpec(value))
                    {
                        error = $"invalid domain-spec in {term}";
                        return false;
                    }

                    if (isRedirect)
                    {
                        redirect = value;
                    }
                    else
                    {
                        explanation = value;
                    }
                }
                else if (!SpfMacro.IsValidMacroString(value, explain: false))
                {
                    // RFC 7208 §6: unknown-modifier = name "=" macro-string; ignored if valid.
                    error = $"invalid macro-string in {term}";
                    return false;
                }

                continue;
            }

            if (!TryParseMechanism(term, out var mechanism))
            {
                error = $"invalid mechanism \"{term}\"";
                return false;
            }

            mechanisms.Add(mechanism!);
        }

        record = new SpfRecord(mechanisms, redirect, explanation);
        error = null;
        return true;
    }

    private static bool TryParseMechanism(string term, out SpfMechanism? mechanism)
    {
        mechanism = null;
        var qualifier = term[0] switch
        {
            '+' => SpfQualifier.Pass,
            '-' => SpfQualifier.Fail,
            '~' => SpfQualifier.SoftFail,
            '?' => SpfQualifier.Neutral,
            _ => (SpfQualifier?)null,
        };
        var body = qualifier is null ? term : term[1..];
        var end = body.IndexOfAny([':', '/']);
        var name = (end < 0 ? body : body[..end]).ToLowerInvariant();
        var rest = end < 0 ? "" : body[end..];
        var q = qualifier ?? SpfQualifier.Pass;
        switch (name)
        {
            case "all":
                if (rest.Length != 0)
                {
                    return false;
                }

                mechanism = new SpfMechanism(q, SpfMechanismKind.All, null, null, 32, 128, term);
                return true;
            case "include":
            case "exists":
                if (!rest.StartsWith(':') || !SpfMacro.IsValidDomainSpec(rest[1..]))
                {
                    return false;
                }

                mechanism = new SpfMechanism(q, name == "include" ? SpfMechanismKind.Include : SpfMechanismKind.Exists, rest[1..], null, 32, 128, term);
                return true;
            case "ptr":
                if (rest.Length != 0 && (!rest.StartsWith(':') || !SpfMacro.IsValidDomainSpec(rest[1..])))
                {
                    return false;
                }

                mechanism = new SpfMechanism(q, SpfMechanismKind.Ptr, rest.Length == 0 ? null : rest[1..], null, 32, 128, term);
                return true;
            case "a":
            case "mx":
                var match = DualCidrPattern().Match(rest);
                if (!match.Success)
                {
                    return false;
                }

                string? domain = match.Groups["domain"].Success ? match.Groups["domain"].Value : null;
                if (domain is not null && !SpfMacro.IsValidDomainSpec(domain))
                {
                    return false;
                }

                if (!TryCidr(match.Groups["cidr4"], 32, out var cidr4) || !TryCidr(match.Groups["cidr6"], 128, out var cidr6))
                {
                    return false;
                }

                mechanism = new SpfMechanism(q, name == "a" ? SpfMechanismKind.A : SpfMechanismKind.Mx, domain, null, cidr4, cidr6, term);
                return true;
            case "ip4":
                var ip4 = Ip4Pattern().Match(rest);
                if (!ip4.Success || !TryIp4(ip4.Groups["address"].Value, out var address4) || !TryCidr(ip4.Groups["cidr"], 32, out var length4))
                {
                    return false;
                }

                mechanism = new SpfMechanism(q, SpfMechanismKind.Ip4, null, address4, length4, 128, term);
                return true;
            case "ip6":
                var ip6 = Ip6Pattern().Match(rest);
                if (!ip6.Success
                    || !IPAddress.TryParse(ip6.Groups["address"].Value, out var address6)
                    || address6.AddressFamily != AddressFamily.InterNetworkV6
                    || !TryCidr(ip6.Groups["cidr"], 128, out var length6))
                {
                    return false;
                }

                mechanism = new SpfMechanism(q, SpfMechanismKind.Ip6, null, address6, 32, length6, term);
                return true;
            default:
                // RFC 7208 §4.6.1: an unknown mechanism is a syntax error.
                return false;
        }
    }

    // ip4-cidr-length = "/" ("0" / %x31-39 0*1DIGIT), ip6-cidr-length likewise up to 3 digits (RFC 7208 §12).
    private static bool TryCidr(Group group, int max, out int length)
    {
        length = max;
        if (!group.Success)
        {
            return true;
        }

        var digits = group.Value;
        if (digits.Length == 0 || digits.Length > 3 || (digits.Length > 1 && digits[0] == '0'))
        {
            return false;
        }

        length = int.Parse(digits, CultureInfo.InvariantCulture);
        return length <= max;
    }

    // ip4-network = qnum "." qnum "." qnum "." qnum, qnum a decimal 0-255 (RFC 7208 §12).
    private static bool TryIp4(string text, out IPAddress? address)
    {
        address = null;
        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        var bytes = new byte[4];
        for (var i = 0; i < 4; i++)
        {
            var part = parts[i];
            if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit) || (part.Length > 1 && part[0] == '0')
                || !byte.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }

        address = new IPAddress(bytes);
        return true;
    }

    private static string Printable(string text) =>
        string.Concat(text.Select(c => c is < ' ' or > '~' ? $"\\x{(int)c:x2}" : c.ToString()));

    // RFC 7208 §12: name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), then "=".
    [GeneratedRegex("^(?<name>[A-Za-z][A-Za-z0-9._-]*)=(?<value>.*)$")]
    private static partial Regex ModifierPattern();

    // [ ":" domain-spec ] [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
    [GeneratedRegex("^(?::(?<domain>.*?))?(?:/(?<cidr4>[0-9]*))?(?://(?<cidr6>[0-9]*))?$")]
    private static partial Regex DualCidrPattern();

    [GeneratedRegex("^:(?<address>[0-9.]+)(?:/(?<cidr>[0-9]*))?$")]
    private static partial Regex Ip4Pattern();

    [GeneratedRegex("^:(?<address>[0-9A-Fa-f:.]+)(?:/(?<cidr>[0-9]*))?$")]
    private static partial Regex Ip6Pattern();
}

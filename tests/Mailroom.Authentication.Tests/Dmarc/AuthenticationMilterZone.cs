using System.Net;
using System.Text;

namespace Mailroom.Authentication.Tests.Dmarc;

/// <summary>
/// Reads the BIND-style <c>zonefile</c> of the authentication-milter corpus
/// (tests/testdata/dmarc/authentication-milter/PROVENANCE.md) into a <see cref="ZoneResolver"/>:
/// <c>name [ttl] [IN] TYPE rdata</c>, lines starting with <c>;</c> are comments, TXT rdata may be
/// parenthesised and mix quoted and bare character-strings. Any name absent is NXDOMAIN.
/// </summary>
/// <remarks>
/// A TXT record's character-strings are joined with nothing between them: RFC 7208 §3.3 for SPF
/// records, RFC 6376 §3.6.2.2 for DKIM key records (the zone's tfe2 and 20130820 keys are split
/// across strings). An owner with TYPE but no rdata (<c>_domainkey.goestheweasel.com TXT</c>) exists
/// without records (NODATA).
/// </remarks>
internal static class AuthenticationMilterZone
{
    private static readonly string[] s_types = ["A", "AAAA", "TXT", "MX", "PTR", "CNAME", "NS"];

    public static ZoneResolver Load(string text)
    {
        var zone = new ZoneResolver();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith(';') || string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var (owner, rest) = NextToken(line);
            string type;
            while (true)
            {
                (var token, rest) = NextToken(rest);
                if (token.Length == 0)
                {
                    throw new FormatException($"no type in zone line: {line}");
                }

                if (s_types.Contains(token, StringComparer.OrdinalIgnoreCase))
                {
                    type = token.ToUpperInvariant();
                    break;
                }

                if (!token.All(char.IsAsciiDigit) && !token.Equals("IN", StringComparison.OrdinalIgnoreCase))
                {
                    throw new FormatException($"unexpected token '{token}' in zone line: {line}");
                }
            }

            var rdata = rest.Trim();
            if (rdata.Length == 0)
            {
                zone.Touch(owner);
                continue;
            }

            switch (type)
            {
                case "A":
                case "AAAA":
                    zone.Add(owner, new ZoneResolver.Address(IPAddress.Parse(rdata)));
                    break;
                case "TXT":
                    zone.AddTxt(owner, string.Concat(CharacterStrings(rdata)));
                    break;
                case "MX":
                    var parts = rdata.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    zone.Add(owner, new ZoneResolver.Mx(ushort.Parse(parts[0]), parts[1]));
                    break;
                case "PTR":
                    zone.Add(owner, new ZoneResolver.Ptr(rdata));
                    break;
                case "CNAME":
                    zone.Add(owner, new ZoneResolver.Cname(rdata));
                    break;
                default:
                    zone.Touch(owner); // NS: the name exists; no check here asks for NS.
                    break;
            }
        }

        return zone;
    }

    /// <summary>The character-strings of TXT rdata (RFC 1035 §5.1): quoted or bare, inside optional parentheses.</summary>
    internal static List<string> CharacterStrings(string rdata)
    {
        var strings = new List<string>();
        var i = 0;
        while (i < rdata.Length)
        {
            var c = rdata[i];
            if (char.IsWhiteSpace(c) || c is '(' or ')')
            {
                i++;
            }
            else if (c == '"')
            {
                var value = new StringBuilder();
                i++;
                while (i < rdata.Length && rdata[i] != '"')
                {
                    if (rdata[i] == '\\' && i + 1 < rdata.Length)
                    {
                        i++;
                    }

                    value.Append(rdata[i]);
                    i++;
                }

                i++; // closing quote
                strings.Add(value.ToString());
            }
            else
            {
                var start = i;
                while (i < rdata.Length && !char.IsWhiteSpace(rdata[i]) && rdata[i] is not ('(' or ')'))
                {
                    i++;
                }

                strings.Add(rdata[start..i]);
            }
        }

        return strings;
    }

    private static (string Token, string Remainder) NextToken(string text)
    {
        text = text.TrimStart();
        var end = 0;
        while (end < text.Length && !char.IsWhiteSpace(text[end]))
        {
            end++;
        }

        return (text[..end], text[end..]);
    }
}

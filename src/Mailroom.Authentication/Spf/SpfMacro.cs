using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mailroom.Authentication.Spf;

/// <summary>The values the macros of RFC 7208 §7.2 stand for, in one check_host() call.</summary>
internal sealed class SpfMacroContext
{
    public required string Sender { get; init; }

    public required string LocalPart { get; init; }

    public required string SenderDomain { get; init; }

    public required string Domain { get; init; }

    public required IPAddress Client { get; init; }

    public required string Helo { get; init; }

    public required string ReceivingHost { get; init; }

    public required long Timestamp { get; init; }

    /// <summary>Computes %{p}, the validated domain name of the client (RFC 7208 §7.3); looked up only when used.</summary>
    public required Func<string, CancellationToken, Task<string>> ValidatedName { get; init; }

    public SpfMacroContext WithDomain(string domain) => new()
    {
        Sender = Sender,
        LocalPart = LocalPart,
        SenderDomain = SenderDomain,
        Domain = domain,
        Client = Client,
        Helo = Helo,
        ReceivingHost = ReceivingHost,
        Timestamp = Timestamp,
        ValidatedName = ValidatedName,
    };
}

/// <summary>Macro syntax and expansion (RFC 7208 §7).</summary>
internal static class SpfMacro
{
    private const string Delimiters = ".-+,/_=";

    /// <summary>
    /// RFC 7208 §7.1: macro-string = *( macro-expand / macro-literal ); in explanation text
    /// (<paramref name="explain"/>) spaces and the letters c, r, t are allowed too.
    /// </summary>
    public static bool IsValidMacroString(string text, bool explain) => Tokenize(text, explain) is not null;

    /// <summary>
    /// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
    /// (RFC 7208 §7.1, §12).
    /// </summary>
    public static bool IsValidDomainSpec(string text)
    {
        var tokens = Tokenize(text, explain: false);
        if (tokens is null || tokens.Count == 0)
        {
            return false;
        }

        if (tokens[^1] is Token.Macro or Token.Escape)
        {
            return true;
        }

        var literal = ((Token.Literal)tokens[^1]).Text;
        if (literal.EndsWith('.'))
        {
            literal = literal[..^1];
        }

        var dot = literal.LastIndexOf('.');
        // The "." before the toplabel must be in this literal; a macro before it does not count.
        return dot >= 0 && IsTopLabel(literal[(dot + 1)..]);
    }

    /// <summary>toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) (RFC 7208 §12).</summary>
    private static bool IsTopLabel(string label) =>
        label.Length > 0
        && label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')
        && char.IsAsciiLetterOrDigit(label[0])
        && char.IsAsciiLetterOrDigit(label[^1])
        && (label.Any(char.IsAsciiLetter) || label.Contains('-'));

    /// <summary>Expands a macro-string already checked by <see cref="IsValidMacroString"/>.</summary>
    public static async Task<string> ExpandAsync(string text, SpfMacroContext context, bool explain, CancellationToken cancellationToken)
    {
        var tokens = Tokenize(text, explain) ?? throw new ArgumentException("invalid macro-string", nameof(text));
        var result = new StringBuilder();
        foreach (var token in tokens)
        {
            switch (token)
            {
                case Token.Literal literal:
                    result.Append(literal.Text);
                    break;
                case Token.Escape escape:
                    result.Append(escape.Value);
                    break;
                case Token.Macro macro:
                    var value = await ValueAsync(char.ToLowerInvariant(macro.Letter), context, cancellationToken);
                    var parts = value.Split([.. (macro.Delimiters.Length == 0 ? "." : macro.Delimiters)]).ToList();
                    if (macro.Reverse)
                    {
                        parts.Reverse();
                    }

                    if (macro.Keep is { } keep && keep < parts.Count)
                    {
                        parts = parts[^keep..];
                    }

                    var expanded = string.Join('.', parts);
                    // §7.3: an uppercase macro letter means the value is URL-escaped (RFC 3986 unreserved kept).
                    result.Append(char.IsAsciiLetterUpper(macro.Letter) ? UrlEscape(expanded) : expanded);
                    break;
            }
        }

        return result.ToString();
    }

    /// <summary>
    /// RFC 7208 §7.3: an expanded domain-spec longer than 253 characters loses labels from the left
    /// until it fits.
    /// </summary>
    public static string Truncate(string domain, int limit)
    {
        while (domain.Length > limit)
        {
            var dot = domain.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0)
            {
                return domain;
            }

            domain = domain[(dot + 1)..];
        }

        return domain;
    }

    private static async Task<string> ValueAsync(char letter, SpfMacroContext context, CancellationToken cancellationToken) => letter switch
    {
        's' => context.Sender,
        'l' => context.LocalPart,
        'o' => context.SenderDomain,
        'd' => context.Domain,
        'i' => DottedAddress(context.Client),
        'p' => await context.ValidatedName(context.Domain, cancellationToken),
        'v' => context.Client.AddressFamily == AddressFamily.InterNetwork ? "in-addr" : "ip6",
        'h' => context.Helo,
        'c' => context.Client.ToString(),
        'r' => context.ReceivingHost,
        't' => context.Timestamp.ToString(CultureInfo.InvariantCulture),
        _ => "",
    };

    /// <summary>
    /// %{i}: dotted quad, or 32 dot-separated nibbles for IPv6 (RFC 7208 §7.3). The nibbles are
    /// uppercase, as in the OpenSPF suite's v-macro-ip6 test (pyspf); DNS names are case-insensitive,
    /// so only explanation text shows the difference from the lowercase example of §7.4.
    /// </summary>
    public static string DottedAddress(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        return bytes.Length == 4
            ? address.ToString()
            : string.Join('.', Convert.ToHexString(bytes).ToCharArray());
    }

    private static string UrlEscape(string text)
    {
        var result = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~')
            {
                result.Append(c);
            }
            else
            {
                result.Append(CultureInfo.InvariantCulture, $"%{b:X2}");
            }
        }

        return result.ToString();
    }

    private abstract record Token
    {
        public sealed record Literal(string Text) : Token;

        public sealed record Escape(string Value) : Token;

        public sealed record Macro(char Letter, int? Keep, bool Reverse, string Delimiters) : Token;
    }

    private static List<Token>? Tokenize(string text, bool explain)
    {
        var tokens = new List<Token>();
        var literal = new StringBuilder();
        void Flush()
        {
            if (literal.Length > 0)
            {
                tokens.Add(new Token.Literal(literal.ToString()));
                literal.Clear();
            }
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '%')
            {
                // macro-literal = %x21-24 / %x26-7E; explain-string adds SP.
                if (c is < '!' or > '~' && !(explain && c == ' '))
                {
                    return null;
                }

                literal.Append(c);
                continue;
            }

            if (i + 1 >= text.Length)
            {
                return null;
            }

            var next = text[++i];
            switch (next)
            {
                case '%':
                    Flush();
                    tokens.Add(new Token.Escape("%"));
                    continue;
                case '_':
                    Flush();
                    tokens.Add(new Token.Escape(" "));
                    continue;
                case '-':
                    Flush();
                    tokens.Add(new Token.Escape("%20"));
                    continue;
                case '{':
                    break;
                default:
                    return null;
            }

            var close = text.IndexOf('}', i);
            if (close < 0 || close == i + 1)
            {
                return null;
            }

            var body = text[(i + 1)..close];
            i = close;
            var letter = body[0];
            // macro-letter = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"; c, r, t only in exp (§7.1).
            if (!"slodiphv".Contains(char.ToLowerInvariant(letter), StringComparison.Ordinal)
                && !(explain && "crt".Contains(char.ToLowerInvariant(letter), StringComparison.Ordinal)))
            {
                return null;
            }

            var position = 1;
            while (position < body.Length && char.IsAsciiDigit(body[position]))
            {
                position++;
            }

            int? keep = null;
            if (position > 1)
            {
                // transformers = *DIGIT [ "r" ]; zero parts cannot be kept.
                if (!int.TryParse(body.AsSpan(1, position - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count == 0)
                {
                    return null;
                }

                keep = Math.Min(count, 128);
            }

            var reverse = false;
            if (position < body.Length && body[position] is 'r' or 'R')
            {
                reverse = true;
                position++;
            }

            var delimiters = body[position..];
            if (delimiters.Any(d => !Delimiters.Contains(d, StringComparison.Ordinal)))
            {
                return null;
            }

            Flush();
            tokens.Add(new Token.Macro(letter, keep, reverse, delimiters));
        }

        Flush();
        return tokens;
    }
}

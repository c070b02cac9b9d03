using System.Text;
using MimeKit;

namespace Mailroom.Authentication.Results;

/// <summary>
/// Formats our Authentication-Results header (RFC 8601) and removes headers that claim to be ours.
/// </summary>
public static class AuthenticationResultsHeader
{
    public const string Name = "Authentication-Results";

    /// <summary>
    /// The header value: <paramref name="authservId"/> (our host name) and every result, one per
    /// folded line; "none" when there are no results (RFC 8601 §2.2 no-result).
    /// </summary>
    public static string FormatValue(string authservId, IEnumerable<AuthenticationResult> results)
    {
        var text = new StringBuilder(authservId);
        var any = false;
        foreach (var result in results)
        {
            any = true;
            text.Append(";\r\n\t").Append(result.Method).Append('=').Append(result.Result);
            if (result.Comment is { } comment)
            {
                text.Append(" (").Append(EscapeComment(comment)).Append(')');
            }

            if (result.Reason is { } reason)
            {
                text.Append(" reason=").Append(Quote(reason));
            }

            foreach (var property in result.Properties)
            {
                text.Append(' ').Append(property.Type).Append('.').Append(property.Name).Append('=').Append(PropertyValue(property.Value));
            }
        }

        if (!any)
        {
            text.Append("; none");
        }

        return text.ToString();
    }

    /// <summary>
    /// Our one header for a message: iprev, spf, dkim (one resinfo per signature, "dkim=none" when
    /// unsigned) and dmarc, in that order, each only when it was checked.
    /// </summary>
    public static string Compose(
        string authservId,
        AuthenticationResult? iprev,
        Spf.SpfCheckResult? spf,
        IReadOnlyList<Dkim.DkimSignatureResult>? dkim,
        Dmarc.DmarcCheckResult? dmarc)
    {
        var results = new List<AuthenticationResult>();
        if (iprev is not null)
        {
            results.Add(iprev);
        }

        if (spf is not null)
        {
            results.Add(Spf.SpfHeaders.ToAuthenticationResult(spf));
        }

        if (dkim is not null)
        {
            results.AddRange(dkim.Count == 0 ? [Dkim.DkimVerification.NoSignature.ToAuthenticationResult()] : dkim.Select(d => d.ToAuthenticationResult()));
        }

        if (dmarc is not null)
        {
            results.Add(dmarc.ToAuthenticationResult());
        }

        return Format(authservId, results);
    }

    /// <summary>
    /// iprev (RFC 8601 §3): the result computed elsewhere (pass, fail, temperror, permerror) with the
    /// client address as policy.iprev and the verified name as a comment.
    /// </summary>
    public static AuthenticationResult Iprev(string result, System.Net.IPAddress client, string? name) =>
        new("iprev", result)
        {
            Comment = name,
            Properties = [new AuthenticationProperty("policy", "iprev", client.ToString())],
        };

    /// <summary>The whole header field, "Authentication-Results: ..." with CRLF.</summary>
    public static string Format(string authservId, IEnumerable<AuthenticationResult> results) =>
        $"{Name}: {FormatValue(authservId, results)}\r\n";

    /// <summary>
    /// RFC 8601 §5: an Authentication-Results header that already carries our authserv-id did not come
    /// from us (we add ours after this), so it is removed. Returns how many were removed.
    /// </summary>
    public static int RemoveForged(HeaderList headers, string authservId)
    {
        var removed = 0;
        for (var i = headers.Count - 1; i >= 0; i--)
        {
            var header = headers[i];
            if (header.Field.Equals(Name, StringComparison.OrdinalIgnoreCase) && ClaimsAuthservId(header.RawValue, authservId))
            {
                headers.RemoveAt(i);
                removed++;
            }
        }

        return removed;
    }

    /// <summary>True when the header value's authserv-id is <paramref name="authservId"/> (case-insensitive, comments skipped).</summary>
    public static bool ClaimsAuthservId(ReadOnlySpan<byte> rawValue, string authservId) =>
        ClaimsAuthservId(Encoding.UTF8.GetString(rawValue), authservId);

    /// <inheritdoc cref="ClaimsAuthservId(ReadOnlySpan{byte}, string)"/>
    public static bool ClaimsAuthservId(string value, string authservId)
    {
        var position = SkipCfws(value, 0);
        var start = position;
        string id;
        if (position < value.Length && value[position] == '"')
        {
            var end = value.IndexOf('"', position + 1);
            if (end < 0)
            {
                return false;
            }

            id = value[(position + 1)..end];
        }
        else
        {
            while (position < value.Length && value[position] is not (';' or '(' or ' ' or '\t' or '\r' or '\n'))
            {
                position++;
            }

            id = value[start..position];
        }

        return id.TrimEnd('.').Equals(authservId.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
    }

    private static int SkipCfws(string value, int position)
    {
        var depth = 0;
        while (position < value.Length)
        {
            var c = value[position];
            if (c == '(')
            {
                depth++;
            }
            else if (c == ')' && depth > 0)
            {
                depth--;
            }
            else if (c == '\\' && depth > 0)
            {
                position++;
            }
            else if (depth == 0 && c is not (' ' or '\t' or '\r' or '\n'))
            {
                return position;
            }

            position++;
        }

        return position;
    }

    internal static string EscapeComment(string comment)
    {
        var text = new StringBuilder();
        foreach (var c in comment)
        {
            if (c is '(' or ')' or '\\')
            {
                text.Append('\\');
            }

            text.Append(c is '\r' or '\n' ? ' ' : c);
        }

        return text.ToString();
    }

    /// <summary>A quoted-string (RFC 5322 §3.2.4).</summary>
    internal static string Quote(string value)
    {
        var text = new StringBuilder("\"");
        foreach (var c in value)
        {
            if (c is '"' or '\\')
            {
                text.Append('\\');
            }

            text.Append(c is '\r' or '\n' ? ' ' : c);
        }

        return text.Append('"').ToString();
    }

    // pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS] (RFC 8601 §2.2); value = token / quoted-string (RFC 2045 §5.1).
    private static string PropertyValue(string value)
    {
        var at = value.LastIndexOf('@');
        var local = at < 0 ? "" : value[..at];
        var domain = at < 0 ? value : value[(at + 1)..];
        var plain = value.Length > 0
            && value.All(c => c is > ' ' and < '\x7f' or > '\x7f')
            && IsToken(domain)
            && (at < 0 || local.Length == 0 || local.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.".Contains(c, StringComparison.Ordinal)));
        return plain ? value : Quote(value);
    }

    private static bool IsToken(string text) =>
        text.Length > 0 && text.All(c => c > ' ' && c != '\x7f' && !"()<>@,;:\\\"/[]?=".Contains(c, StringComparison.Ordinal));
}

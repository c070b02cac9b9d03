namespace Mailroom.Authentication.Dkim;

/// <summary>tag=value lists of DKIM-Signature fields and key records (RFC 6376 §3.2).</summary>
internal static class DkimTags
{
    /// <summary>The tags, names case-sensitive, whitespace (FWS) removed around values; null on a syntax error or a duplicate tag.</summary>
    public static Dictionary<string, string>? Parse(string text)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in text.Split(';'))
        {
            var item = part.Trim(' ', '\t', '\r', '\n');
            if (item.Length == 0)
            {
                continue;
            }

            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return null;
            }

            var name = item[..equals].Trim(' ', '\t', '\r', '\n');
            var value = item[(equals + 1)..].Trim(' ', '\t', '\r', '\n');
            // §3.2: a tag appearing twice makes the whole list invalid.
            if (!tags.TryAdd(name, value))
            {
                return null;
            }
        }

        return tags;
    }

    /// <summary>A value with all folding whitespace removed (b=, bh=, p= base64).</summary>
    public static string Compact(string value) =>
        string.Concat(value.Where(c => c is not (' ' or '\t' or '\r' or '\n')));
}

using System.Globalization;

namespace Mailroom.Authentication.Dmarc;

/// <summary>
/// The Public Suffix List (publicsuffix.org, format at publicsuffix.org/list/), used to find the
/// organizational domain of RFC 7489 §3.2. Rules are kept in A-label (punycode) form; both sections
/// (ICANN and PRIVATE) are used, as the list's own test vectors expect.
/// </summary>
public sealed class PublicSuffixList
{
    private const string ResourceName = "Mailroom.Authentication.Dmarc.public_suffix_list.dat";
    private static readonly IdnMapping s_idn = new() { AllowUnassigned = true };
    private static readonly Lazy<PublicSuffixList> s_embedded = new(() =>
    {
        using var stream = typeof(PublicSuffixList).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"missing resource {ResourceName}");
        return Parse(new StreamReader(stream));
    });

    private readonly HashSet<string> _rules;
    private readonly HashSet<string> _wildcards;
    private readonly HashSet<string> _exceptions;

    private PublicSuffixList(HashSet<string> rules, HashSet<string> wildcards, HashSet<string> exceptions)
    {
        _rules = rules;
        _wildcards = wildcards;
        _exceptions = exceptions;
    }

    /// <summary>The number of rules read.</summary>
    public int Count => _rules.Count + _wildcards.Count + _exceptions.Count;

    /// <summary>The copy shipped inside this assembly (see Dmarc/PUBLIC_SUFFIX_LIST.md for its date).</summary>
    public static PublicSuffixList Embedded => s_embedded.Value;

    /// <summary>Reads a newer copy of the list, e.g. from the publicsuffix package or a downloaded file.</summary>
    public static PublicSuffixList Load(string path)
    {
        using var reader = new StreamReader(path);
        return Parse(reader);
    }

    public static PublicSuffixList Parse(TextReader reader)
    {
        var rules = new HashSet<string>(StringComparer.Ordinal);
        var wildcards = new HashSet<string>(StringComparer.Ordinal);
        var exceptions = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            // Each line is only read up to the first whitespace; "//" starts a comment.
            var rule = line.Split([' ', '\t'], 2)[0];
            if (rule.Length == 0 || rule.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            if (rule.StartsWith('!'))
            {
                exceptions.Add(ToAscii(rule[1..]));
            }
            else if (rule.StartsWith("*.", StringComparison.Ordinal))
            {
                wildcards.Add(ToAscii(rule[2..]));
            }
            else
            {
                rules.Add(ToAscii(rule));
            }
        }

        return new PublicSuffixList(rules, wildcards, exceptions);
    }

    /// <summary>
    /// The registrable domain (public suffix plus one label) of <paramref name="domain"/>, in the form
    /// it was given (lowercased); null when the domain is itself a public suffix, is empty or starts
    /// with a dot.
    /// </summary>
    public string? GetRegistrableDomain(string domain)
    {
        if (domain.Length == 0 || domain.StartsWith('.'))
        {
            return null;
        }

        var original = domain.TrimEnd('.').ToLowerInvariant().Split('.');
        string[] labels;
        try
        {
            labels = [.. original.Select(ToAscii)];
        }
        catch (ArgumentException)
        {
            return null;
        }

        var suffixLength = PublicSuffixLength(labels);
        return labels.Length > suffixLength ? string.Join('.', original[^(suffixLength + 1)..]) : null;
    }

    /// <summary>
    /// RFC 7489 §3.2: the organizational domain; a domain that is itself a public suffix is its own
    /// organizational domain.
    /// </summary>
    public string GetOrganizationalDomain(string domain) =>
        GetRegistrableDomain(domain) ?? domain.TrimEnd('.').ToLowerInvariant();

    // The number of labels of the public suffix: the prevailing rule (an exception wins, else the
    // longest match), or the implicit "*" rule (one label).
    private int PublicSuffixLength(string[] labels)
    {
        var longest = 1;
        for (var count = labels.Length; count >= 1; count--)
        {
            var candidate = string.Join('.', labels[^count..]);
            if (_exceptions.Contains(candidate))
            {
                return count - 1;
            }

            if (count > longest && _rules.Contains(candidate))
            {
                longest = count;
            }

            // "*.parent" matches one label below parent.
            if (count > longest && count >= 2 && _wildcards.Contains(string.Join('.', labels[^(count - 1)..])))
            {
                longest = count;
            }
        }

        return longest;
    }

    private static string ToAscii(string label) =>
        label.All(char.IsAscii) ? label.ToLowerInvariant() : s_idn.GetAscii(label).ToLowerInvariant();
}

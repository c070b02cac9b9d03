using System.Globalization;

namespace Mailroom.Authentication.Dmarc;

/// <summary>A policy requested by a Domain Owner (RFC 7489 §6.3 p=, sp=).</summary>
public enum DmarcPolicy
{
    None,
    Quarantine,
    Reject,
}

/// <summary>Identifier alignment mode (RFC 7489 §3.1 adkim=, aspf=).</summary>
public enum DmarcAlignment
{
    Relaxed,
    Strict,
}

/// <summary>
/// A parsed DMARC record (RFC 7489 §6.3). rua= and ruf= are kept (reports are not sent).
/// </summary>
public sealed record DmarcRecord(
    DmarcPolicy Policy,
    DmarcPolicy? SubdomainPolicy,
    DmarcAlignment DkimAlignment,
    DmarcAlignment SpfAlignment,
    int Percent,
    string? AggregateReportUris,
    string? FailureReportUris)
{
    /// <summary>True when the TXT record is a DMARC record: it begins with "v=DMARC1" (RFC 7489 §6.6.3 step 3).</summary>
    public static bool IsDmarcRecord(string text)
    {
        var first = text.Split(';', 2)[0].Split('=', 2);
        return first.Length == 2 && first[0].Trim() == "v" && first[1].Trim() == "DMARC1";
    }

    /// <summary>
    /// Parses a record. A tag without "=" is a syntax error (as authheaders does; RFC 7489 leaves it
    /// open); unknown tags are ignored (§6.3). A missing or invalid p= is replaced by p=none when a
    /// rua= is present, otherwise the record gives no policy (§6.6.3 step 6): <paramref name="record"/>
    /// is then null and the method returns true.
    /// </summary>
    public static bool TryParse(string text, out DmarcRecord? record, out string? error)
    {
        record = null;
        error = null;
        var tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var first = true;
        foreach (var part in text.Split(';'))
        {
            var item = part.Trim();
            if (item.Length == 0)
            {
                continue;
            }

            var equals = item.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                error = $"missing tag or value: \"{text}\"";
                return false;
            }

            var name = item[..equals].Trim();
            var value = item[(equals + 1)..].Trim();
            if (first && (name != "v" || value != "DMARC1"))
            {
                error = "the record does not begin with v=DMARC1";
                return false;
            }

            first = false;
            tags.TryAdd(name, value);
        }

        var rua = tags.GetValueOrDefault("rua");
        var policy = ParsePolicy(tags.GetValueOrDefault("p"));
        if (policy is null)
        {
            if (string.IsNullOrEmpty(rua))
            {
                return true;
            }

            policy = DmarcPolicy.None;
        }

        var subdomain = tags.TryGetValue("sp", out var sp) ? ParsePolicy(sp) : null;
        var percent = tags.TryGetValue("pct", out var pct) && int.TryParse(pct, NumberStyles.None, CultureInfo.InvariantCulture, out var value100) && value100 <= 100
            ? value100
            : 100;
        record = new DmarcRecord(
            policy.Value,
            subdomain,
            ParseAlignment(tags.GetValueOrDefault("adkim")),
            ParseAlignment(tags.GetValueOrDefault("aspf")),
            percent,
            rua,
            tags.GetValueOrDefault("ruf"));
        return true;
    }

    private static DmarcPolicy? ParsePolicy(string? value) => value?.ToLowerInvariant() switch
    {
        "none" => DmarcPolicy.None,
        "quarantine" => DmarcPolicy.Quarantine,
        "reject" => DmarcPolicy.Reject,
        _ => null,
    };

    // §6.3: "r" or "s"; anything else keeps the default, relaxed.
    private static DmarcAlignment ParseAlignment(string? value) =>
        value is "s" or "S" ? DmarcAlignment.Strict : DmarcAlignment.Relaxed;
}

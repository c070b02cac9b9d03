using Mailroom.Authentication.Results;

namespace Mailroom.Authentication.Dmarc;

/// <summary>The dmarc results of RFC 7489 §11.2 / RFC 8601.</summary>
public enum DmarcResult
{
    /// <summary>No DMARC policy was found (or the record gives none).</summary>
    None,

    /// <summary>SPF or DKIM passed with an identifier aligned with the From domain.</summary>
    Pass,

    /// <summary>Neither passed aligned: the policy applies.</summary>
    Fail,

    /// <summary>The policy could not be retrieved for a transient reason (DNS).</summary>
    TempError,

    /// <summary>The policy record is broken, or the From header does not give one domain.</summary>
    PermError,
}

/// <summary>What to do with the message (RFC 7489 §6.6.4, §7.2.1.1 disposition).</summary>
public enum DmarcDisposition
{
    /// <summary>Deliver as usual.</summary>
    None,

    /// <summary>Deliver to the spam (Junk) folder.</summary>
    Quarantine,

    /// <summary>Refuse the message (550 5.7.1 at the end of DATA).</summary>
    Reject,
}

/// <summary>The outcome of one DMARC evaluation, as a value.</summary>
public sealed record DmarcCheckResult(DmarcResult Result, DmarcDisposition Disposition, string? FromDomain)
{
    /// <summary>The record that was used, if any.</summary>
    public DmarcRecord? Record { get; init; }

    /// <summary>The policy the record requests for this From domain (p=, or sp= for a subdomain), before pct=.</summary>
    public DmarcPolicy? RequestedPolicy { get; init; }

    /// <summary>True when the record came from the organizational domain (RFC 7489 §6.6.3 step 4).</summary>
    public bool UsedOrganizationalDomain { get; init; }

    public bool SpfAligned { get; init; }

    public bool DkimAligned { get; init; }

    /// <summary>True when pct= left this message out of the policy (RFC 7489 §6.6.4), so a milder disposition was applied.</summary>
    public bool SampledOut { get; init; }

    /// <summary>
    /// True when the From header does not give exactly one address with a domain (RFC 7489 §6.6.1);
    /// such a message is refused (<see cref="DmarcDisposition.Reject"/>) whatever DNS says.
    /// </summary>
    public bool InvalidFrom { get; init; }

    /// <summary>Why, for PermError and TempError (for the log and the A-R reason).</summary>
    public string? Problem { get; init; }

    /// <summary>"dmarc=fail (p=reject dis=reject) header.from=example.com policy.dmarc=reject".</summary>
    public AuthenticationResult ToAuthenticationResult()
    {
        var properties = new List<AuthenticationProperty> { new("header", "from", FromDomain ?? "none") };
        if (RequestedPolicy is { } requested)
        {
            properties.Add(new AuthenticationProperty("policy", "dmarc", requested.ToString().ToLowerInvariant()));
        }

        string? comment = null;
        if (Record is { } record)
        {
            comment = $"p={record.Policy.ToString().ToLowerInvariant()}"
                + (record.SubdomainPolicy is { } sp ? $" sp={sp.ToString().ToLowerInvariant()}" : "")
                + $" dis={Disposition.ToString().ToLowerInvariant()}";
        }

        return new AuthenticationResult("dmarc", Result.ToString().ToLowerInvariant())
        {
            Comment = comment,
            Reason = Problem,
            Properties = properties,
        };
    }
}

/// <summary>
/// What DMARC is computed from: the From domain and the SPF and DKIM results already obtained
/// (RFC 7489 §4.2: never verified again here).
/// </summary>
/// <param name="SpfDomain">The domain SPF checked: the MAIL FROM domain, or the HELO name for &lt;&gt;.</param>
public sealed record DmarcInput(string FromDomain, Spf.SpfResult Spf, string? SpfDomain, IReadOnlyList<Dkim.DkimSignatureResult> Dkim);

using System.Net;

namespace Mailroom.Server.Policy;

/// <summary>The result codes of the iprev method (RFC 8601 §2.7.3).</summary>
public enum IprevStatus
{
    /// <summary>Not evaluated (the checks do not apply to this session).</summary>
    None,

    /// <summary>A PTR name resolved back to the client's address.</summary>
    Pass,

    /// <summary>PTR names exist, but none resolved back to the client's address (or their forward look-ups found nothing).</summary>
    Fail,

    /// <summary>A DNS error that is likely transient (SERVFAIL, timeout): a later attempt may pass.</summary>
    TempError,

    /// <summary>No PTR data are published for the client's address (NXDOMAIN or NODATA).</summary>
    PermError,
}

/// <summary>
/// Forward-confirmed reverse DNS of the client (iprev, RFC 8601 §3): the PTR names of the address,
/// and the first of them whose A/AAAA records contain the address. Goes into the Received header
/// (<see cref="ReceivedName"/>) and Authentication-Results (<see cref="AuthenticationResultsEntry"/>).
/// </summary>
public readonly record struct IprevResult(IprevStatus Status, IPAddress? Address, string? ConfirmedName, IReadOnlyList<string> PtrNames)
{
    public static IprevResult None { get; } = new(IprevStatus.None, null, null, []);

    /// <summary>The client's name for the Received header: the forward-confirmed name, else "unknown" (Postfix's convention).</summary>
    public string ReceivedName => ConfirmedName ?? "unknown";

    /// <summary>
    /// The method entry of Authentication-Results (RFC 8601 §2.7.3: ptype "policy", property
    /// "iprev", value the client address; the confirmed name as a comment), e.g.
    /// "iprev=pass policy.iprev=192.0.2.1 (mail.example.com)". Null when not evaluated.
    /// </summary>
    public string? AuthenticationResultsEntry => Status == IprevStatus.None || Address is null
        ? null
        : $"iprev={StatusName} policy.iprev={Address}" + (ConfirmedName is null ? "" : $" ({ConfirmedName})");

    public string StatusName => Status switch
    {
        IprevStatus.Pass => "pass",
        IprevStatus.Fail => "fail",
        IprevStatus.TempError => "temperror",
        IprevStatus.PermError => "permerror",
        _ => "none",
    };
}

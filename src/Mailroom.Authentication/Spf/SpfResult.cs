namespace Mailroom.Authentication.Spf;

/// <summary>The results of check_host() (RFC 7208 §2.6).</summary>
public enum SpfResult
{
    /// <summary>§2.6.1: no syntactically valid domain, or no SPF record.</summary>
    None,

    /// <summary>§2.6.2: the domain makes no assertion (also the default when nothing matches, §4.7).</summary>
    Neutral,

    /// <summary>§2.6.3: the client is authorised.</summary>
    Pass,

    /// <summary>§2.6.4: the client is explicitly not authorised.</summary>
    Fail,

    /// <summary>§2.6.5: the client is probably not authorised.</summary>
    SoftFail,

    /// <summary>§2.6.6: a transient (generally DNS) error.</summary>
    TempError,

    /// <summary>§2.6.7: the domain's records could not be interpreted.</summary>
    PermError,
}

/// <summary>Which identity was checked (RFC 7208 §2.3, §2.4).</summary>
public enum SpfIdentity
{
    /// <summary>The MAIL FROM reverse-path.</summary>
    MailFrom,

    /// <summary>The HELO/EHLO name (also used for MAIL FROM:&lt;&gt;, as postmaster@helo).</summary>
    Helo,
}

/// <summary>
/// The outcome of one SPF check, as a value. <see cref="Explanation"/> is set only for
/// <see cref="SpfResult.Fail"/> (RFC 7208 §6.2); <see cref="Problem"/> says why for TempError and
/// PermError (for the log and the Received-SPF comment, not for the peer).
/// </summary>
public sealed record SpfCheckResult(
    SpfResult Result,
    SpfIdentity Identity,
    string Sender,
    string Domain,
    string Helo,
    System.Net.IPAddress ClientAddress)
{
    /// <summary>The mechanism that matched, e.g. "ip4:192.0.2.0/24", or "default" when none did.</summary>
    public string? Mechanism { get; init; }

    /// <summary>The explanation of a Fail (exp=, or the default explanation).</summary>
    public string? Explanation { get; init; }

    /// <summary>Why the result is TempError or PermError.</summary>
    public string? Problem { get; init; }
}

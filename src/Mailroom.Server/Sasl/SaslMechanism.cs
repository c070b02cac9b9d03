namespace Mailroom.Server.Sasl;

/// <summary>What one step of a SASL exchange (RFC 4422 §3) decided.</summary>
internal enum SaslOutcome
{
    /// <summary>Send <see cref="SaslStep.Data"/> as a challenge (334) and wait for the next response.</summary>
    Continue,

    /// <summary>Authenticated as <see cref="SaslStep.User"/>; <see cref="SaslStep.Data"/>, if any, is the server's additional data (RFC 4422 §3.6).</summary>
    Success,

    /// <summary>Not authenticated; <see cref="SaslStep.Reason"/> says why, for the log only.</summary>
    Failure,
}

/// <summary>One step: a value, never an exception (DESIGN.md: outcomes are values).</summary>
internal readonly record struct SaslStep(SaslOutcome Outcome, byte[]? Data, string? User, string? Reason)
{
    public static SaslStep Challenge(byte[] data) => new(SaslOutcome.Continue, data, null, null);

    public static SaslStep Succeeded(string user, byte[]? additionalData = null) => new(SaslOutcome.Success, additionalData, user, null);

    public static SaslStep Failed(string reason, string? user = null) => new(SaslOutcome.Failure, null, user, reason);
}

/// <summary>
/// The server side of one SASL mechanism for one exchange (create a new instance per AUTH).
/// Never sees anything but the decoded responses; the session does the base64 and the "*" cancel.
/// </summary>
internal abstract class SaslMechanism
{
    /// <summary>The IANA name (RFC 4422 §3.1), as advertised in EHLO.</summary>
    public abstract string Name { get; }

    /// <summary>The first step when the client sent no initial response: an empty challenge for client-first mechanisms (RFC 4954 §4).</summary>
    public virtual SaslStep Begin() => SaslStep.Challenge([]);

    /// <summary>Evaluates the client's next (decoded) response.</summary>
    public abstract SaslStep Respond(ReadOnlySpan<byte> response);

    /// <summary>The claimed user name so far (for the log), or null.</summary>
    public string? ClaimedUser { get; protected set; }
}

using Mailroom.Authentication.Results;

namespace Mailroom.Authentication.Dkim;

/// <summary>The dkim results of RFC 8601 §2.7.1.</summary>
public enum DkimResult
{
    /// <summary>The message was not signed.</summary>
    None,

    /// <summary>The signature verified.</summary>
    Pass,

    /// <summary>The signature or body hash did not verify, or the signature is unacceptable by policy (RFC 8301: rsa-sha1, short keys; expired).</summary>
    Fail,

    /// <summary>The signature could not be processed for a reason that is not the signer's fault to report as fail (e.g. syntax).</summary>
    Neutral,

    /// <summary>The public key could not be retrieved for a transient reason (DNS).</summary>
    TempError,

    /// <summary>The signature or its key record is unusable (missing key, revoked key, bad record).</summary>
    PermError,
}

/// <summary>The verification result of one DKIM-Signature, as a value.</summary>
public sealed record DkimSignatureResult(DkimResult Result, string? Domain, string? Selector)
{
    /// <summary>Why it did not pass, e.g. "body hash did not verify"; null on pass.</summary>
    public string? Reason { get; init; }

    /// <summary>The i= identity, or null.</summary>
    public string? Identity { get; init; }

    /// <summary>a=, e.g. "rsa-sha256".</summary>
    public string? Algorithm { get; init; }

    /// <summary>The public key size in bits (RSA) or 256 (Ed25519), when known.</summary>
    public int? KeyBits { get; init; }

    /// <summary>The first 8 characters of b= (RFC 6008 header.b), to tell signatures of one domain apart.</summary>
    public string? SignaturePrefix { get; init; }

    /// <summary>"dkim=pass (2048-bit key) header.d=example.com header.s=m1 header.b=abcdefgh" (RFC 8601 §2.7.1).</summary>
    public AuthenticationResult ToAuthenticationResult()
    {
        var properties = new List<AuthenticationProperty>();
        if (Domain is not null)
        {
            properties.Add(new AuthenticationProperty("header", "d", Domain));
        }

        if (Identity is not null)
        {
            properties.Add(new AuthenticationProperty("header", "i", Identity));
        }

        if (Selector is not null)
        {
            properties.Add(new AuthenticationProperty("header", "s", Selector));
        }

        if (Algorithm is not null)
        {
            properties.Add(new AuthenticationProperty("header", "a", Algorithm));
        }

        if (SignaturePrefix is not null)
        {
            properties.Add(new AuthenticationProperty("header", "b", SignaturePrefix));
        }

        return new AuthenticationResult("dkim", Result.ToString().ToLowerInvariant())
        {
            Reason = Result == DkimResult.Pass ? null : Reason,
            Comment = KeyBits is { } bits && Result == DkimResult.Pass ? $"{bits}-bit key" : null,
            Properties = properties,
        };
    }
}

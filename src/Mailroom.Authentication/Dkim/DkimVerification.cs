using System.Globalization;
using Mailroom.Dns;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace Mailroom.Authentication.Dkim;

/// <summary>How DKIM signatures are judged; the defaults follow RFC 8301.</summary>
public sealed class DkimVerificationOptions
{
    /// <summary>RFC 8301 §3.1: rsa-sha1 MUST NOT be considered valid. True only to run legacy corpora.</summary>
    public bool AllowRsaSha1 { get; init; }

    /// <summary>RFC 8301 §3.2: keys under 1024 bits need not be accepted; we do not.</summary>
    public int MinimumRsaKeyBits { get; init; } = 1024;

    /// <summary>
    /// At most this many DKIM-Signature fields are verified per message (each costs a DNS look-up and a
    /// public-key operation); the rest are reported permerror. Our choice (RFC 6376 §6.1 lets a verifier
    /// limit the number it verifies): real mail carries one to three.
    /// </summary>
    public int MaxSignatures { get; init; } = 10;
}

/// <summary>
/// Verifies every DKIM-Signature of a message (RFC 6376 §6) with MimeKit's <see cref="DkimVerifier"/>
/// and keys found through <see cref="IDnsResolver"/>. One result per signature, as values.
/// </summary>
/// <remarks>
/// l= (body length): a signature whose l= does not cover the whole canonicalized body is reported
/// <see cref="DkimResult.Fail"/> ("l= covers only N of M body octets"): content was added after signing,
/// and counting it as a pass would let anyone append text under the signer's name (RFC 6376 §8.2).
/// A signature whose l= covers the whole body is verified normally.
/// </remarks>
public sealed class DkimVerification
{
    private readonly DnsDkimPublicKeyLocator _locator;
    private readonly TimeProvider _timeProvider;
    private readonly DkimVerificationOptions _options;

    public DkimVerification(IDnsResolver resolver, TimeProvider timeProvider, DkimVerificationOptions? options = null)
    {
        _locator = new DnsDkimPublicKeyLocator(resolver);
        _timeProvider = timeProvider;
        _options = options ?? new DkimVerificationOptions();
    }

    /// <summary>
    /// Verifies the message given as its bytes (headers, empty line, body; CRLF or LF). An unsigned
    /// message gives an empty list (dkim=none, see <see cref="NoSignature"/>).
    /// </summary>
    public async Task<IReadOnlyList<DkimSignatureResult>> VerifyAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        MimeMessage parsed;
        using (var stream = new MemoryStream(message.ToArray(), writable: false))
        {
            parsed = await MimeMessage.LoadAsync(stream, cancellationToken);
        }

        var results = new List<DkimSignatureResult>();
        var signatures = parsed.Headers.Where(h => h.Id == HeaderId.DkimSignature).ToList();
        foreach (var header in signatures)
        {
            results.Add(results.Count < _options.MaxSignatures
                ? await VerifyOneAsync(parsed, header, message, cancellationToken)
                : new DkimSignatureResult(DkimResult.PermError, null, null) { Reason = $"more than {_options.MaxSignatures} signatures" });
        }

        return results;
    }

    /// <summary>The dkim=none result of an unsigned message.</summary>
    public static DkimSignatureResult NoSignature { get; } = new(DkimResult.None, null, null);

    private async Task<DkimSignatureResult> VerifyOneAsync(MimeMessage message, Header header, ReadOnlyMemory<byte> raw, CancellationToken cancellationToken)
    {
        var tags = DkimTags.Parse(header.Value);
        if (tags is null)
        {
            return new DkimSignatureResult(DkimResult.PermError, null, null) { Reason = "signature syntax error" };
        }

        var domain = tags.GetValueOrDefault("d")?.ToLowerInvariant();
        var selector = tags.GetValueOrDefault("s");
        var b = tags.TryGetValue("b", out var bValue) ? DkimTags.Compact(bValue) : null;
        var result = new DkimSignatureResult(DkimResult.PermError, domain, selector)
        {
            Identity = tags.GetValueOrDefault("i"),
            Algorithm = tags.GetValueOrDefault("a")?.ToLowerInvariant(),
            SignaturePrefix = b is { Length: >= 8 } ? b[..8] : null,
        };
        DkimSignatureResult With(DkimResult status, string? reason) => result with { Result = status, Reason = reason };

        // RFC 6376 §6.1.1: v=1 and the required tags.
        if (tags.GetValueOrDefault("v") != "1")
        {
            return With(DkimResult.PermError, "signature version is not 1");
        }

        foreach (var required in new[] { "a", "b", "bh", "d", "h", "s" })
        {
            if (!tags.ContainsKey(required))
            {
                return With(DkimResult.PermError, $"signature without {required}=");
            }
        }

        if (!tags["h"].Split(':').Any(h => h.Trim().Equals("from", StringComparison.OrdinalIgnoreCase)))
        {
            return With(DkimResult.PermError, "From is not signed");
        }

        // §3.5 q=: the only query method is dns/txt.
        if (tags.TryGetValue("q", out var q) && !q.Split(':').Any(m => m.Trim().Equals("dns/txt", StringComparison.OrdinalIgnoreCase)))
        {
            return With(DkimResult.PermError, $"unsupported query method q={q}");
        }

        var identityDomain = domain!;
        if (result.Identity is { } encoded)
        {
            // §3.5 i= is dkim-quoted-printable (§2.11).
            var identity = DecodeQuotedPrintable(encoded);
            result = result with { Identity = identity };
            var at = identity.LastIndexOf('@');
            identityDomain = (at < 0 ? identity : identity[(at + 1)..]).ToLowerInvariant();
            if (identityDomain != domain && !identityDomain.EndsWith("." + domain, StringComparison.Ordinal))
            {
                return With(DkimResult.PermError, "i= is not within d=");
            }
        }

        var (keyType, hash) = result.Algorithm switch
        {
            "rsa-sha256" => ("rsa", "sha256"),
            "ed25519-sha256" => ("ed25519", "sha256"),
            "rsa-sha1" => ("rsa", "sha1"),
            _ => (null, null),
        };
        if (keyType is null)
        {
            return With(DkimResult.PermError, $"unknown algorithm a={result.Algorithm}");
        }

        if (hash == "sha1" && !_options.AllowRsaSha1)
        {
            return With(DkimResult.Fail, "rsa-sha1 is not acceptable (RFC 8301 §3.1)");
        }

        // §3.5 x=: expired signatures do not verify.
        if (tags.TryGetValue("x", out var x))
        {
            if (!long.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
            {
                return With(DkimResult.PermError, "x= is not a number");
            }

            if (tags.TryGetValue("t", out var t) && long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var signedAt) && expires < signedAt)
            {
                return With(DkimResult.PermError, "x= is before t=");
            }

            // §6.1.1: PERMFAIL (signature expired).
            if (_timeProvider.GetUtcNow().ToUnixTimeSeconds() > expires)
            {
                return With(DkimResult.PermError, "signature expired (x=)");
            }
        }

        var lookup = await _locator.LookupAsync(domain!, selector!, cancellationToken);
        if (lookup.Record is not { } key)
        {
            return With(lookup.Status, lookup.Problem);
        }

        result = result with { KeyBits = key.KeyBits };
        if (key.KeyType != keyType)
        {
            return With(DkimResult.PermError, $"key type k={key.KeyType} does not match a={result.Algorithm}");
        }

        if (key.HashAlgorithms is { } hashes && !hashes.Contains(hash))
        {
            return With(DkimResult.PermError, $"the key does not allow {hash} (h=)");
        }

        // §3.6.1 t=s: i= must be in d= exactly, not a subdomain.
        if (key.Strict && identityDomain != domain)
        {
            return With(DkimResult.PermError, "the key forbids subdomains in i= (t=s)");
        }

        if (keyType == "rsa" && key.KeyBits < _options.MinimumRsaKeyBits)
        {
            return With(DkimResult.Fail, $"{key.KeyBits}-bit RSA key is too short (RFC 8301 §3.2)");
        }

        if (tags.TryGetValue("l", out var l))
        {
            if (!long.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            {
                return With(DkimResult.PermError, "l= is not a number");
            }

            var relaxedBody = tags.GetValueOrDefault("c", "simple/simple").Split('/') is [_, var body] && body.Trim() == "relaxed";
            var bodyLength = DkimBodyCanonicalization.Length(Body(raw.Span), relaxedBody);
            if (length < bodyLength)
            {
                return With(DkimResult.Fail, $"l= covers only {length} of {bodyLength} body octets");
            }
        }

        var verifier = new DkimVerifier(new FixedKeyLocator(key.Key)) { MinimumRsaKeyLength = Math.Min(_options.MinimumRsaKeyBits, 1024) };
        if (_options.AllowRsaSha1)
        {
            verifier.Enable(DkimSignatureAlgorithm.RsaSha1);
        }

        try
        {
            return await verifier.VerifyAsync(message, header, cancellationToken)
                ? With(DkimResult.Pass, null)
                : With(DkimResult.Fail, "signature or body hash did not verify");
        }
        catch (FormatException error)
        {
            return With(DkimResult.PermError, $"signature syntax: {error.Message}");
        }
        catch (NotSupportedException error)
        {
            return With(DkimResult.PermError, error.Message);
        }
    }

    private static string DecodeQuotedPrintable(string text)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '=' && i + 2 < text.Length
                && byte.TryParse(text.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            {
                bytes.Add(value);
                i += 2;
            }
            else if (text[i] is not (' ' or '\t' or '\r' or '\n'))
            {
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(text[i].ToString()));
            }
        }

        return System.Text.Encoding.UTF8.GetString([.. bytes]);
    }

    // The bytes after the first empty line (CRLF CRLF or LF LF).
    private static ReadOnlySpan<byte> Body(ReadOnlySpan<byte> message)
    {
        var crlf = message.IndexOf("\r\n\r\n"u8);
        var lf = message.IndexOf("\n\n"u8);
        if (crlf >= 0 && (lf < 0 || crlf < lf))
        {
            return message[(crlf + 4)..];
        }

        return lf >= 0 ? message[(lf + 2)..] : [];
    }

    private sealed class FixedKeyLocator(AsymmetricKeyParameter key) : IDkimPublicKeyLocator
    {
        public AsymmetricKeyParameter LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken) => key;

        public Task<AsymmetricKeyParameter> LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken) => Task.FromResult(key);
    }
}

/// <summary>The length of a canonicalized body (RFC 6376 §3.4.3 simple, §3.4.4 relaxed), for l=.</summary>
internal static class DkimBodyCanonicalization
{
    public static long Length(ReadOnlySpan<byte> body, bool relaxed)
    {
        var lines = new List<int>();
        var start = 0;
        while (start < body.Length)
        {
            var end = body[start..].IndexOf((byte)'\n');
            var line = end < 0 ? body[start..] : body[start..(start + end)];
            if (line.Length > 0 && line[^1] == '\r')
            {
                line = line[..^1];
            }

            lines.Add(relaxed ? RelaxedLength(line) : line.Length);
            start = end < 0 ? body.Length : start + end + 1;
        }

        // Trailing empty lines are ignored by both.
        while (lines.Count > 0 && lines[^1] == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        if (lines.Count == 0)
        {
            return relaxed ? 0 : 2;
        }

        return lines.Sum(n => (long)n + 2);
    }

    // WSP runs become one SP; WSP at the end of the line goes.
    private static int RelaxedLength(ReadOnlySpan<byte> line)
    {
        var length = 0;
        var pendingSpace = false;
        foreach (var c in line)
        {
            if (c is (byte)' ' or (byte)'\t')
            {
                pendingSpace = true;
                continue;
            }

            length += pendingSpace ? 2 : 1;
            pendingSpace = false;
        }

        return length;
    }
}

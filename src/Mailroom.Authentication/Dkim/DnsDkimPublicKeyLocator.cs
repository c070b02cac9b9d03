using Mailroom.Dns;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Mailroom.Authentication.Dkim;

/// <summary>A DKIM key record (RFC 6376 §3.6.1), parsed.</summary>
public sealed record DkimKeyRecord(string KeyType, AsymmetricKeyParameter Key, int KeyBits, bool Strict, bool Testing, IReadOnlyList<string>? HashAlgorithms);

/// <summary>The outcome of looking up one key, as a value.</summary>
public sealed record DkimKeyLookup(DkimResult Status, DkimKeyRecord? Record, string? Problem)
{
    public static DkimKeyLookup Found(DkimKeyRecord record) => new(DkimResult.Pass, record, null);

    public static DkimKeyLookup TempError(string problem) => new(DkimResult.TempError, null, problem);

    public static DkimKeyLookup PermError(string problem) => new(DkimResult.PermError, null, problem);
}

/// <summary>
/// Finds DKIM public keys in DNS: the TXT record at selector._domainkey.domain (RFC 6376 §3.6.2.1)
/// through <see cref="IDnsResolver"/> (and its cache). <see cref="LookupAsync"/> returns values; the
/// <see cref="IDkimPublicKeyLocator"/> methods MimeKit calls throw <see cref="DkimKeyException"/>,
/// which <see cref="DkimVerification"/> turns back into a result.
/// </summary>
public sealed class DnsDkimPublicKeyLocator : IDkimPublicKeyLocator
{
    private readonly IDnsResolver _resolver;

    public DnsDkimPublicKeyLocator(IDnsResolver resolver) => _resolver = resolver;

    public async Task<DkimKeyLookup> LookupAsync(string domain, string selector, CancellationToken cancellationToken)
    {
        var name = $"{selector}._domainkey.{domain}";
        var answer = await _resolver.GetTxtAsync(name, cancellationToken);
        switch (answer.Status)
        {
            case DnsStatus.TemporaryFailure:
                return DkimKeyLookup.TempError($"DNS failure looking up {name}");
            case DnsStatus.NameNotFound:
            case DnsStatus.NoRecords:
                return DkimKeyLookup.PermError($"no key record at {name}");
        }

        // §3.6.2.2: several records make the result undefined; we take the first that parses.
        string? problem = null;
        foreach (var text in answer.Records)
        {
            if (TryParse(text, out var record, out problem))
            {
                return DkimKeyLookup.Found(record!);
            }
        }

        return DkimKeyLookup.PermError($"{name}: {problem}");
    }

    /// <summary>Parses a key record: v=DKIM1 first if present, k=rsa (default) or ed25519, p= (empty: revoked), t=, h= (RFC 6376 §3.6.1, RFC 8463 §4).</summary>
    public static bool TryParse(string text, out DkimKeyRecord? record, out string? problem)
    {
        record = null;
        var tags = DkimTags.Parse(text);
        if (tags is null)
        {
            problem = "key record syntax error";
            return false;
        }

        if (tags.TryGetValue("v", out var version) && (version != "DKIM1" || !text.TrimStart().StartsWith("v", StringComparison.Ordinal)))
        {
            problem = "key record version is not DKIM1";
            return false;
        }

        if (!tags.TryGetValue("p", out var p))
        {
            problem = "key record without p=";
            return false;
        }

        p = DkimTags.Compact(p);
        if (p.Length == 0)
        {
            problem = "key revoked (empty p=)";
            return false;
        }

        var keyType = tags.GetValueOrDefault("k", "rsa").ToLowerInvariant();
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(p);
        }
        catch (FormatException)
        {
            problem = "p= is not base64";
            return false;
        }

        AsymmetricKeyParameter key;
        int bits;
        try
        {
            switch (keyType)
            {
                case "rsa":
                    var rsa = RsaKey(bytes);
                    key = rsa;
                    bits = rsa.Modulus.BitLength;
                    break;
                case "ed25519":
                    if (bytes.Length != Ed25519PublicKeyParameters.KeySize)
                    {
                        problem = "ed25519 key is not 32 octets";
                        return false;
                    }

                    key = new Ed25519PublicKeyParameters(bytes, 0);
                    bits = 256;
                    break;
                default:
                    problem = $"unknown key type k={keyType}";
                    return false;
            }
        }
        catch (Exception error) when (error is ArgumentException or InvalidCastException or IOException or Org.BouncyCastle.Asn1.Asn1Exception or SecurityUtilityException or FormatException)
        {
            problem = "p= is not a valid public key";
            return false;
        }

        var flags = tags.GetValueOrDefault("t", "").Split(':').Select(f => f.Trim()).ToList();
        IReadOnlyList<string>? hashes = tags.TryGetValue("h", out var h) ? [.. h.Split(':').Select(x => x.Trim().ToLowerInvariant())] : null;
        record = new DkimKeyRecord(keyType, key, bits, flags.Contains("s"), flags.Contains("y"), hashes);
        problem = null;
        return true;
    }

    // SubjectPublicKeyInfo (what RFC 6376 §3.6.1 specifies), or a bare PKCS#1 RSAPublicKey (seen in the wild).
    private static RsaKeyParameters RsaKey(byte[] bytes)
    {
        try
        {
            return (RsaKeyParameters)PublicKeyFactory.CreateKey(bytes);
        }
        catch (Exception error) when (error is ArgumentException or InvalidCastException or IOException or Org.BouncyCastle.Asn1.Asn1Exception or SecurityUtilityException)
        {
            var pkcs1 = Org.BouncyCastle.Asn1.X509.RsaPublicKeyStructure.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(bytes));
            return new RsaKeyParameters(false, pkcs1.Modulus, pkcs1.PublicExponent);
        }
    }

    AsymmetricKeyParameter IDkimPublicKeyLocator.LocatePublicKey(string methods, string domain, string selector, CancellationToken cancellationToken) =>
        ((IDkimPublicKeyLocator)this).LocatePublicKeyAsync(methods, domain, selector, cancellationToken).GetAwaiter().GetResult();

    async Task<AsymmetricKeyParameter> IDkimPublicKeyLocator.LocatePublicKeyAsync(string methods, string domain, string selector, CancellationToken cancellationToken)
    {
        var lookup = await LookupAsync(domain, selector, cancellationToken);
        return lookup.Record?.Key ?? throw new DkimKeyException(lookup);
    }
}

/// <summary>Carries a failed key lookup through MimeKit's locator interface; never leaves this library.</summary>
public sealed class DkimKeyException : Exception
{
    public DkimKeyException(DkimKeyLookup lookup)
        : base(lookup.Problem) => Lookup = lookup;

    public DkimKeyException()
        : this(DkimKeyLookup.PermError("unknown"))
    {
    }

    public DkimKeyException(string message)
        : this(DkimKeyLookup.PermError(message))
    {
    }

    public DkimKeyException(string message, Exception innerException)
        : base(message, innerException) => Lookup = DkimKeyLookup.PermError(message);

    public DkimKeyLookup Lookup { get; }
}

using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.OpenSsl;

namespace Mailroom.Authentication.Dkim;

/// <summary>One [[dkim]] entry of the configuration: a domain, a selector and a PEM private key (RSA or Ed25519).</summary>
public sealed record DkimSigningKey(string Domain, string Selector, string PrivateKeyPath);

/// <summary>
/// Signs messages of our own domains (RFC 6376 §5) with MimeKit's <see cref="DkimSigner"/>: every
/// configured key of the From domain signs (two entries for one domain give dual RSA + Ed25519
/// signatures, RFC 8463 §3), relaxed/relaxed, rsa-sha256 or ed25519-sha256 from the key's type.
/// </summary>
public sealed class DkimSigning
{
    /// <summary>
    /// The fields signed when present (RFC 6376 §5.4.1's recommended set). From is listed twice:
    /// one more time than a message may carry it, so a From added later breaks the signature
    /// ("oversigning", RFC 6376 §8.15).
    /// </summary>
    public static IReadOnlyList<string> SignedHeaders { get; } =
    [
        "From", "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post",
    ];

    private readonly IReadOnlyList<(DkimSigningKey Key, DkimSigner Signer)> _signers;

    private DkimSigning(IReadOnlyList<(DkimSigningKey, DkimSigner)> signers) => _signers = signers;

    /// <summary>Loads every key; a key that cannot be read is reported in <paramref name="errors"/> and skipped.</summary>
    public static DkimSigning Load(IEnumerable<DkimSigningKey> keys, out IReadOnlyList<string> errors)
    {
        var signers = new List<(DkimSigningKey, DkimSigner)>();
        var problems = new List<string>();
        foreach (var key in keys)
        {
            try
            {
                using var reader = new StreamReader(key.PrivateKeyPath);
                var privateKey = ReadPrivateKey(reader);
                if (privateKey is null)
                {
                    problems.Add($"{key.PrivateKeyPath}: not a PEM private key");
                    continue;
                }

                var algorithm = privateKey switch
                {
                    Ed25519PrivateKeyParameters => DkimSignatureAlgorithm.Ed25519Sha256,
                    RsaKeyParameters => DkimSignatureAlgorithm.RsaSha256,
                    _ => (DkimSignatureAlgorithm?)null,
                };
                if (algorithm is null)
                {
                    problems.Add($"{key.PrivateKeyPath}: the key is neither RSA nor Ed25519");
                    continue;
                }

                var signer = new DkimSigner(privateKey, key.Domain.ToLowerInvariant(), key.Selector, algorithm.Value)
                {
                    HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
                    BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
                };
                signers.Add((key, signer));
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or PemException or InvalidCastException or ArgumentException)
            {
                problems.Add($"{key.PrivateKeyPath}: {error.Message}");
            }
        }

        errors = problems;
        return new DkimSigning(signers);
    }

    /// <summary>The domains we have keys for.</summary>
    public IEnumerable<string> Domains => _signers.Select(s => s.Key.Domain.ToLowerInvariant()).Distinct();

    /// <summary>
    /// Adds a DKIM-Signature for each key of <paramref name="domain"/> (the first one added ends up
    /// on top). Returns how many signatures were added (0: no key for that domain).
    /// </summary>
    public int Sign(MimeMessage message, string domain)
    {
        var count = 0;
        // Each Sign prepends its field; signing in reverse keeps the configured order from the top.
        foreach (var (_, signer) in _signers.Where(s => s.Key.Domain.Equals(domain, StringComparison.OrdinalIgnoreCase)).Reverse())
        {
            var present = SignedHeaders.Where(name => name == "From" || message.Headers.Contains(name)).ToList();
            signer.Sign(FormatOptions.Default, message, present);
            count++;
        }

        return count;
    }

    private static AsymmetricKeyParameter? ReadPrivateKey(TextReader reader) => new PemReader(reader).ReadObject() switch
    {
        AsymmetricCipherKeyPair pair => pair.Private,
        AsymmetricKeyParameter { IsPrivate: true } key => key,
        _ => null,
    };
}

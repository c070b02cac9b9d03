using System.Text;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.OpenSsl;
using Org.BouncyCastle.Pkcs;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace Mailroom.Authentication.Dkim;

/// <summary>DKIM key types we generate.</summary>
public enum DkimKeyAlgorithm
{
    /// <summary>RSA 2048 bits (RFC 8301 §3.2: at least 1024, 2048 recommended).</summary>
    Rsa,

    /// <summary>Ed25519 (RFC 8463).</summary>
    Ed25519,
}

/// <summary>A new key: the private key as PKCS#8 PEM and the public part as a DKIM key record.</summary>
public sealed record DkimGeneratedKey(string PrivateKeyPem, string KeyRecord);

/// <summary>Generates DKIM keys and formats the TXT record to publish.</summary>
public static class DkimKeyGenerator
{
    /// <summary>RFC 8301 §3.2: signers SHOULD use at least 2048-bit RSA keys.</summary>
    public const int RsaKeyBits = 2048;

    /// <summary>RFC 1035 §3.3: a character-string holds at most 255 octets.</summary>
    public const int MaxStringLength = 255;

    public static DkimGeneratedKey Generate(DkimKeyAlgorithm algorithm)
    {
        var random = new SecureRandom();
        Org.BouncyCastle.Crypto.AsymmetricCipherKeyPair pair;
        string record;
        if (algorithm == DkimKeyAlgorithm.Rsa)
        {
            var generator = new RsaKeyPairGenerator();
            generator.Init(new Org.BouncyCastle.Crypto.KeyGenerationParameters(random, RsaKeyBits));
            pair = generator.GenerateKeyPair();
            // RFC 6376 §3.6.1: p= is the base64 of the DER SubjectPublicKeyInfo.
            var spki = SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(pair.Public).GetDerEncoded();
            record = $"v=DKIM1; k=rsa; p={Convert.ToBase64String(spki)}";
        }
        else
        {
            var generator = new Ed25519KeyPairGenerator();
            generator.Init(new Ed25519KeyGenerationParameters(random));
            pair = generator.GenerateKeyPair();
            // RFC 8463 §4: p= is the base64 of the 32-octet public key itself.
            record = $"v=DKIM1; k=ed25519; p={Convert.ToBase64String(((Ed25519PublicKeyParameters)pair.Public).GetEncoded())}";
        }

        var pem = new StringWriter();
        var writer = new PemWriter(pem);
        writer.WriteObject(new Org.BouncyCastle.Utilities.IO.Pem.PemObject("PRIVATE KEY", PrivateKeyInfoFactory.CreatePrivateKeyInfo(pair.Private).GetDerEncoded()));
        writer.Writer.Flush();
        return new DkimGeneratedKey(pem.ToString().ReplaceLineEndings("\n"), record);
    }

    /// <summary>
    /// The zone-file line: <c>S._domainkey.D IN TXT ( "..." "..." )</c>, the record split into quoted
    /// strings of at most 255 characters (RFC 1035 §3.3; RFC 7208 §3.3 and RFC 6376 §3.6.2.2: they are
    /// concatenated without separator).
    /// </summary>
    public static string ZoneLine(string selector, string domain, string keyRecord)
    {
        var text = new StringBuilder($"{selector}._domainkey.{domain} IN TXT (");
        for (var i = 0; i < keyRecord.Length; i += MaxStringLength)
        {
            text.Append(" \"").Append(keyRecord.AsSpan(i, Math.Min(MaxStringLength, keyRecord.Length - i))).Append('"');
        }

        return text.Append(" )").ToString();
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Mailroom.Server.Tls;

/// <summary>
/// Makes the self-signed certificate used when no certificate is configured. Opportunistic TLS
/// between servers (RFC 3207, RFC 7435) encrypts with any certificate, so a self-signed one still
/// protects port 25 against passive eavesdropping.
/// </summary>
public static class SelfSignedCertificate
{
    /// <summary>Ten years: a generated certificate should not expire under a running server.</summary>
    private static readonly TimeSpan Validity = TimeSpan.FromDays(3650);

    /// <summary>Writes {directory}/selfsigned.crt and selfsigned.key unless they exist; returns their paths.</summary>
    public static (string CertificatePath, string PrivateKeyPath, bool Created) EnsureFiles(string directory, string hostname, TimeProvider timeProvider)
    {
        var certificatePath = Path.Combine(directory, "selfsigned.crt");
        var keyPath = Path.Combine(directory, "selfsigned.key");
        if (File.Exists(certificatePath) && File.Exists(keyPath))
        {
            return (certificatePath, keyPath, false);
        }

        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hostname}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(hostname);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = timeProvider.GetUtcNow();
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(Validity));

        WriteAtomically(keyPath, key.ExportPkcs8PrivateKeyPem());
        WriteAtomically(certificatePath, certificate.ExportCertificatePem());
        return (certificatePath, keyPath, true);
    }

    private static void WriteAtomically(string path, string text)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}

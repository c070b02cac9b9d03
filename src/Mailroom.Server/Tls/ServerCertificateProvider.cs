using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Tls;

/// <summary>
/// The server certificate from PEM files (a CA-signed chain or a self-signed one), reloaded when
/// the files change, so that a renewed certificate (e.g. from certbot) is used without a restart.
/// The files are checked at most once per <see cref="CheckInterval"/>.
/// </summary>
public sealed partial class ServerCertificateProvider
{
    /// <summary>How often the files' timestamps are compared; a renewal is picked up within this time.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(10);

    private readonly string _certificatePath;
    private readonly string _privateKeyPath;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private SslStreamCertificateContext? _context;
    private (DateTime Certificate, DateTime Key) _loadedStamps;
    private long _nextCheck;

    public ServerCertificateProvider(string certificatePath, string privateKeyPath, TimeProvider timeProvider, ILogger<ServerCertificateProvider> logger)
    {
        _certificatePath = certificatePath;
        _privateKeyPath = privateKeyPath;
        _timeProvider = timeProvider;
        _logger = logger;
        Reload();
    }

    public string CertificatePath => _certificatePath;

    /// <summary>The certificate context for the next handshake.</summary>
    public SslStreamCertificateContext Current()
    {
        var now = _timeProvider.GetTimestamp();
        if (now < Volatile.Read(ref _nextCheck))
        {
            return _context!;
        }

        lock (_lock)
        {
            _nextCheck = now + (long)(CheckInterval.TotalSeconds * _timeProvider.TimestampFrequency);
            var stamps = (File.GetLastWriteTimeUtc(_certificatePath), File.GetLastWriteTimeUtc(_privateKeyPath));
            if (stamps != _loadedStamps)
            {
                try
                {
                    Reload();
                }
                catch (Exception exception) when (exception is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
                {
                    // A half-written renewal must not break TLS: keep serving the last good certificate.
                    LogReloadFailed(_logger, _certificatePath, exception.Message);
                }
            }

            return _context!;
        }
    }

    public SslServerAuthenticationOptions CreateAuthenticationOptions() => new()
    {
        ServerCertificateContext = Current(),
        ClientCertificateRequired = false,

        // RFC 8996 deprecates TLS 1.0 and 1.1; RFC 8314 and the issue require 1.2 and 1.3 only.
        EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    private void Reload()
    {
        var stamps = (File.GetLastWriteTimeUtc(_certificatePath), File.GetLastWriteTimeUtc(_privateKeyPath));
        var certificate = X509Certificate2.CreateFromPemFile(_certificatePath, _privateKeyPath);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(_certificatePath);
        var intermediates = new X509Certificate2Collection();
        foreach (var extra in chain)
        {
            if (extra.Thumbprint != certificate.Thumbprint)
            {
                intermediates.Add(extra);
            }
        }

        _context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
        _loadedStamps = stamps;
        LogLoaded(_logger, _certificatePath, certificate.Subject, certificate.NotAfter);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "TLS certificate loaded from {Path}: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogLoaded(ILogger logger, string path, string subject, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS certificate {Path} changed but could not be loaded, keeping the previous one: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string path, string reason);
}

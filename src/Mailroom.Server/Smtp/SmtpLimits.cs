namespace Mailroom.Server.Smtp;

/// <summary>The numbers that bound a session. Every default says where it comes from.</summary>
public sealed record SmtpLimits
{
    /// <summary>RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.</summary>
    public int CommandLineLength { get; init; } = 512;

    /// <summary>RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.</summary>
    public int TextLineLength { get; init; } = 1000;

    /// <summary>RFC 4954 §4: a server must accept SASL response lines of at least 12288 octets (excluding CRLF).</summary>
    public int AuthLineLength { get; init; } = 12288 + 2;

    /// <summary>Postfix smtpd_recipient_limit = 1000; RFC 5321 §4.5.3.1.8 asks for at least 100.</summary>
    public int RecipientsPerMessage { get; init; } = 1000;

    /// <summary>50 MiB, a common limit today (Postfix's own default, 10 MB, is small for modern attachments).</summary>
    public long MessageSize { get; init; } = 52_428_800;

    /// <summary>Postfix smtpd_hard_error_limit = 20: errors before the session is closed with 421.</summary>
    public int ErrorsPerSession { get; init; } = 20;

    /// <summary>Concurrent connections in total (Postfix's default process limit is 100; we are not process-bound).</summary>
    public int Connections { get; init; } = 1000;

    /// <summary>RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>RFC 5321 §4.5.3.2.5-6: a data block may take 3 minutes, the final dot 10; we allow 10 for each read.</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The minimum data rate during DATA/BDAT, in bytes per second after <see cref="DataRateGrace"/>:
    /// Postfix smtpd_min_data_rate = 500. A command must end before its start + grace + bytes / rate
    /// (Postfix smtpd_per_request_deadline), else 421 4.4.2; a trickling client cannot hold a
    /// connection for the whole <see cref="DataTimeout"/> per read. Zero turns it off.
    /// </summary>
    public int MinimumDataRate { get; init; } = 500;

    /// <summary>
    /// The time a DATA/BDAT command has before the data rate counts: 5 minutes, Postfix's
    /// smtpd_timeout = 300s, which its per-request deadline starts from.
    /// </summary>
    public TimeSpan DataRateGrace { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A TLS handshake that takes longer than this is abandoned (Postfix smtpd_starttls_timeout = 300s).</summary>
    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

using System.Net;

namespace Mailroom.Delivery.Remote;

/// <summary>When the client uses STARTTLS (RFC 3207).</summary>
public enum TlsPolicy
{
    /// <summary>
    /// Postfix's "may": STARTTLS when the server offers it, any certificate accepted (and recorded
    /// as not verified); plaintext when it is not offered. A failed handshake fails the connection
    /// with a temporary result, and the caller tries the next host.
    /// </summary>
    Opportunistic,

    /// <summary>
    /// Postfix's "secure", for a smart host: STARTTLS must be offered and the certificate must verify
    /// for the server name; otherwise the connection fails with a temporary result.
    /// </summary>
    Required,
}

/// <summary>How the outbound SMTP client behaves. Timeouts follow Postfix's smtp(8) and RFC 5321 §4.5.3.2.</summary>
public sealed class SmtpClientOptions
{
    /// <summary>The TCP connection. Postfix smtp_connect_timeout = 30s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The greeting and the EHLO/HELO reply. RFC 5321 §4.5.3.2.1 (initial 220: 5 minutes); Postfix smtp_helo_timeout = 300s.</summary>
    public TimeSpan HeloTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>The STARTTLS reply and the TLS handshake. Postfix smtp_starttls_timeout = 300s.</summary>
    public TimeSpan StartTlsTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>The AUTH exchange. Postfix smtp_sasl_auth… uses the command timeout; RFC 5321 §4.5.3.2.2 gives commands 5 minutes.</summary>
    public TimeSpan AuthTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>The MAIL reply. RFC 5321 §4.5.3.2.2: 5 minutes; Postfix smtp_mail_timeout = 300s.</summary>
    public TimeSpan MailTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Each RCPT reply. RFC 5321 §4.5.3.2.3: 5 minutes; Postfix smtp_rcpt_timeout = 300s.</summary>
    public TimeSpan RcptTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>The 354 reply to DATA. RFC 5321 §4.5.3.2.4: 2 minutes; Postfix smtp_data_init_timeout = 120s.</summary>
    public TimeSpan DataInitTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Each block of data written. RFC 5321 §4.5.3.2.5: 3 minutes; Postfix smtp_data_xfer_timeout = 180s.</summary>
    public TimeSpan DataTimeout { get; set; } = TimeSpan.FromSeconds(180);

    /// <summary>The reply after the final dot. RFC 5321 §4.5.3.2.6: 10 minutes; Postfix smtp_data_done_timeout = 600s.</summary>
    public TimeSpan DataDoneTimeout { get; set; } = TimeSpan.FromSeconds(600);

    /// <summary>The RSET reply. Postfix smtp_rset_timeout = 20s.</summary>
    public TimeSpan RsetTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The QUIT reply. Postfix smtp_quit_timeout = 300s.</summary>
    public TimeSpan QuitTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>The name sent in EHLO/HELO. Default: the machine name, as Postfix's smtp_helo_name = $myhostname.</summary>
    public string HeloName { get; set; } = Environment.MachineName;

    /// <summary>STARTTLS policy. Default Opportunistic (Postfix smtp_tls_security_level = may, the usual MX setting).</summary>
    public TlsPolicy TlsPolicy { get; set; } = TlsPolicy.Opportunistic;

    /// <summary>
    /// Credentials for AUTH PLAIN (LOGIN when only that is offered), for a smart host. They are only
    /// ever sent over TLS: a connection without TLS fails with a temporary result instead.
    /// </summary>
    public NetworkCredential? Credentials { get; set; }

    /// <summary>
    /// Longest reply line accepted, CRLF included. RFC 5321 §4.5.3.1.5 sets 512 octets; real servers
    /// exceed it, so Mailroom accepts what Postfix accepts (line_length_limit = 2048).
    /// </summary>
    public int MaxReplyLineLength { get; set; } = 2048;

    /// <summary>Most lines in one reply. No RFC limit; an EHLO reply has about 15; 100 bounds a hostile server.</summary>
    public int MaxReplyLines { get; set; } = 100;
}

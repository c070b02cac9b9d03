using System.Net.Security;
using System.Security.Authentication;

namespace Mailroom.Delivery.Remote;

/// <summary>How a connection was encrypted (after STARTTLS).</summary>
/// <param name="Protocol">The TLS version negotiated.</param>
/// <param name="CipherSuite">The cipher suite negotiated.</param>
/// <param name="CertificateVerified">The server's certificate chained to a trusted root and matched the server name.</param>
/// <param name="ValidationError">Why it did not verify (the policy errors and chain status); null when it verified.</param>
/// <param name="PeerCertificateSubject">The server certificate's subject, for the log.</param>
public sealed record TlsInfo(SslProtocols Protocol, TlsCipherSuite CipherSuite, bool CertificateVerified, string? ValidationError, string? PeerCertificateSubject);

/// <summary>The outcome of <see cref="SmtpClientSession.ConnectAsync"/>: a ready session, or the reply that says why not.</summary>
public sealed class SmtpConnectResult
{
    private SmtpConnectResult(SmtpClientSession? session, SmtpReplyInfo? failure)
    {
        Session = session;
        Failure = failure;
    }

    /// <summary>The session, ready for <see cref="SmtpClientSession.SendAsync"/>; null on failure.</summary>
    public SmtpClientSession? Session { get; }

    /// <summary>
    /// Why the connection failed: the server's own reply (a 421 or 554 greeting, a refused EHLO or
    /// STARTTLS), or a local reply (4.4.1 no answer / connection refused, 4.4.2 connection lost,
    /// 4.7.0 a TLS or authentication failure). A 4xx means: try the next host or later.
    /// </summary>
    public SmtpReplyInfo? Failure { get; }

    [System.Diagnostics.CodeAnalysis.MemberNotNullWhen(true, nameof(Session))]
    [System.Diagnostics.CodeAnalysis.MemberNotNullWhen(false, nameof(Failure))]
    public bool Connected => Session is not null;

    internal static SmtpConnectResult Success(SmtpClientSession session) => new(session, null);

    internal static SmtpConnectResult Failed(SmtpReplyInfo failure) => new(null, failure);
}

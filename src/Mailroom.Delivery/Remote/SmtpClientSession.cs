using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Mailroom.Protocol;
using Mailroom.Queue;
using Microsoft.Extensions.Logging;

namespace Mailroom.Delivery.Remote;

/// <summary>
/// One outbound SMTP connection (RFC 5321 client side): greeting, EHLO (HELO fallback), STARTTLS
/// per <see cref="TlsPolicy"/>, AUTH when configured, then any number of mail transactions, each
/// giving a result per recipient. Written over System.IO.Pipelines with a bounded reply parser.
/// Failures are values: a lost connection or a timeout makes every recipient not yet final a
/// temporary failure; only cancellation escapes as an exception.
/// Data always goes with DATA, never BDAT (RFC 3030): every server supports DATA, and DATA with
/// dot-stuffing carries every message Mailroom stores (BINARYMIME content is converted to 7 bit).
/// </summary>
public sealed partial class SmtpClientSession : IAsyncDisposable
{
    private static readonly SmtpReplyInfo ConnectionLost = SmtpReplyInfo.Local(421, new EnhancedStatusCode(4, 4, 2), "connection lost");
    private static readonly SmtpReplyInfo Timeout = SmtpReplyInfo.Local(421, new EnhancedStatusCode(4, 4, 1), "timeout");

    private readonly Socket _socket;
    private readonly NetworkStream _networkStream;
    private readonly string _serverName;
    private readonly IPEndPoint _endPoint;
    private readonly SmtpClientOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private SslStream? _sslStream;
    private PipeReader _reader;
    private PipeWriter _writer;
    private bool _broken;

    // Transactions begun on this connection: from the second on, each starts with RSET, unless its
    // commands already went out behind the previous one's data (_begun).
    private int _transactions;

    // The message whose MAIL, RCPT and DATA were written behind the last final dot (RFC 2920 §3.1);
    // its replies are still to be read by the SendAsync that carries it.
    private OutboundMessage? _begun;
    private bool _disposed;
    private string? _certificateError;

    private SmtpClientSession(Socket socket, IPEndPoint endPoint, string serverName, SmtpClientOptions options, TimeProvider timeProvider, ILogger logger)
    {
        _socket = socket;
        _networkStream = new NetworkStream(socket, ownsSocket: true);
        _endPoint = endPoint;
        _serverName = serverName;
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
        (_reader, _writer) = CreatePipes(_networkStream);
    }

    /// <summary>What the server announced in its (last) EHLO reply.</summary>
    // The reply that failed the current transaction as a whole (MAIL, DATA, the final dot, a lost
    // connection), as opposed to a refused recipient; reset by each SendAsync.
    private SmtpReplyInfo? _transactionFailure;

    public EhloCapabilities Capabilities { get; private set; } = EhloCapabilities.None;

    /// <summary>How the connection is encrypted; null for plaintext.</summary>
    public TlsInfo? Tls { get; private set; }

    /// <summary>The server's greeting.</summary>
    public SmtpReplyInfo? Greeting { get; private set; }

    /// <summary>The session authenticated with <see cref="SmtpClientOptions.Credentials"/>.</summary>
    public bool Authenticated { get; private set; }

    /// <summary>The connection can take another transaction (it was not lost, timed out or closed).</summary>
    public bool IsUsable => !_broken && !_disposed;

    /// <summary>
    /// The last <see cref="SendAsync(OutboundMessage, Func{OutboundMessage?}?, CancellationToken)"/>
    /// lost the connection before the server answered anything of its transaction (the RSET that
    /// starts a reused session, or the commands that went out behind the previous message's data):
    /// nothing of that message's content was sent, so a fresh connection may try again at once.
    /// </summary>
    public bool ClosedBeforeTransaction { get; private set; }

    /// <summary>
    /// Connects, reads the greeting, says EHLO (HELO when EHLO is refused with 5xx), does STARTTLS per
    /// policy (then EHLO again) and AUTH when configured. Never throws except for cancellation.
    /// </summary>
    /// <param name="endPoint">The address to connect to.</param>
    /// <param name="serverName">The server's host name: the TLS server name (SNI) and the name the certificate must match; also used in logs.</param>
    /// <param name="options">Timeouts, HELO name, TLS policy, credentials.</param>
    /// <param name="timeProvider">Time for the timeouts.</param>
    /// <param name="logger">Gets one line per connection about its encryption, and failures.</param>
    /// <param name="cancellationToken">Cancels the whole attempt.</param>
    public static async Task<SmtpConnectResult> ConnectAsync(IPEndPoint endPoint, string serverName, SmtpClientOptions options, TimeProvider timeProvider, ILogger logger, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using (var timer = new CancellationTokenSource(options.ConnectTimeout, timeProvider))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token))
            {
                await socket.ConnectAsync(endPoint, linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            LogConnectFailed(logger, serverName, endPoint.Address, endPoint.Port, "connection timed out");
            return SmtpConnectResult.Failed(SmtpReplyInfo.Local(421, new EnhancedStatusCode(4, 4, 1), "connection timed out"));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            LogConnectFailed(logger, serverName, endPoint.Address, endPoint.Port, e.Message);
            return SmtpConnectResult.Failed(SmtpReplyInfo.Local(421, new EnhancedStatusCode(4, 4, 1), "connect failed: " + e.Message));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var session = new SmtpClientSession(socket, endPoint, serverName, options, timeProvider, logger);
        SmtpReplyInfo? failure;
        try
        {
            failure = await session.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsConnectionFailure(e))
        {
            failure = FailureFor(e);
            session._broken = true;
        }
        catch
        {
            session._broken = true;
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (failure is not null)
        {
            LogConnectFailed(logger, serverName, endPoint.Address, endPoint.Port, failure.ToString());
            await session.DisposeAsync().ConfigureAwait(false);
            return SmtpConnectResult.Failed(failure);
        }

        return SmtpConnectResult.Success(session);
    }

    /// <summary>
    /// Sends one message as one mail transaction and returns a result for every recipient. Checks
    /// first what the peer can take (SIZE, SMTPUTF8); pipelines MAIL, RCPT and DATA when the peer
    /// offers PIPELINING (RFC 2920). Never throws except for cancellation.
    /// </summary>
    public Task<TransactionResult> SendAsync(OutboundMessage message, CancellationToken cancellationToken) =>
        SendAsync(message, takeFollowing: null, cancellationToken);

    /// <summary>
    /// Sends one message, and when the peer offers PIPELINING asks <paramref name="takeFollowing"/>
    /// for the next one as this one's data goes out: the next message's MAIL, RCPT and DATA then go
    /// in the same write as this one's final dot (RFC 2920 §3.1 lets the end of data be followed in
    /// one group), so a connection carrying messages back to back costs one round trip per message
    /// instead of two. A message taken that way must be the next one sent on this session, and must
    /// be one <see cref="Refusal"/> passes. Never throws except for cancellation.
    /// </summary>
    public async Task<TransactionResult> SendAsync(OutboundMessage message, Func<OutboundMessage?>? takeFollowing, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var begun = ReferenceEquals(_begun, message);
        _begun = null;
        ClosedBeforeTransaction = false;
        if (_broken)
        {
            // Commands written behind a message whose transaction then broke the connection: nothing of this one was delivered.
            ClosedBeforeTransaction = begun;
            return AllRecipients(message, ConnectionLost);
        }

        if (Refusal(message) is { } refusal)
        {
            return refusal;
        }

        var transaction = Prepare(message);
        var recipients = message.Recipients;
        var replies = new SmtpReplyInfo?[recipients.Count];
        var accepted = new bool[recipients.Count];
        SmtpReplyInfo? dataReply = null;
        _transactionFailure = null;
        try
        {
            dataReply = await TransactAsync(transaction, begun, replies, accepted, takeFollowing, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsConnectionFailure(e))
        {
            _broken = true;
            var failure = FailureFor(e);
            _transactionFailure = failure;
            if (!ClosedBeforeTransaction)
            {
                // (A cached connection the server closed is the caller's to retry, not a failure.)
                LogTransactionFailed(_logger, _serverName, _endPoint.Address, _endPoint.Port, failure.ToString());
            }
            for (var i = 0; i < replies.Length; i++)
            {
                // A refused recipient keeps its RCPT reply; everyone else is not final yet.
                if (replies[i] is null || accepted[i])
                {
                    replies[i] = failure;
                }
            }
        }
        catch
        {
            _broken = true;
            throw;
        }

        var results = new RecipientResult[recipients.Count];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = new RecipientResult(recipients[i].Address, accepted[i], replies[i] ?? ConnectionLost);
        }

        return new TransactionResult(results, dataReply) { TransactionFailure = _transactionFailure };
    }

    /// <summary>
    /// The result that refuses <paramref name="message"/> on this connection before anything is sent,
    /// or null when it can go: an address with a line break, an international address to a server
    /// without SMTPUTF8, a message larger than the server's SIZE.
    /// </summary>
    public TransactionResult? Refusal(OutboundMessage message)
    {
        var recipients = message.Recipients;
        if (ContainsLineBreak(message.ReversePath) || recipients.Any(r => ContainsLineBreak(r.Address) || ContainsLineBreak(r.OriginalRecipient)))
        {
            // The queue's addresses come from the SMTP grammar; this guards the command line regardless.
            return AllRecipients(message, SmtpReplyInfo.Local(554, EnhancedStatusCode.BadDestinationSyntax, "address contains a line break"));
        }

        // RFC 6531 §3.2: a message that needs SMTPUTF8 cannot go to a server without it.
        if (NeedsUtf8(message) && !Capabilities.SmtpUtf8)
        {
            return AllRecipients(message, SmtpReplyInfo.Local(553, EnhancedStatusCode.NonAsciiAddress, "the remote server does not support SMTPUTF8, required by an international address"));
        }

        // RFC 1870 §4: a client must not send a message larger than the server's announced SIZE.
        if (Capabilities.Size is > 0 and var limit && message.Size > limit)
        {
            return AllRecipients(message, SmtpReplyInfo.Local(552, EnhancedStatusCode.MessageTooBig, $"message size {message.Size} exceeds the remote server's limit of {limit}"));
        }

        return null;
    }

    /// <summary>Sends QUIT and waits for its reply (at most <see cref="SmtpClientOptions.QuitTimeout"/>), then closes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_broken)
        {
            try
            {
                WriteCommand("QUIT");
                await FlushAsync(_options.QuitTimeout, CancellationToken.None).ConfigureAwait(false);
                await ReadReplyAsync(_options.QuitTimeout, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                // The server may close first; nothing more to say to it.
            }
        }

        try
        {
            // Completing the writer flushes what is left; on a lost connection that fails, and it does not matter.
            await _reader.CompleteAsync().ConfigureAwait(false);
            await _writer.CompleteAsync().ConfigureAwait(false);
            if (_sslStream is not null)
            {
                await _sslStream.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
        }
        finally
        {
            await _networkStream.DisposeAsync().ConfigureAwait(false);
            _socket.Dispose();
        }
    }

    private async Task<SmtpReplyInfo?> OpenAsync(CancellationToken cancellationToken)
    {
        // RFC 5321 §3.1: a 554 (or 421) greeting means the server will not take mail now.
        Greeting = await ReadReplyAsync(_options.HeloTimeout, cancellationToken).ConfigureAwait(false);
        if (Greeting.Code != 220)
        {
            await TryQuitAsync().ConfigureAwait(false);
            return Greeting;
        }

        var failure = await HelloAsync(cancellationToken).ConfigureAwait(false);
        if (failure is not null)
        {
            return failure;
        }

        if (Capabilities.StartTls)
        {
            failure = await StartTlsAsync(cancellationToken).ConfigureAwait(false);
            if (failure is not null)
            {
                return failure;
            }
        }
        else if (_options.TlsPolicy == TlsPolicy.Required)
        {
            LogTlsNotOffered(_logger, _serverName, _endPoint.Address, _endPoint.Port);
            await TryQuitAsync().ConfigureAwait(false);
            return SmtpReplyInfo.Local(421, EnhancedStatusCode.TemporarySecurity, "TLS is required, but was not offered by " + _serverName);
        }

        if (Tls is null)
        {
            LogPlaintext(_logger, _serverName, _endPoint.Address, _endPoint.Port, Capabilities.StartTls ? "STARTTLS refused" : "STARTTLS not offered");
        }

        if (_options.Credentials is { } credentials)
        {
            return await AuthenticateAsync(credentials, cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>EHLO; HELO when EHLO is refused with 5xx (RFC 5321 §3.2). Returns the failure, or null.</summary>
    private async Task<SmtpReplyInfo?> HelloAsync(CancellationToken cancellationToken)
    {
        var reply = await CommandAsync("EHLO " + _options.HeloName, _options.HeloTimeout, cancellationToken).ConfigureAwait(false);
        if (reply.Code == 250)
        {
            Capabilities = EhloCapabilities.Parse(reply.Lines);
            return null;
        }

        if (reply.IsPermanentFailure)
        {
            reply = await CommandAsync("HELO " + _options.HeloName, _options.HeloTimeout, cancellationToken).ConfigureAwait(false);
            if (reply.Code == 250)
            {
                Capabilities = EhloCapabilities.None;
                return null;
            }
        }

        await TryQuitAsync().ConfigureAwait(false);
        return reply;
    }

    private async Task<SmtpReplyInfo?> StartTlsAsync(CancellationToken cancellationToken)
    {
        var reply = await CommandAsync("STARTTLS", _options.StartTlsTimeout, cancellationToken).ConfigureAwait(false);
        if (reply.Code != 220)
        {
            if (_options.TlsPolicy == TlsPolicy.Required)
            {
                await TryQuitAsync().ConfigureAwait(false);
                return reply.IsPermanentFailure ? reply with { Code = 454, Status = EnhancedStatusCode.TemporarySecurity } : reply;
            }

            return null; // Opportunistic: carry on in plaintext, as Postfix's "may" does.
        }

        // Anything the server sent after its 220 and before the handshake would be read as if it came
        // over TLS: a response injection (CVE-2011-0411 in reverse). Refuse it.
        if (_reader.TryRead(out var pending))
        {
            var injected = !pending.Buffer.IsEmpty;
            _reader.AdvanceTo(pending.Buffer.Start);
            if (injected)
            {
                _broken = true;
                return SmtpReplyInfo.Local(421, EnhancedStatusCode.TemporarySecurity, "the server sent data after its STARTTLS reply");
            }
        }

        await _reader.CompleteAsync().ConfigureAwait(false);
        await _writer.CompleteAsync().ConfigureAwait(false);
        var ssl = new SslStream(_networkStream, leaveInnerStreamOpen: true);
        _sslStream = ssl;
        var authentication = new SslClientAuthenticationOptions
        {
            TargetHost = _serverName,
            RemoteCertificateValidationCallback = ValidateCertificate,
        };

        try
        {
            using var timer = new CancellationTokenSource(_options.StartTlsTimeout, _timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
            await ssl.AuthenticateAsClientAsync(authentication, linked.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException && !cancellationToken.IsCancellationRequested)
        {
            _broken = true;
            var reason = _certificateError is not null && _options.TlsPolicy == TlsPolicy.Required
                ? "server certificate not verified: " + _certificateError
                : "TLS handshake failed: " + e.Message;
            LogTlsFailed(_logger, _serverName, _endPoint.Address, _endPoint.Port, reason);
            return SmtpReplyInfo.Local(421, EnhancedStatusCode.TemporarySecurity, reason);
        }

        (_reader, _writer) = CreatePipes(ssl);
        var verified = _certificateError is null;
        Tls = new TlsInfo(ssl.SslProtocol, ssl.NegotiatedCipherSuite, verified, _certificateError, ssl.RemoteCertificate?.Subject);
        if (verified)
        {
            LogTlsVerified(_logger, _serverName, _endPoint.Address, _endPoint.Port, ssl.SslProtocol, ssl.NegotiatedCipherSuite);
        }
        else
        {
            LogTlsUntrusted(_logger, _serverName, _endPoint.Address, _endPoint.Port, ssl.SslProtocol, ssl.NegotiatedCipherSuite, _certificateError!);
        }

        // RFC 3207 §4.2: forget what the server said before TLS and ask again.
        Capabilities = EhloCapabilities.None;
        var helloFailure = await HelloAsync(cancellationToken).ConfigureAwait(false);
        return helloFailure;
    }

    private bool ValidateCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            _certificateError = null;
            return true;
        }

        var text = new StringBuilder(errors.ToString());
        if (chain is not null)
        {
            foreach (var status in chain.ChainStatus)
            {
                text.Append("; ").Append(status.StatusInformation.Trim());
            }
        }

        _certificateError = text.ToString();
        return _options.TlsPolicy == TlsPolicy.Opportunistic;
    }

    /// <summary>RFC 4954: AUTH PLAIN with an initial response (RFC 4616), or AUTH LOGIN; only over TLS.</summary>
    private async Task<SmtpReplyInfo?> AuthenticateAsync(NetworkCredential credentials, CancellationToken cancellationToken)
    {
        if (Tls is null)
        {
            await TryQuitAsync().ConfigureAwait(false);
            return SmtpReplyInfo.Local(421, EnhancedStatusCode.TemporarySecurity, "credentials are only sent over TLS, and the connection is not encrypted");
        }

        var mechanisms = Capabilities.AuthMechanisms;
        SmtpReplyInfo reply;
        if (mechanisms.Contains("PLAIN"))
        {
            var response = Convert.ToBase64String(Encoding.UTF8.GetBytes("\0" + credentials.UserName + "\0" + credentials.Password));
            reply = await CommandAsync("AUTH PLAIN " + response, _options.AuthTimeout, cancellationToken, log: false).ConfigureAwait(false);
        }
        else if (mechanisms.Contains("LOGIN"))
        {
            reply = await CommandAsync("AUTH LOGIN", _options.AuthTimeout, cancellationToken).ConfigureAwait(false);
            if (reply.Code == 334)
            {
                reply = await CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials.UserName)), _options.AuthTimeout, cancellationToken).ConfigureAwait(false);
            }

            if (reply.Code == 334)
            {
                reply = await CommandAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials.Password)), _options.AuthTimeout, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            await TryQuitAsync().ConfigureAwait(false);
            return SmtpReplyInfo.Local(421, EnhancedStatusCode.TemporarySecurity, "the server offers neither AUTH PLAIN nor AUTH LOGIN");
        }

        if (reply.Code == 235)
        {
            Authenticated = true;
            return null;
        }

        // Like Postfix's smtp_sasl_auth_soft_bounce = yes: a refused login is a configuration
        // problem, so the mail is deferred rather than bounced.
        await TryQuitAsync().ConfigureAwait(false);
        return reply.IsPermanentFailure ? reply with { Code = 454, Status = EnhancedStatusCode.TemporarySecurity } : reply;
    }

    /// <summary>What one message needs on this connection: its MAIL command, and whether its content goes out converted to 7 bit.</summary>
    private readonly record struct PreparedTransaction(OutboundMessage Message, string MailCommand, bool Convert);

    private PreparedTransaction Prepare(OutboundMessage message)
    {
        // RFC 6152 §3: 8-bit content to a server without 8BITMIME is converted to 7 bit. Binary
        // content (BINARYMIME) needs BDAT, which this client does not use: it is converted too.
        var convert = message.Body == BodyType.BinaryMime || (message.Body == BodyType.EightBitMime && !Capabilities.EightBitMime);
        return new PreparedTransaction(message, MailCommand(message, NeedsUtf8(message), convert), convert);
    }

    private static bool NeedsUtf8(OutboundMessage message) =>
        !Ascii.IsValid(message.ReversePath) || message.Recipients.Any(r => !Ascii.IsValid(r.Address));

    /// <summary>MAIL, every RCPT and DATA: one group (RFC 2920 §3.1), the replies come in order.</summary>
    private void WriteCommandGroup(PreparedTransaction transaction)
    {
        WriteCommand(transaction.MailCommand);
        foreach (var recipient in transaction.Message.Recipients)
        {
            WriteCommand(RcptCommand(recipient));
        }

        WriteCommand("DATA");
    }

    /// <param name="transaction">The message and its MAIL command.</param>
    /// <param name="begun">Its commands went out behind the previous message's data: only their replies are left to read.</param>
    /// <param name="replies">Filled with each recipient's deciding reply.</param>
    /// <param name="accepted">Filled with whether each recipient's RCPT was accepted.</param>
    /// <param name="takeFollowing">Asked for the next message as the data goes out (pipelining only).</param>
    /// <param name="cancellationToken">Cancels the transaction.</param>
    private async Task<SmtpReplyInfo?> TransactAsync(PreparedTransaction transaction, bool begun, SmtpReplyInfo?[] replies, bool[] accepted, Func<OutboundMessage?>? takeFollowing, CancellationToken cancellationToken)
    {
        var message = transaction.Message;
        var recipients = message.Recipients;
        SmtpReplyInfo mailReply;
        SmtpReplyInfo dataInitReply;

        // A session used before (a cached connection) starts with RSET, which proves the connection
        // still works (Postfix verifies a cached session the same way). Every earlier transaction
        // ended in a clean state (the reply to the final dot, or RSET after a refusal), so this RSET
        // changes nothing else; with PIPELINING it goes in the same write as MAIL and costs no round
        // trip. Commands that followed the previous message's data need no RSET: that connection was
        // in use a moment ago.
        var reused = !begun && _transactions > 0;
        _transactions++;
        if (Capabilities.Pipelining)
        {
            if (!begun)
            {
                if (reused)
                {
                    WriteCommand("RSET");
                }

                WriteCommandGroup(transaction);
            }

            mailReply = await BeginPipelinedTransactionAsync(begun, reused, cancellationToken).ConfigureAwait(false);
            if (!mailReply.IsPositive)
            {
                _transactionFailure = mailReply;
            }

            for (var i = 0; i < recipients.Count; i++)
            {
                var reply = await ReadReplyAsync(_options.RcptTimeout, cancellationToken).ConfigureAwait(false);
                replies[i] = mailReply.IsPositive ? reply : mailReply;
                accepted[i] = mailReply.IsPositive && reply.IsPositive;
            }

            dataInitReply = await ReadReplyAsync(_options.DataInitTimeout, cancellationToken).ConfigureAwait(false);
            if (!accepted.Contains(true))
            {
                if (dataInitReply.Code == 354)
                {
                    // RFC 2920 §3.1: DATA accepted although no recipient was; end it with an empty message.
                    _writer.Write(".\r\n"u8);
                    await FlushAsync(_options.DataTimeout, cancellationToken).ConfigureAwait(false);
                    await ReadReplyAsync(_options.DataDoneTimeout, cancellationToken).ConfigureAwait(false);
                }

                await ResetAfterFailureAsync(cancellationToken).ConfigureAwait(false);
                return null;
            }
        }
        else
        {
            if (reused)
            {
                WriteCommand("RSET");
                await BeginTransactionAsync(reused, cancellationToken).ConfigureAwait(false);
            }

            mailReply = await CommandAsync(transaction.MailCommand, _options.MailTimeout, cancellationToken).ConfigureAwait(false);
            if (!mailReply.IsPositive)
            {
                _transactionFailure = mailReply;
                Array.Fill(replies, mailReply);
                await ResetAfterFailureAsync(cancellationToken).ConfigureAwait(false);
                return null;
            }

            for (var i = 0; i < recipients.Count; i++)
            {
                replies[i] = await CommandAsync(RcptCommand(recipients[i]), _options.RcptTimeout, cancellationToken).ConfigureAwait(false);
                accepted[i] = replies[i]!.IsPositive;
            }

            if (!accepted.Contains(true))
            {
                await ResetAfterFailureAsync(cancellationToken).ConfigureAwait(false);
                return null;
            }

            dataInitReply = await CommandAsync("DATA", _options.DataInitTimeout, cancellationToken).ConfigureAwait(false);
        }

        if (dataInitReply.Code != 354)
        {
            _transactionFailure = dataInitReply;
            Apply(dataInitReply, replies, accepted);
            await ResetAfterFailureAsync(cancellationToken).ConfigureAwait(false);
            return dataInitReply;
        }

        var data = new DataWriteStream(_writer, _options.DataTimeout, _timeProvider);
        await using (var content = message.OpenContent())
        {
            if (transaction.Convert)
            {
                await SevenBitConverter.ConvertAsync(content, data, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await content.CopyToAsync(data, cancellationToken).ConfigureAwait(false);
            }
        }

        data.WriteEnd();
        if (Capabilities.Pipelining && takeFollowing?.Invoke() is { } following)
        {
            // RFC 2920 §3.1: the next transaction's commands may follow the end of data in one write.
            WriteCommandGroup(Prepare(following));
            _begun = following;
        }

        await data.FlushWrittenAsync(cancellationToken).ConfigureAwait(false);
        var final = await ReadReplyAsync(_options.DataDoneTimeout, cancellationToken).ConfigureAwait(false);
        if (!final.IsPositive)
        {
            _transactionFailure = final;
        }

        Apply(final, replies, accepted);
        return final;
    }

    private static void Apply(SmtpReplyInfo reply, SmtpReplyInfo?[] replies, bool[] accepted)
    {
        for (var i = 0; i < replies.Length; i++)
        {
            if (accepted[i])
            {
                replies[i] = reply;
            }
        }
    }

    private async Task ResetAfterFailureAsync(CancellationToken cancellationToken)
    {
        WriteCommand("RSET");
        await FlushAsync(_options.RsetTimeout, cancellationToken).ConfigureAwait(false);
        var reply = await ReadReplyAsync(_options.RsetTimeout, cancellationToken).ConfigureAwait(false);
        if (!reply.IsPositive)
        {
            _broken = true;
        }
    }

    private string MailCommand(OutboundMessage message, bool needsUtf8, bool convert)
    {
        var command = new StringBuilder("MAIL FROM:<").Append(message.ReversePath).Append('>');
        if (Capabilities.Size is not null)
        {
            command.Append(" SIZE=").Append(message.Size);
        }

        if (message.Body == BodyType.EightBitMime && !convert)
        {
            command.Append(" BODY=8BITMIME");
        }

        if (Capabilities.SmtpUtf8 && (needsUtf8 || message.SmtpUtf8))
        {
            command.Append(" SMTPUTF8");
        }

        if (Capabilities.Dsn)
        {
            if (message.Return != DsnReturn.Unspecified)
            {
                command.Append(message.Return == DsnReturn.Full ? " RET=FULL" : " RET=HDRS");
            }

            if (message.EnvelopeId is not null)
            {
                command.Append(" ENVID=").Append(Xtext.Encode(message.EnvelopeId));
            }
        }

        return command.ToString();
    }

    private string RcptCommand(OutboundRecipient recipient)
    {
        var command = new StringBuilder("RCPT TO:<").Append(recipient.Address).Append('>');
        if (Capabilities.Dsn)
        {
            if (recipient.Notify != DsnNotify.None)
            {
                command.Append(" NOTIFY=").Append(recipient.Notify.HasFlag(DsnNotify.Never)
                    ? "NEVER"
                    : string.Join(',', new[] { (DsnNotify.Success, "SUCCESS"), (DsnNotify.Failure, "FAILURE"), (DsnNotify.Delay, "DELAY") }
                        .Where(f => recipient.Notify.HasFlag(f.Item1)).Select(f => f.Item2)));
            }

            if (recipient.OriginalRecipient is { } original)
            {
                // RFC 3461 §4.2: ORCPT=addr-type ";" xtext.
                var semicolon = original.IndexOf(';', StringComparison.Ordinal);
                var (type, address) = semicolon > 0 ? (original[..semicolon], original[(semicolon + 1)..]) : ("rfc822", original);
                command.Append(" ORCPT=").Append(type).Append(';').Append(Xtext.Encode(address));
            }
        }

        return command.ToString();
    }

    private async Task<SmtpReplyInfo> CommandAsync(string command, TimeSpan timeout, CancellationToken cancellationToken, bool log = true)
    {
        WriteCommand(command);
        await FlushAsync(timeout, cancellationToken).ConfigureAwait(false);
        var reply = await ReadReplyAsync(timeout, cancellationToken).ConfigureAwait(false);
        if (log)
        {
            LogCommand(_logger, _serverName, command, reply.ToString());
        }

        return reply;
    }

    private void WriteCommand(string command)
    {
        var bytes = Encoding.UTF8.GetBytes(command + "\r\n");
        _writer.Write(bytes);
    }

    private async Task FlushAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        var result = await _writer.FlushAsync(linked.Token).ConfigureAwait(false);
        if (result.IsCompleted)
        {
            throw new IOException("The connection was closed.");
        }
    }

    private async Task<SmtpReplyInfo> ReadReplyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        while (true)
        {
            var result = await _reader.ReadAsync(linked.Token).ConfigureAwait(false);
            var buffer = result.Buffer;
            switch (SmtpReplyParser.TryParse(buffer, _options.MaxReplyLineLength, _options.MaxReplyLines, out var reply, out var consumed))
            {
                case ReplyParseStatus.Done:
                    _reader.AdvanceTo(consumed);
                    return reply!;
                case ReplyParseStatus.Invalid:
                    _reader.AdvanceTo(buffer.Start, buffer.End);
                    throw new SmtpProtocolException("malformed or oversized reply from the server");
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                _reader.AdvanceTo(buffer.Start, buffer.End);
                throw new IOException("The server closed the connection.");
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Sends the first write of a transaction and, on a reused session, reads the reply to its RSET;
    /// a connection that fails here failed before the transaction began (<see cref="ClosedBeforeTransaction"/>).
    /// </summary>
    private async Task BeginTransactionAsync(bool reused, CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(reused ? _options.RsetTimeout : _options.MailTimeout, cancellationToken).ConfigureAwait(false);
            if (reused && await ReadReplyAsync(_options.RsetTimeout, cancellationToken).ConfigureAwait(false) is { Code: 421 } closing)
            {
                // RFC 5321 §3.8: the server is closing the connection; what was pipelined behind the RSET is lost with it.
                throw new IOException($"the server is closing the connection: {closing}");
            }
        }
        catch (Exception e) when (reused && !cancellationToken.IsCancellationRequested && IsConnectionFailure(e))
        {
            ClosedBeforeTransaction = true;
            throw;
        }
    }

    /// <summary>
    /// Sends a pipelined group (unless it went out behind the previous data already), reads the
    /// reply to a reused session's RSET, and returns the reply to MAIL. A connection that fails
    /// before that reply failed before the transaction began (<see cref="ClosedBeforeTransaction"/>)
    /// when the connection had carried a transaction before.
    /// </summary>
    private async Task<SmtpReplyInfo> BeginPipelinedTransactionAsync(bool begun, bool reused, CancellationToken cancellationToken)
    {
        try
        {
            if (!begun)
            {
                await FlushAsync(reused ? _options.RsetTimeout : _options.MailTimeout, cancellationToken).ConfigureAwait(false);
            }

            if (reused && await ReadReplyAsync(_options.RsetTimeout, cancellationToken).ConfigureAwait(false) is { Code: 421 } closing)
            {
                // RFC 5321 §3.8: the server is closing the connection; what was pipelined behind the RSET is lost with it.
                throw new IOException($"the server is closing the connection: {closing}");
            }

            return await ReadReplyAsync(_options.MailTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when ((begun || reused) && !cancellationToken.IsCancellationRequested && IsConnectionFailure(e))
        {
            ClosedBeforeTransaction = true;
            throw;
        }
    }

    /// <summary>QUIT without waiting long, after a refusal that ends the session (RFC 5321 §3.1, §4.1.1.10).</summary>
    private async Task TryQuitAsync()
    {
        try
        {
            WriteCommand("QUIT");
            using var timer = new CancellationTokenSource(_options.RsetTimeout, _timeProvider);
            await _writer.FlushAsync(timer.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
        }

        _broken = true;
    }

    private TransactionResult AllRecipients(OutboundMessage message, SmtpReplyInfo reply) =>
        new([.. message.Recipients.Select(r => new RecipientResult(r.Address, false, reply))], null);

    private static bool ContainsLineBreak(string? text) => text is not null && text.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0;

    // The writer's segments are 64 KiB (the default is 4 KiB): a flush writes each segment with its own
    // send(2), so a 100 KiB message went out in 25 sends, each waking the peer (docs/performance.md).
    private static (PipeReader Reader, PipeWriter Writer) CreatePipes(Stream stream) =>
        (PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true)),
         PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: DataWriteStream.FlushThreshold, leaveOpen: true)));

    private static bool IsConnectionFailure(Exception e) =>
        e is IOException or SocketException or OperationCanceledException or SmtpProtocolException or AuthenticationException or ObjectDisposedException or InvalidOperationException;

    private static SmtpReplyInfo FailureFor(Exception e) => e switch
    {
        OperationCanceledException => Timeout,
        SmtpProtocolException p => SmtpReplyInfo.Local(421, new EnhancedStatusCode(4, 4, 2), p.Message),
        _ => ConnectionLost,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Verified TLS connection established to {ServerName}[{Address}]:{Port}: {Protocol} with cipher {CipherSuite}")]
    private static partial void LogTlsVerified(ILogger logger, string serverName, IPAddress address, int port, SslProtocols protocol, TlsCipherSuite cipherSuite);

    [LoggerMessage(Level = LogLevel.Information, Message = "Untrusted TLS connection established to {ServerName}[{Address}]:{Port}: {Protocol} with cipher {CipherSuite}, certificate not verified ({ValidationError})")]
    private static partial void LogTlsUntrusted(ILogger logger, string serverName, IPAddress address, int port, SslProtocols protocol, TlsCipherSuite cipherSuite, string validationError);

    [LoggerMessage(Level = LogLevel.Information, Message = "Plaintext connection to {ServerName}[{Address}]:{Port}: not encrypted ({Reason})")]
    private static partial void LogPlaintext(ILogger logger, string serverName, IPAddress address, int port, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS is required, but was not offered by {ServerName}[{Address}]:{Port}")]
    private static partial void LogTlsNotOffered(ILogger logger, string serverName, IPAddress address, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TLS with {ServerName}[{Address}]:{Port} failed: {Reason}")]
    private static partial void LogTlsFailed(ILogger logger, string serverName, IPAddress address, int port, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "connect to {ServerName}[{Address}]:{Port}: {Reason}")]
    private static partial void LogConnectFailed(ILogger logger, string serverName, IPAddress address, int port, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "conversation with {ServerName}[{Address}]:{Port} failed: {Reason}")]
    private static partial void LogTransactionFailed(ILogger logger, string serverName, IPAddress address, int port, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{ServerName}: {Command} -> {Reply}")]
    private static partial void LogCommand(ILogger logger, string serverName, string command, string reply);
}

/// <summary>The server broke the protocol (a malformed or oversized reply).</summary>
internal sealed class SmtpProtocolException(string message) : Exception(message);

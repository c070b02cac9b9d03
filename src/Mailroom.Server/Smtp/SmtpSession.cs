using CommunityToolkit.HighPerformance.Buffers;
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Text;
using Mailroom.Protocol;
using Mailroom.Queue;
using Mailroom.Server.Policy;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>
/// One SMTP session (RFC 5321) on one connection: reads commands, consults the state table,
/// answers, and streams message data into the queue. Replies to pipelined commands (RFC 2920) are
/// collected and sent together when the client's input runs dry. Knows nothing of delivery.
/// </summary>
internal sealed partial class SmtpSession : IAsyncDisposable
{
    private readonly SmtpServerContext _server;
    private readonly SmtpListener _listener;
    private readonly IDuplexPipe _transport;
    private readonly IPEndPoint _client;
    private readonly string _clientText;
    private readonly byte[] _line;
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationToken _shutdown;
    private readonly SessionCounters _counters = new();
    // The decoded DATA of the current read; made at the first DATA, so that an idle connection
    // costs no 64 KiB (10,000 idle connections must fit in a few hundred MiB, issue 7).
    // The decoded data between reads: pooled, rented at the first DATA and returned when the session ends
    // (with a new connection per message, a 64 KiB array per session was most of what a message allocated).
    private ArrayPoolBufferWriter<byte>? _dataBuffer;
    private readonly List<EnvelopeRecipient> _recipients = [];
    private readonly SmtpPolicyContext _policyContext;

    // Header fields the checks add to the current message (the DATA stage today; the end-of-data
    // checks later): the one place where they are gathered, written after our Received header.
    private readonly List<string> _policyHeaders = [];

    private PipeReader _input;
    private PipeWriter _output;
    private SslStream? _tls;
    private SessionState _state = SessionState.Connected;
    private string? _heloName;
    private bool _extended;
    private int _errors;

    // The mail transaction (RFC 5321 §3.3), cleared by RSET, HELO/EHLO and the end of a message.
    private SmtpPath _reversePath = SmtpPath.Null;
    private MailParameters _mailParameters;
    private int _rejectedRecipients;
    private IncomingMessage? _chunkedMessage;
    private long _chunkedSize;

    public SmtpSession(SmtpServerContext server, SmtpListener listener, IDuplexPipe transport, IPEndPoint client, CancellationToken shutdown, IPAddress? localAddress = null)
    {
        _server = server;
        _listener = listener;
        _transport = transport;
        _input = transport.Input;
        _output = transport.Output;
        _client = client;
        _clientText = $"[{client.Address}]:{client.Port}";
        _line = new byte[server.Options.Limits.CommandLineLength];
        _timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, server.TimeProvider);
        _shutdown = shutdown;
        _policyContext = new SmtpPolicyContext(client.Address, listener.Role, localAddress) { IsTrusted = IsTrustedClient() };
    }

    private SmtpLimits Limits => _server.Options.Limits;

    private ILogger Logger => _server.Logger;

    public async Task RunAsync()
    {
        LogConnect(Logger, _clientText, _listener.Role);
        using var shutdownRegistration = _shutdown.Register(static state => ((CancellationTokenSource)state!).Cancel(), _timeout);
        try
        {
            if (!await PolicyConnectAsync())
            {
                return;
            }

            if (_listener.Role == SmtpListenerRole.Submissions && !await StartTlsAsync())
            {
                return;
            }

            Reply(_server.Greeting);
            while (await ReadCommandAsync() is { } command)
            {
                if (!await ExecuteAsync(command))
                {
                    break;
                }

                if (ErrorLimitReached())
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_shutdown.IsCancellationRequested)
        {
            Reply(SmtpReplies.ShuttingDown);
        }
        catch (OperationCanceledException)
        {
            Reply(TimeoutReply());
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away (reset, TLS error); nothing to answer.
            LogConnectionLost(Logger, _clientText, exception.Message);
        }
        finally
        {
            Policy?.SessionEnded(_policyContext);
            await AbortTransactionAsync();
            await TryFlushAsync();
            LogDisconnect(Logger, _clientText, _counters.ToString());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _timeout.Dispose();
        _dataBuffer?.Dispose();
        if (_tls is not null)
        {
            await _input.CompleteAsync();
            await _output.CompleteAsync();
            await _tls.DisposeAsync();
        }
    }

    /// <summary>Reads the next command line into <see cref="_line"/>; null when the client closed the connection.</summary>
    private async ValueTask<CommandLine?> ReadCommandAsync()
    {
        while (true)
        {
            var (outcome, length) = await ReadLineAsync(_line);
            switch (outcome)
            {
                case LineOutcome.Line:
                    return new CommandLine(SmtpCommand.Parse(_line.AsSpan(0, length)), length);

                case LineOutcome.TooLong:
                    Reply(SmtpReplies.LineTooLong);
                    if (ErrorLimitReached())
                    {
                        return null;
                    }

                    continue;

                default:
                    return null;
            }
        }
    }

    private enum LineOutcome
    {
        /// <summary>A line (without its line end) is in the destination.</summary>
        Line,

        /// <summary>The line was longer than the destination; it was skipped up to its line end.</summary>
        TooLong,

        /// <summary>The client closed the connection.</summary>
        Closed,
    }

    /// <summary>
    /// Reads one line of at most <c>destination.Length</c> octets (line end included, RFC 5321
    /// §4.5.3.1.4) into <paramref name="destination"/>. A longer line never reaches the caller: it
    /// is skipped to its end, also when the rest of it is still arriving.
    /// </summary>
    private async ValueTask<(LineOutcome Outcome, int Length)> ReadLineAsync(byte[] destination)
    {
        var discarding = false;
        var needMore = false;
        while (true)
        {
            var result = await ReadAsync(Limits.CommandTimeout, waitForNewData: needMore);
            var buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            if (discarding)
            {
                var ended = SmtpLineReader.TrySkipToLineEnd(ref reader);
                _input.AdvanceTo(reader.Position);
                if (ended)
                {
                    return (LineOutcome.TooLong, 0);
                }

                if (result.IsCompleted)
                {
                    return (LineOutcome.Closed, 0);
                }

                needMore = true;
                continue;
            }

            switch (SmtpLineReader.TryReadLine(ref reader, destination.Length, out var line))
            {
                case LineReadStatus.Complete:
                    line.CopyTo(destination);
                    _input.AdvanceTo(reader.Position);
                    return (LineOutcome.Line, (int)line.Length);

                case LineReadStatus.TooLong:
                    _input.AdvanceTo(reader.Position);
                    return (LineOutcome.TooLong, 0);

                case LineReadStatus.TooLongUnterminated:
                    // The rest of the oversized line has not arrived yet: skip it as it comes.
                    _input.AdvanceTo(reader.Position);
                    discarding = true;
                    needMore = true;
                    continue;

                default:
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        return (LineOutcome.Closed, 0);
                    }

                    needMore = true;
                    continue;
            }
        }
    }

    /// <summary>
    /// Takes buffered input if there is any; otherwise sends the replies collected so far (they
    /// answer the whole pipelined batch, RFC 2920 §3.2) and waits for input with a stage timeout
    /// (RFC 5321 §4.5.3.2). <paramref name="waitForNewData"/> skips the buffer that was examined
    /// and found incomplete.
    /// </summary>
    private async ValueTask<ReadResult> ReadAsync(TimeSpan timeout, bool waitForNewData = false)
    {
        if (!waitForNewData && _input.TryRead(out var buffered))
        {
            return buffered;
        }

        // The stage timeout covers sending the replies too: a client that never reads them must
        // not hold the session forever.
        StartTimer(timeout);
        await FlushAsync(_timeout.Token);
        var result = await _input.ReadAsync(_timeout.Token);
        StopTimer();
        return result;
    }

    private void StartTimer(TimeSpan timeout) => _timeout.CancelAfter(timeout);

    /// <summary>
    /// Disarms the stage timer; throws when it fired meanwhile. (Not CancellationTokenSource.TryReset:
    /// it always fails for a timer of a TimeProvider other than TimeProvider.System.)
    /// </summary>
    private void StopTimer()
    {
        _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        _timeout.Token.ThrowIfCancellationRequested();
    }

    /// <summary>After the last error allowed (Postfix smtpd_hard_error_limit), answers 421 and says so.</summary>
    private bool ErrorLimitReached()
    {
        if (_errors < Limits.ErrorsPerSession)
        {
            return false;
        }

        LogTooManyErrors(Logger, _clientText, _errors);
        Reply(SmtpReplies.TooManyErrors);
        return true;
    }

    private ValueTask<bool> ExecuteAsync(CommandLine command)
    {
        var verb = command.Command.Verb;
        _counters.Count(verb);
        var notAllowed = SessionStateTable.Check(_state, verb);
        if (notAllowed == SmtpReplies.NeedRcpt && _rejectedRecipients > 0)
        {
            // RFC 2920 §3.1: DATA (or BDAT) after every RCPT of the transaction was refused.
            notAllowed = SmtpReplies.NoValidRecipients;
        }

        if (notAllowed is not null)
        {
            return verb == SmtpVerb.Bdat ? SkipChunkAsync(command, notAllowed) : Answer(notAllowed);
        }

        var arguments = command.Command.Arguments(_line.AsSpan(0, command.Length));
        return verb switch
        {
            SmtpVerb.Ehlo => Hello(arguments, extended: true),
            SmtpVerb.Helo => Hello(arguments, extended: false),
            SmtpVerb.Mail => Mail(arguments),
            SmtpVerb.Rcpt => Rcpt(arguments),
            SmtpVerb.Data => DataAsync(arguments.IsEmpty),
            SmtpVerb.Bdat => BdatAsync(command),
            SmtpVerb.Rset => ResetAsync(),
            SmtpVerb.Noop => Answer(SmtpReplies.Okay),
            SmtpVerb.Help => Answer(SmtpReplies.Help),
            SmtpVerb.Vrfy => Answer(arguments.IsEmpty ? SmtpReplies.NoArguments : SmtpReplies.CannotVerify),
            SmtpVerb.Expn => Answer(SmtpReplies.ExpnDisabled),
            SmtpVerb.StartTls => StartTlsCommandAsync(arguments.IsEmpty),
            SmtpVerb.Auth => AuthAsync(command),
            SmtpVerb.Quit => QuitAsync(),
            _ => Answer(SmtpReplies.CommandUnrecognized),
        };
    }

    private ValueTask<bool> Answer(SmtpReply reply)
    {
        Reply(reply);
        return ValueTask.FromResult(true);
    }

    private ValueTask<bool> QuitAsync()
    {
        Reply(SmtpReplies.Bye);
        return ValueTask.FromResult(false);
    }

    private async ValueTask<bool> ResetAsync()
    {
        await AbortTransactionAsync();
        if (_state != SessionState.Connected)
        {
            _state = SessionState.Ready;
        }

        Reply(SmtpReplies.Okay);
        return true;
    }

    private ValueTask<bool> Hello(ReadOnlySpan<byte> arguments, bool extended)
    {
        // The name goes into the Received header, so it must be one printable token; the policy
        // then checks it further.
        if (arguments.IsEmpty || arguments.Length > SmtpPath.MaxDomainLength || !IsPrintableToken(arguments))
        {
            return Answer(extended ? SmtpReplies.EhloSyntax : SmtpReplies.HeloSyntax);
        }

        return HelloAsync(Encoding.UTF8.GetString(arguments), extended);
    }

    private async ValueTask<bool> HelloAsync(string name, bool extended)
    {
        if (Policy is { } policy)
        {
            // Refused: the session stays in the state it was in before this HELO/EHLO.
            var decision = await policy.OnHeloAsync(_policyContext, name, _shutdown);
            if (!decision.IsAccepted)
            {
                Reply(decision.Reply!);
                return !decision.ClosesConnection;
            }
        }

        Reply(Greet(name, extended));
        return true;
    }

    private SmtpReply Greet(string name, bool extended)
    {
        DiscardTransaction();
        _heloName = name;
        _extended = extended;
        _state = SessionState.Ready;
        if (!extended)
        {
            return _server.HeloReply;
        }

        if (_tls is null)
        {
            // RFC 4954 §4 / RFC 8314: AUTH is not advertised before TLS.
            return _server.Certificates is not null ? _server.EhloWithStartTls : _server.EhloReply;
        }

        return OffersAuthentication ? _server.EhloWithAuth : _server.EhloReply;
    }

    private static bool IsPrintableToken(ReadOnlySpan<byte> text)
    {
        foreach (var b in text)
        {
            if (b <= 32 || b == 127)
            {
                return false;
            }
        }

        return System.Text.Unicode.Utf8.IsValid(text);
    }

    private ValueTask<bool> Mail(ReadOnlySpan<byte> arguments)
    {
        if (_listener.Role == SmtpListenerRole.Submission && _tls is null)
        {
            // RFC 6409 §4.3 / RFC 8314: submission needs TLS before any mail.
            return Answer(SmtpReplies.TlsRequired);
        }

        if (_listener.RequiresAuthentication && _authenticatedUser is null)
        {
            // RFC 6409 §4.3: the MSA requires authentication for all mail.
            return Answer(SmtpServerReplies.AuthRequired);
        }

        var error = EnvelopeCommandParser.ParseMail(arguments, out var reversePath, out var parameters);
        if (error is not null)
        {
            return Answer(error);
        }

        if (reversePath.IsInternational && !parameters.SmtpUtf8)
        {
            return Answer(SmtpReplies.NonAsciiSender);
        }

        if (parameters.Size > Limits.MessageSize)
        {
            return Answer(SmtpReplies.MessageTooBig);
        }

        if (_authenticatedUser is not null && !reversePath.IsNull && !OwnsSender(reversePath.Address))
        {
            LogSenderNotOwned(Logger, "NOQUEUE", _clientText, _authenticatedUser, reversePath.Address, "MAIL FROM");
            return Answer(SmtpServerReplies.SenderNotOwned);
        }

        return MailAsync(reversePath, parameters);
    }

    private async ValueTask<bool> MailAsync(SmtpPath reversePath, MailParameters parameters)
    {
        if (Policy is { } policy)
        {
            var decision = await policy.OnMailAsync(_policyContext, reversePath, _shutdown);
            if (!decision.IsAccepted)
            {
                Reply(decision.Reply!);
                return !decision.ClosesConnection;
            }
        }

        if (await CheckSenderAsync(reversePath) is { } spfRefusal)
        {
            Reply(spfRefusal);
            return true;
        }

        _reversePath = reversePath;
        _mailParameters = parameters;
        _state = SessionState.HaveMail;
        Reply(SmtpReplies.SenderOk);
        return true;
    }

    private ValueTask<bool> Rcpt(ReadOnlySpan<byte> arguments)
    {
        var error = EnvelopeCommandParser.ParseRcpt(arguments, out var forwardPath, out var parameters);
        if (error is null && forwardPath.IsInternational && !_mailParameters.SmtpUtf8)
        {
            error = SmtpReplies.NonAsciiRecipient;
        }

        error ??= _recipients.Count >= Limits.RecipientsPerMessage ? SmtpReplies.TooManyRecipients : null;
        List<EnvelopeRecipient> targets = [];
        error ??= ResolveRecipient(forwardPath, parameters, targets);
        return RcptAsync(forwardPath, targets, error);
    }

    /// <summary>
    /// The recipient's decision: the session's own (<paramref name="error"/>) and the policy's,
    /// which counts refusals for harvesting control and may defer a known recipient (greylisting,
    /// rates) or delay the reply (tarpit).
    /// </summary>
    private async ValueTask<bool> RcptAsync(SmtpPath forwardPath, List<EnvelopeRecipient> targets, SmtpReply? error)
    {
        var decision = Policy switch
        {
            null => PolicyDecision.Accept,
            { } policy when error == SmtpReplies.UnknownUser => await policy.OnRcptAsync(_policyContext, forwardPath, recipientKnown: false, _shutdown),
            { } policy when error is not null => policy.RecipientRejected(_policyContext, error, error.Text),
            { } policy => await policy.OnRcptAsync(_policyContext, forwardPath, recipientKnown: true, _shutdown),
        };
        var reply = Policy is null ? error ?? SmtpReplies.RecipientOk : decision.Reply ?? SmtpReplies.RecipientOk;
        if (reply.IsPositive)
        {
            _recipients.AddRange(targets);
            _state = SessionState.HaveRecipients;
        }
        else
        {
            _rejectedRecipients++;
            LogRecipientRejected(Logger, _clientText, reply.Code, reply.Status?.ToString(), reply.Text, _reversePath.Address, forwardPath.Address);
        }

        return await ReplyAfterDelayAsync(decision, reply);
    }

    /// <summary>
    /// Decides a recipient: a local user or alias, relaying for a trusted client, or a refusal.
    /// The envelope recipients it stands for go into <paramref name="targets"/>.
    /// </summary>
    private SmtpReply? ResolveRecipient(SmtpPath path, RcptParameters parameters, List<EnvelopeRecipient> targets)
    {
        var notify = (DsnNotify)(byte)parameters.Notify;
        var domain = path.IsBarePostmaster ? PostmasterDomain() : path.Domain;
        if (!path.IsAddressLiteral && _server.Recipients.IsLocalDomain(domain))
        {
            var local = _server.Recipients.Resolve(path.UnquotedLocalPart, domain);
            if (local is null)
            {
                return SmtpReplies.UnknownUser;
            }

            foreach (var target in local)
            {
                var original = parameters.OriginalRecipient
                    ?? (string.Equals(target.Address, path.Address, StringComparison.OrdinalIgnoreCase) ? null : "rfc822;" + path.Address);
                targets.Add(new EnvelopeRecipient { Address = target.Address, LocalMailbox = target.Mailbox, OriginalRecipient = original, Notify = notify });
            }

            return null;
        }

        if (_authenticatedUser is null && !IsTrustedClient())
        {
            return SmtpReplies.RelayDenied;
        }

        targets.Add(new EnvelopeRecipient { Address = path.Address, OriginalRecipient = parameters.OriginalRecipient, Notify = notify });
        return null;
    }

    /// <summary>
    /// RFC 5321 §4.1.1.3: a domain-less &lt;postmaster&gt; must always be accepted. It is the
    /// postmaster of our hostname when that is a local domain, else of the first local domain.
    /// </summary>
    private string PostmasterDomain()
    {
        var hostname = _server.Options.Hostname;
        return _server.Recipients.IsLocalDomain(hostname) || _server.Recipients.LocalDomains.Count == 0
            ? hostname
            : _server.Recipients.LocalDomains[0];
    }

    private bool IsTrustedClient()
    {
        foreach (var network in _server.Options.TrustedNetworks)
        {
            if (network.Contains(_client.Address))
            {
                return true;
            }
        }

        return false;
    }

    private async ValueTask<bool> DataAsync(bool argumentsEmpty)
    {
        if (!argumentsEmpty)
        {
            Reply(SmtpReplies.NoArguments);
            return true;
        }

        if (_recipients.Count == 0)
        {
            // RFC 2920 §3.1: every RCPT of this transaction was refused.
            Reply(SmtpReplies.NoValidRecipients);
            return true;
        }

        if (await PolicyDataAsync() is { } refusal)
        {
            Reply(refusal);
            return true;
        }

        var (message, failure) = await CreateMessageAsync();
        if (message is null)
        {
            Reply(failure!);
            DiscardTransaction();
            _state = SessionState.Ready;
            return true;
        }

        await using (message)
        {
            Reply(SmtpReplies.StartData);
            BeginDataDeadline();
            var (size, dataFailure) = await ReceiveDataAsync(message);
            EndDataDeadline();
            Reply(await FinishMessageAsync(message, size, dataFailure));
        }

        return true;
    }

    /// <summary>
    /// Streams the data until CRLF.CRLF into the message; stops writing (but keeps reading) after a
    /// failure. The failure includes the decoder's defects (bare line endings, long lines).
    /// </summary>
    private async ValueTask<(long Size, SmtpReply? Failure)> ReceiveDataAsync(IncomingMessage message)
    {
        // A mutable struct: it stays in this method, so its defects are not read from a copy.
        var decoder = new DataDecoder(_server.Options.BareLineEndings, Limits.TextLineLength);
        var dataBuffer = _dataBuffer ??= new ArrayPoolBufferWriter<byte>(64 * 1024);
        long size = 0;
        SmtpReply? failure = null;
        while (true)
        {
            var result = await ReadAsync(DataReadTimeout());
            var buffer = result.Buffer;
            var consumedTotal = 0L;
            var done = false;
            foreach (var segment in buffer)
            {
                done = decoder.Decode(segment.Span, dataBuffer, out var consumed);
                consumedTotal += consumed;
                if (done)
                {
                    break;
                }
            }

            size += dataBuffer.WrittenCount;
            if (size > Limits.MessageSize)
            {
                failure ??= SmtpReplies.MessageTooBig;
            }

            if (failure is null)
            {
                failure = await WriteContentAsync(message, dataBuffer.WrittenMemory);
            }

            dataBuffer.Clear();
            _dataBytes += consumedTotal;
            _input.AdvanceTo(buffer.GetPosition(consumedTotal));
            if (done)
            {
                return (size, failure ?? DataFailure(decoder.Defects));
            }

            if (result.IsCompleted)
            {
                throw new IOException("connection closed during DATA");
            }
        }
    }

    private async ValueTask<SmtpReply?> WriteContentAsync(IncomingMessage message, ReadOnlyMemory<byte> content)
    {
        if (_header is not null)
        {
            return await CollectHeaderAsync(message, content);
        }

        try
        {
            await message.Content.WriteAsync(content);
            return null;
        }
        catch (Exception exception) when (IsStorageFailure(exception))
        {
            LogStorageError(Logger, message.Id.Value, exception.Message);
            return StorageFailure(exception);
        }
    }

    private SmtpReply? DataFailure(DataDefects defects)
    {
        if ((defects & DataDefects.BareLineEnding) != 0 && _server.Options.BareLineEndings == BareLineEndingPolicy.Reject)
        {
            return SmtpReplies.BareLineEnding;
        }

        return (defects & DataDefects.LineTooLong) != 0 ? SmtpReplies.TextLineTooLong : null;
    }

    /// <summary>BDAT (RFC 3030): exactly the announced number of octets follows the command.</summary>
    private async ValueTask<bool> BdatAsync(CommandLine command)
    {
        if (!TryParseBdat(command, out var chunkSize, out var last))
        {
            // Without a size the chunk cannot be skipped; RFC 3030 leaves the session unusable.
            Reply(SmtpReplies.BdatSyntax);
            return false;
        }

        BeginDataDeadline();
        if (_chunkedMessage is null)
        {
            if (await PolicyDataAsync() is { } refusal)
            {
                await SkipBytesAsync(chunkSize);
                EndDataDeadline();
                Reply(refusal);
                return true;
            }

            var (message, failure) = await CreateMessageAsync();
            if (message is null)
            {
                await SkipBytesAsync(chunkSize);
                EndDataDeadline();
                DiscardTransaction();
                _state = SessionState.Ready;
                Reply(failure!);
                return true;
            }

            _chunkedMessage = message;
            _chunkedSize = 0;
        }

        _state = SessionState.ReceivingChunks;
        var chunkFailure = await CopyChunkAsync(_chunkedMessage, chunkSize);
        EndDataDeadline();
        if (chunkFailure is null && !last)
        {
            Reply(new SmtpReply(250, EnhancedStatusCode.Ok, $"Ok: {chunkSize} octets received"));
            return true;
        }

        var message2 = _chunkedMessage;
        _chunkedMessage = null;
        await using (message2)
        {
            Reply(await FinishMessageAsync(message2, _chunkedSize, chunkFailure));
        }

        return true;
    }

    private bool TryParseBdat(CommandLine command, out long chunkSize, out bool last)
    {
        var arguments = command.Command.Arguments(_line.AsSpan(0, command.Length));
        last = false;
        var space = arguments.IndexOf((byte)' ');
        var sizeText = space < 0 ? arguments : arguments[..space];
        if (space >= 0)
        {
            var rest = arguments[(space + 1)..].Trim((byte)' ');
            if (!Ascii.EqualsIgnoreCase(rest, "LAST"u8))
            {
                chunkSize = 0;
                return false;
            }

            last = true;
        }

        return System.Buffers.Text.Utf8Parser.TryParse(sizeText, out chunkSize, out var used) && used == sizeText.Length && chunkSize >= 0 && sizeText.Length > 0;
    }

    /// <summary>Consumes a chunk that is refused (wrong state), so that the next command is read correctly.</summary>
    private async ValueTask<bool> SkipChunkAsync(CommandLine command, SmtpReply reply)
    {
        if (!TryParseBdat(command, out var chunkSize, out _))
        {
            Reply(SmtpReplies.BdatSyntax);
            return false;
        }

        await SkipBytesAsync(chunkSize);
        Reply(reply);
        return true;
    }

    private async ValueTask SkipBytesAsync(long count)
    {
        while (count > 0)
        {
            var result = await ReadAsync(DataReadTimeout());
            var take = Math.Min(count, result.Buffer.Length);
            _dataBytes += take;
            _input.AdvanceTo(result.Buffer.GetPosition(take));
            count -= take;
            if (count > 0 && result.IsCompleted)
            {
                throw new IOException("connection closed during BDAT");
            }
        }
    }

    private async ValueTask<SmtpReply?> CopyChunkAsync(IncomingMessage message, long count)
    {
        SmtpReply? failure = null;
        while (count > 0)
        {
            var result = await ReadAsync(DataReadTimeout());
            var chunk = result.Buffer.Slice(0, Math.Min(count, result.Buffer.Length));
            _chunkedSize += chunk.Length;
            _dataBytes += chunk.Length;
            if (_chunkedSize > Limits.MessageSize)
            {
                failure ??= SmtpReplies.MessageTooBig;
            }

            foreach (var segment in chunk)
            {
                if (failure is not null)
                {
                    break;
                }

                failure = await WriteContentAsync(message, segment);
            }

            count -= chunk.Length;
            _input.AdvanceTo(chunk.End);
            if (count > 0 && result.IsCompleted)
            {
                throw new IOException("connection closed during BDAT");
            }
        }

        return failure;
    }

    /// <summary>Opens a queue file for the current envelope and writes our Received header into it.</summary>
    private async ValueTask<(IncomingMessage? Message, SmtpReply? Failure)> CreateMessageAsync()
    {
        IncomingMessage? message = null;
        try
        {
            message = await _server.Store.CreateAsync(BuildEnvelope(), CancellationToken.None);
            var header = ReceivedHeader.Format(
                _heloName ?? string.Empty, _client.Address, _server.Options.Hostname, Protocol(), message.Id.Value,
                _recipients.Count == 1 ? _recipients[0].Address : null, _tls, _server.TimeProvider.GetUtcNow(),
                _policyContext.Iprev.ConfirmedName);
            await message.Content.WriteAsync(header);
            foreach (var field in _policyHeaders)
            {
                await message.Content.WriteAsync(Encoding.UTF8.GetBytes(field + "\r\n"));
            }

            BeginContent();
            return (message, null);
        }
        catch (Exception exception) when (IsStorageFailure(exception))
        {
            if (message is not null)
            {
                await message.DisposeAsync();
            }

            LogStorageError(Logger, "NOQUEUE", exception.Message);
            return (null, StorageFailure(exception));
        }
    }

    /// <summary>Commits the message (it is durable when this returns 250) or discards it.</summary>
    private async ValueTask<SmtpReply> FinishMessageAsync(IncomingMessage message, long size, SmtpReply? failure)
    {
        failure ??= await FinishHeaderAsync(message);
        _header = null;
        failure ??= await CleanupMessageAsync(message);
        var recipients = _recipients.Count;
        var sender = _reversePath.Address;
        DiscardTransaction();
        _state = SessionState.Ready;
        if (failure is not null)
        {
            LogMessageRejected(Logger, message.Id.Value, _clientText, failure.Code, failure.Status?.ToString(), failure.Text, sender);
            return failure;
        }

        try
        {
            await message.CommitAsync(CancellationToken.None);
        }
        catch (Exception exception) when (IsStorageFailure(exception))
        {
            LogStorageError(Logger, message.Id.Value, exception.Message);
            return StorageFailure(exception);
        }

        LogQueued(Logger, message.Id.Value, _clientText, sender, size, recipients);
        _server.OnCommitted(message.Id);
        return new SmtpReply(250, EnhancedStatusCode.Ok, "Ok: queued as " + message.Id.Value);
    }

    /// <summary>
    /// Any failure of the store, expected (I/O) or not (permissions, a bug): the sender must retry,
    /// so it becomes a 4xx instead of ending the session without a reply. Cancellation is not one.
    /// </summary>
    private static bool IsStorageFailure(Exception exception) => exception is not OperationCanceledException;

    /// <summary>A full disk is 452 4.3.1, any other storage problem 451 4.3.0; never a 5xx (DESIGN.md).</summary>
    private static SmtpReply StorageFailure(Exception exception) =>
        exception.HResult == 28 || exception.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
            ? SmtpReplies.InsufficientStorage
            : SmtpReplies.LocalError;

    private Envelope BuildEnvelope() => new()
    {
        ReversePath = _reversePath.Address,
        Recipients = [.. _recipients],
        ArrivalTime = _server.TimeProvider.GetUtcNow(),
        Body = _mailParameters.Body switch
        {
            MailBodyType.EightBitMime => BodyType.EightBitMime,
            MailBodyType.BinaryMime => BodyType.BinaryMime,
            _ => BodyType.SevenBit,
        },
        SmtpUtf8 = _mailParameters.SmtpUtf8,
        EnvelopeId = _mailParameters.EnvelopeId,
        Return = (DsnReturn)(int)_mailParameters.Return,
        ClientAddress = _client.Address.ToString(),
        HeloName = _heloName,
        AuthenticatedUser = _authenticatedUser,
    };

    /// <summary>The RFC 3848 / RFC 6531 §3.7.3 protocol type for the Received header's "with" clause.</summary>
    private string Protocol()
    {
        if (!_extended)
        {
            return "SMTP";
        }

        // RFC 3848 §2: "S" for TLS, "A" for an authenticated client (ESMTPSA); RFC 6531 §3.7.4: UTF8SMTPSA.
        var name = _mailParameters.SmtpUtf8 ? "UTF8SMTP" : "ESMTP";
        return name + (_tls is null ? "" : "S") + (_authenticatedUser is null ? "" : "A");
    }

    private async ValueTask<bool> StartTlsCommandAsync(bool argumentsEmpty)
    {
        if (_tls is not null)
        {
            Reply(SmtpReplies.AlreadyTls);
            return true;
        }

        if (!argumentsEmpty)
        {
            Reply(SmtpReplies.NoArguments);
            return true;
        }

        if (_server.Certificates is null)
        {
            Reply(SmtpReplies.TlsUnavailable);
            return true;
        }

        Reply(SmtpReplies.ReadyToStartTls);
        StartTimer(Limits.CommandTimeout);
        await FlushAsync(_timeout.Token);
        StopTimer();

        // CVE-2011-0411: commands pipelined after STARTTLS arrived in plaintext and must not be
        // executed inside the TLS session. Drop whatever is buffered now.
        if (_input.TryRead(out var pending))
        {
            if (!pending.Buffer.IsEmpty)
            {
                LogDiscardedAfterStartTls(Logger, _clientText, pending.Buffer.Length);
            }

            _input.AdvanceTo(pending.Buffer.End);
        }

        if (!await StartTlsAsync())
        {
            return false;
        }

        // RFC 3207 §4.2: forget everything learned before TLS; the client must EHLO again.
        DiscardTransaction();
        _heloName = null;
        _authenticatedUser = null;
        _policyContext.IsAuthenticated = false;
        _state = SessionState.Connected;
        return true;
    }

    private async ValueTask<bool> StartTlsAsync()
    {
        if (_server.Certificates is null)
        {
            LogTlsUnavailable(Logger, _clientText);
            return false;
        }

        var tls = new SslStream(new DuplexPipeStream(_transport.Input, _transport.Output), leaveInnerStreamOpen: false);
        try
        {
            StartTimer(Limits.TlsHandshakeTimeout);
            await tls.AuthenticateAsServerAsync(_server.Certificates.CreateAuthenticationOptions(), _timeout.Token);
            StopTimer();
        }
        catch (Exception exception) when (exception is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException)
        {
            LogTlsFailed(Logger, _clientText, exception.Message);
            await tls.DisposeAsync();
            return false;
        }

        _tls = tls;
        _input = PipeReader.Create(tls, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true));
        _output = PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true));
        LogTlsEstablished(Logger, _clientText, tls.SslProtocol, tls.NegotiatedCipherSuite);
        return true;
    }

    private async ValueTask AbortTransactionAsync()
    {
        if (_chunkedMessage is not null)
        {
            await _chunkedMessage.DisposeAsync();
            _chunkedMessage = null;
        }

        DiscardTransaction();
    }

    private void DiscardTransaction()
    {
        _reversePath = SmtpPath.Null;
        _mailParameters = default;
        _recipients.Clear();
        _policyHeaders.Clear();
        _rejectedRecipients = 0;
    }

    private void Reply(SmtpReply reply)
    {
        if (reply.Code >= 400)
        {
            _errors++;
        }

        _output.Write(reply.Wire);
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        var result = await _output.FlushAsync(cancellationToken);
        if (result.IsCanceled || result.IsCompleted)
        {
            throw new IOException("connection closed");
        }
    }

    private async ValueTask TryFlushAsync()
    {
        // The stage timer may have fired already; the last reply gets its own bound.
        using var timeout = new CancellationTokenSource(Limits.CommandTimeout, _server.TimeProvider);
        try
        {
            await _output.FlushAsync(timeout.Token);
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The peer is gone; the final reply cannot be delivered.
        }
    }

    private readonly record struct CommandLine(SmtpCommand Command, int Length);

    /// <summary>Per-command counts for the disconnect line, as Postfix logs them.</summary>
    private sealed class SessionCounters
    {
        private readonly int[] _counts = new int[Enum.GetValues<SmtpVerb>().Length];

        public void Count(SmtpVerb verb) => _counts[(int)verb]++;

        public override string ToString()
        {
            var builder = new StringBuilder();
            var total = 0;
            for (var i = 0; i < _counts.Length; i++)
            {
                if (_counts[i] > 0)
                {
                    builder.Append(((SmtpVerb)i).ToString().ToLowerInvariant()).Append('=').Append(_counts[i]).Append(' ');
                    total += _counts[i];
                }
            }

            return builder.Append("commands=").Append(total).ToString();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "connect from {Client} ({Role})")]
    private static partial void LogConnect(ILogger logger, string client, SmtpListenerRole role);

    [LoggerMessage(Level = LogLevel.Information, Message = "disconnect from {Client} {Commands}")]
    private static partial void LogDisconnect(ILogger logger, string client, string commands);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: client={Client}, from=<{Sender}>, size={Size}, nrcpt={Recipients} (queued)")]
    private static partial void LogQueued(ILogger logger, string queueId, string client, string sender, long size, int recipients);

    [LoggerMessage(Level = LogLevel.Information, Message = "NOQUEUE: reject: RCPT from {Client}: {Code} {Status} {Text}; from=<{Sender}> to=<{Recipient}>")]
    private static partial void LogRecipientRejected(ILogger logger, string client, int code, string? status, string text, string sender, string recipient);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: reject: DATA from {Client}: {Code} {Status} {Text}; from=<{Sender}>")]
    private static partial void LogMessageRejected(ILogger logger, string queueId, string client, int code, string? status, string text, string sender);

    [LoggerMessage(Level = LogLevel.Error, Message = "{QueueId}: queue file write error: {Reason}")]
    private static partial void LogStorageError(ILogger logger, string queueId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "timeout after {State} from {Client}")]
    private static partial void LogTimeout(ILogger logger, string client, SessionState state);

    [LoggerMessage(Level = LogLevel.Information, Message = "too many errors ({Errors}) from {Client}")]
    private static partial void LogTooManyErrors(ILogger logger, string client, int errors);

    [LoggerMessage(Level = LogLevel.Information, Message = "lost connection with {Client}: {Reason}")]
    private static partial void LogConnectionLost(ILogger logger, string client, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "TLS established with {Client}: {Protocol} with cipher {Cipher}")]
    private static partial void LogTlsEstablished(ILogger logger, string client, System.Security.Authentication.SslProtocols protocol, TlsCipherSuite cipher);

    [LoggerMessage(Level = LogLevel.Information, Message = "TLS handshake with {Client} failed: {Reason}")]
    private static partial void LogTlsFailed(ILogger logger, string client, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "TLS requested by {Client} but no certificate is available")]
    private static partial void LogTlsUnavailable(ILogger logger, string client);

    [LoggerMessage(Level = LogLevel.Warning, Message = "discarded {Count} bytes pipelined after STARTTLS from {Client}")]
    private static partial void LogDiscardedAfterStartTls(ILogger logger, string client, long count);
}

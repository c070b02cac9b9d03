using Mailroom.Protocol;
using Mailroom.Server.Policy;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>
/// The session's side of the policy checks (issue 5; README.md "## Policy"): one
/// <see cref="SmtpPolicyContext"/> per connection, the connect and pregreet stages before the
/// greeting, the RCPT decision with its tarpit delay, and the minimum data rate during DATA/BDAT.
/// </summary>
internal sealed partial class SmtpSession
{
    // RFC 3463 §3.5 X.4.2 "Bad connection" (Postfix answers a DATA deadline with 421 4.4.2).
    private static readonly SmtpReply DataRateTooLow = new(421, EnhancedStatusCode.TemporaryTimeout, "Error: data rate too low");

    // The minimum data rate (Postfix smtpd_per_request_deadline with smtpd_min_data_rate): the
    // current DATA/BDAT command must end before _dataStart + grace + bytes / rate.
    private DateTimeOffset? _dataStart;
    private long _dataBytes;
    private bool _dataDeadlineArmed;

    private SmtpPolicy? Policy => _server.Policy;

    /// <summary>
    /// Before the greeting: the connect checks (limits, cool-down, reverse DNS, DNSBL) and, at the
    /// same time, the pregreet wait. False when the connection is to be closed (the refusal has
    /// been written, except on submissions, where TLS comes first and a plaintext reply is no use).
    /// </summary>
    private async ValueTask<bool> PolicyConnectAsync()
    {
        if (Policy is not { } policy)
        {
            return true;
        }

        StartTimer(Limits.CommandTimeout);
        var connecting = policy.OnConnectAsync(_policyContext, _timeout.Token).AsTask();
        var talkedFirst = false;
        if (!connecting.IsCompleted || !connecting.Result.ClosesConnection)
        {
            // Implicit TLS (465): the client speaks first by design, so there is no pregreet test.
            var wait = _listener.Role == SmtpListenerRole.Submissions ? TimeSpan.Zero : policy.PregreetWait(_policyContext);
            talkedFirst = await ClientTalksFirstAsync(wait);
        }

        var decision = await connecting;
        StopTimer();
        if (!decision.ClosesConnection)
        {
            decision = policy.OnPregreet(_policyContext, talkedFirst);
        }

        if (!decision.ClosesConnection)
        {
            return true;
        }

        LogPolicyRefusal(Logger, "CONNECT", _clientText, decision.Reply!.Code, decision.Reply.Status?.ToString(), decision.Reply.Text, decision.Reason);
        if (_listener.Role != SmtpListenerRole.Submissions)
        {
            Reply(decision.Reply);
        }

        return false;
    }

    /// <summary>
    /// postscreen's pregreet test: listens for <paramref name="wait"/> (on the server's clock)
    /// before the greeting. Whatever arrives stays unread in the pipe (examined, not consumed).
    /// </summary>
    private async ValueTask<bool> ClientTalksFirstAsync(TimeSpan wait)
    {
        if (wait <= TimeSpan.Zero)
        {
            return false;
        }

        using var waiting = new CancellationTokenSource(wait, _server.TimeProvider);
        using var registration = _shutdown.Register(static state => ((CancellationTokenSource)state!).Cancel(), waiting);
        try
        {
            var result = await _input.ReadAsync(waiting.Token);
            var talked = !result.Buffer.IsEmpty;
            _input.AdvanceTo(result.Buffer.Start, result.Buffer.Start);
            return talked;
        }
        catch (OperationCanceledException) when (!_shutdown.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Applies a RCPT decision (the policy's, or the session's own refusal passed through
    /// <see cref="SmtpPolicy.RecipientRejected"/>): the tarpit delay after the pending replies
    /// have gone out, then the reply. False when the connection is to be closed.
    /// </summary>
    private async ValueTask<bool> ReplyAfterDelayAsync(PolicyDecision decision, SmtpReply reply)
    {
        if (decision.Delay > TimeSpan.Zero)
        {
            // The delay is for the client: flush what it is owed already, then wait on our clock.
            StartTimer(Limits.CommandTimeout);
            await FlushAsync(_timeout.Token);
            StopTimer();
            await Task.Delay(decision.Delay, _server.TimeProvider, _shutdown);
        }

        Reply(reply);
        return !decision.ClosesConnection;
    }

    /// <summary>The DATA / first BDAT stage of the policy; null to go on, else the refusal (already logged by the policy).</summary>
    private async ValueTask<SmtpReply?> PolicyDataAsync()
    {
        if (Policy is not { } policy)
        {
            return null;
        }

        var decision = await policy.OnDataAsync(_policyContext, _shutdown);
        if (decision.IsAccepted)
        {
            _policyHeaders.AddRange(decision.Headers);
            return null;
        }

        return decision.Reply;
    }

    /// <summary>Starts the data-rate deadline of one DATA or BDAT command.</summary>
    private void BeginDataDeadline()
    {
        _dataStart = Limits.MinimumDataRate > 0 ? _server.TimeProvider.GetUtcNow() : null;
        _dataBytes = 0;
    }

    private void EndDataDeadline() => _dataStart = null;

    /// <summary>
    /// The read timeout during DATA/BDAT: the stage timeout, or less when the data-rate deadline
    /// comes first (Postfix smtpd_per_request_deadline: the deadline starts at the stage timeout and
    /// grows by bytes / smtpd_min_data_rate).
    /// </summary>
    private TimeSpan DataReadTimeout()
    {
        _dataDeadlineArmed = false;
        if (_dataStart is not { } start)
        {
            return Limits.DataTimeout;
        }

        var deadline = start + Limits.DataRateGrace + TimeSpan.FromSeconds((double)_dataBytes / Limits.MinimumDataRate);
        var left = deadline - _server.TimeProvider.GetUtcNow();
        if (left >= Limits.DataTimeout)
        {
            return Limits.DataTimeout;
        }

        _dataDeadlineArmed = true;
        if (left <= TimeSpan.Zero)
        {
            throw new OperationCanceledException("data rate too low");
        }

        return left;
    }

    /// <summary>The reply to a timeout: the data-rate deadline's own, or the stage timeout's.</summary>
    private SmtpReply TimeoutReply()
    {
        if (_dataDeadlineArmed && _dataStart is { } start)
        {
            LogDataRateTooLow(Logger, _clientText, _dataBytes, (_server.TimeProvider.GetUtcNow() - start).TotalSeconds, Limits.MinimumDataRate);
            return DataRateTooLow;
        }

        LogTimeout(Logger, _clientText, _state);
        return SmtpReplies.Timeout;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "NOQUEUE: reject: {Stage} from {Client}: {Code} {Status} {Text}; {Reason}")]
    private static partial void LogPolicyRefusal(ILogger logger, string stage, string client, int code, string? status, string text, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "data rate too low from {Client}: {Bytes} bytes in {Seconds:0.0} s (minimum {Rate} bytes/s after the grace period)")]
    private static partial void LogDataRateTooLow(ILogger logger, string client, long bytes, double seconds, int rate);
}

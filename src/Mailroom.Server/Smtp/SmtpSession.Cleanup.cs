using System.Text;
using Mailroom.Authentication.Results;
using Mailroom.Authentication.Spf;
using Mailroom.Protocol;
using Mailroom.Queue;
using Mailroom.Server.Policy;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>
/// The cleanup checks in the session (issue 6): SPF at MAIL FROM and, at the end of the data,
/// DKIM and DMARC for mail from outside, or a DKIM signature for our own mail. The results go
/// into the message's annotations (headers written before it at delivery) or refuse it.
/// </summary>
internal sealed partial class SmtpSession
{
    private SpfCheckResult? _spfResult;

    /// <summary>Mail from outside: an smtp listener, neither authenticated nor from a trusted network.</summary>
    private bool IsInbound => _listener.Role == SmtpListenerRole.Smtp && _authenticatedUser is null && !IsTrustedClient();

    /// <summary>SPF for the MAIL FROM identity; a refusal per policy, or null.</summary>
    private async ValueTask<SmtpReply?> CheckSenderAsync(SmtpPath reversePath)
    {
        _spfResult = null;
        if (_server.Cleanup is not { } cleanup || !IsInbound)
        {
            return null;
        }

        try
        {
            var (result, refusal) = await cleanup.CheckSenderAsync(_client.Address, reversePath.Address, _heloName ?? string.Empty, _shutdown);
            _spfResult = result;
            return refusal;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // DESIGN.md: an internal error is a 4xx, so that the sender retries.
            LogCleanupFailed(Logger, "NOQUEUE", _clientText, exception.Message);
            return SmtpReplies.LocalError;
        }
    }

    /// <summary>The end-of-data checks on the stored message: sets its annotations, or returns the refusal.</summary>
    private async ValueTask<SmtpReply?> CleanupMessageAsync(IncomingMessage message)
    {
        if (_server.Cleanup is not { } cleanup)
        {
            return null;
        }

        var inbound = IsInbound;
        try
        {
            await using var content = await message.OpenWrittenContentAsync(_shutdown);
            var result = inbound
                ? await cleanup.CheckInboundAsync(content, content.Length, _spfResult, IprevResult(), _shutdown)
                : await cleanup.SignAsync(content, content.Length, _shutdown);
            if (result.Refusal is not null)
            {
                return result.Refusal;
            }

            message.Annotations = new MessageAnnotations(result.Headers, result.QuarantineReason);
            return null;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogCleanupFailed(Logger, message.Id.Value, _clientText, exception.Message);
            return SmtpReplies.LocalError;
        }
    }

    /// <summary>The iprev result of the connect-time policy check, for Authentication-Results; null when it did not run.</summary>
    private AuthenticationResult? IprevResult()
    {
        var iprev = _policyContext.Iprev;
        return iprev.Status == IprevStatus.None
            ? null
            : AuthenticationResultsHeader.Iprev(iprev.Status.ToString().ToLowerInvariant(), _client.Address, iprev.ConfirmedName);
    }

    /// <summary>
    /// RFC 8601 §5: an Authentication-Results field in the message that claims our authserv-id was
    /// not written by us; it is dropped from the held-back header block before it is stored.
    /// </summary>
    private ReadOnlyMemory<byte> StripForgedResults(ReadOnlyMemory<byte> header)
    {
        var text = header.Span;
        var kept = new MemoryStream(text.Length);
        var dropped = 0;
        var position = 0;
        while (position < text.Length)
        {
            // One field: its first line and the continuation lines that start with white space.
            var end = position;
            do
            {
                var newline = text[end..].IndexOf((byte)'\n');
                end = newline < 0 ? text.Length : end + newline + 1;
            }
            while (end < text.Length && text[end] is (byte)' ' or (byte)'\t');

            var field = text[position..end];
            var colon = field.IndexOf((byte)':');
            if (colon > 0
                && Ascii.EqualsIgnoreCase(field[..colon].TrimEnd((byte)' '), Encoding.ASCII.GetBytes(AuthenticationResultsHeader.Name))
                && AuthenticationResultsHeader.ClaimsAuthservId(field[(colon + 1)..], _server.Options.Hostname))
            {
                dropped++;
            }
            else
            {
                kept.Write(field);
            }

            position = end;
        }

        if (dropped == 0)
        {
            return header;
        }

        LogForgedResultsRemoved(Logger, _clientText, dropped);
        return kept.ToArray();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{QueueId}: message checks failed for {Client}: {Reason}")]
    private static partial void LogCleanupFailed(ILogger logger, string queueId, string client, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removed {Count} Authentication-Results header(s) from {Client} that claimed to be ours")]
    private static partial void LogForgedResultsRemoved(ILogger logger, string client, int count);
}

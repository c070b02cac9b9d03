using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Mailroom.Protocol;
using Mailroom.Queue;
using Mailroom.Server.Users;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>
/// What an authenticated session adds to a message (RFC 6409 §8): the header block is held back
/// (up to <see cref="SubmissionHeaders.MaxHeaderBlock"/>) until it is complete, the From addresses
/// are checked against the user, and Date and Message-ID are written after our Received header
/// when the message lacks them. Unauthenticated sessions stream as before.
/// </summary>
internal sealed partial class SmtpSession
{
    // The header block of the current message while it is held back; null when streaming.
    private ArrayBufferWriter<byte>? _header;
    private int _headerScanned;

    /// <summary>Called once the Received header is written: holds back the header block of a submission.</summary>
    private void BeginContent()
    {
        // Submissions are checked and completed; inbound mail loses forged Authentication-Results.
        _header = _authenticatedUser is not null || (_server.Cleanup is not null && IsInbound) ? new ArrayBufferWriter<byte>(4096) : null;
        _headerScanned = 0;
    }

    /// <summary>Adds content to the held-back header block; writes it out once its end (or the size limit) is reached.</summary>
    private async ValueTask<SmtpReply?> CollectHeaderAsync(IncomingMessage message, ReadOnlyMemory<byte> content)
    {
        var header = _header!;
        header.Write(content.Span);
        var end = SubmissionHeaders.FindEnd(header.WrittenSpan, _headerScanned);
        if (end >= 0)
        {
            return await ReleaseHeaderAsync(message, end);
        }

        if (header.WrittenCount > SubmissionHeaders.MaxHeaderBlock)
        {
            return await ReleaseHeaderAsync(message, -1);
        }

        _headerScanned = Math.Max(0, header.WrittenCount - 3);
        return null;
    }

    /// <summary>At the end of the data: a message without a body is all header.</summary>
    private ValueTask<SmtpReply?> FinishHeaderAsync(IncomingMessage message)
    {
        if (_header is null)
        {
            return ValueTask.FromResult<SmtpReply?>(null);
        }

        return _header.WrittenCount > SubmissionHeaders.MaxHeaderBlock
            ? ReleaseHeaderAsync(message, -1)
            : ReleaseHeaderAsync(message, _header.WrittenCount);
    }

    /// <summary>Checks the header block of <paramref name="length"/> bytes (-1: too large to examine), then writes the missing fields and the held-back bytes.</summary>
    private async ValueTask<SmtpReply?> ReleaseHeaderAsync(IncomingMessage message, int length)
    {
        var held = _header!;
        _header = null;
        if (_authenticatedUser is null)
        {
            // Inbound: nothing to check or add, only forged results to drop.
            var block = length < 0 ? held.WrittenMemory : held.WrittenMemory[..length];
            var failure = await WriteContentAsync(message, StripForgedResults(block));
            return failure ?? (length < 0 ? null : await WriteContentAsync(message, held.WrittenMemory[length..]));
        }

        var added = new StringBuilder();
        if (length < 0)
        {
            if (_server.Options.SenderCheck)
            {
                // The From field could hide beyond what we examine: refuse rather than let it pass unchecked.
                LogHeaderTooLarge(Logger, message.Id.Value, _clientText, SubmissionHeaders.MaxHeaderBlock);
                return SmtpServerReplies.HeaderTooLarge;
            }
        }
        else
        {
            var headers = SubmissionHeaders.Parse(held.WrittenSpan[..length]);
            foreach (var from in headers.FromFields)
            {
                var mailboxes = SubmissionHeaders.Mailboxes(from);
                var stranger = mailboxes is null ? Encoding.UTF8.GetString(from).Trim() : mailboxes.FirstOrDefault(address => !OwnsSender(address));
                if (stranger is not null)
                {
                    LogSenderNotOwned(Logger, message.Id.Value, _clientText, _authenticatedUser!, SaslPrintable(stranger), "From header");
                    return SmtpServerReplies.SenderNotOwned;
                }
            }

            if (!headers.HasDate)
            {
                // RFC 6409 §8.1: the MSA may add a missing Date.
                added.Append("Date: ").Append(ReceivedHeader.FormatDate(_server.TimeProvider.GetUtcNow())).Append("\r\n");
            }

            if (!headers.HasMessageId)
            {
                // RFC 6409 §8.3: the MSA may add a missing Message-ID; RFC 5322 §3.6.4 form, unique by queue ID and randomness.
                added.Append("Message-ID: <").Append(message.Id.Value).Append('.').Append(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)))
                    .Append('@').Append(_server.Options.Hostname).Append(">\r\n");
            }
        }

        if (added.Length > 0)
        {
            var failure = await WriteContentAsync(message, Encoding.ASCII.GetBytes(added.ToString()));
            if (failure is not null)
            {
                return failure;
            }
        }

        return await WriteContentAsync(message, held.WrittenMemory);
    }

    /// <summary>
    /// True when the authenticated user may use <paramref name="address"/> as a sender: its own
    /// address or one configured for it (an "@domain" entry covers the domain). Always true with the check off.
    /// </summary>
    private bool OwnsSender(string address)
    {
        var options = _server.Options;
        if (!options.SenderCheck || _authenticatedUser is not { } user)
        {
            return true;
        }

        if (SameAddress(address, user))
        {
            return true;
        }

        foreach (var (owner, addresses) in options.SenderAddresses)
        {
            if (!SameAddress(owner, user))
            {
                continue;
            }

            foreach (var allowed in addresses)
            {
                if (allowed.StartsWith('@') ? SameDomain(address, allowed[1..]) : SameAddress(address, allowed))
                {
                    return true;
                }
            }
        }

        return false;
    }

    // Case-insensitive on the whole address, as the users file and Postfix's lookups compare.
    private static bool SameAddress(string a, string b)
    {
        var left = AddressSyntax.TryNormalizeAddress(a, out var normalizedA) ? normalizedA : a;
        var right = AddressSyntax.TryNormalizeAddress(b, out var normalizedB) ? normalizedB : b;
        return string.Equals(left, right, StringComparison.OrdinalIgnoreCase);
    }

    private static bool SameDomain(string address, string domain)
    {
        var at = address.LastIndexOf('@');
        return at > 0 && AddressSyntax.TryNormalizeDomain(address[(at + 1)..], out var left) &&
            AddressSyntax.TryNormalizeDomain(domain, out var right) && left == right;
    }

    private static string SaslPrintable(string text) => Sasl.SaslAuthenticator.Printable(text);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Id}: reject: {Where} from {Client}: sender <{Sender}> not owned by sasl_username={User}")]
    private static partial void LogSenderNotOwned(ILogger logger, string id, string client, string user, string sender, string where);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: reject: header block from {Client} larger than {Limit} bytes, From cannot be checked")]
    private static partial void LogHeaderTooLarge(ILogger logger, string queueId, string client, int limit);
}

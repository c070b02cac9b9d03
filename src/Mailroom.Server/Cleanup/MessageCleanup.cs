using System.Net;
using System.Text;
using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Dmarc;
using Mailroom.Authentication.Results;
using Mailroom.Authentication.Spf;
using Mailroom.Protocol;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Mailroom.Server.Cleanup;

/// <summary>What an SPF Fail does at MAIL FROM.</summary>
public enum SpfFailAction
{
    /// <summary>550 5.7.23 (RFC 7372 §3.2); the default, as the issue asks.</summary>
    Reject,

    /// <summary>Accept and record the result in the headers only.</summary>
    Mark,

    /// <summary>Do not check SPF at all.</summary>
    Off,
}

/// <summary>How inbound mail is authenticated and our own mail signed (issue 6).</summary>
public sealed record CleanupOptions
{
    /// <summary>Our authserv-id in Authentication-Results and the receiver in Received-SPF.</summary>
    public required string Hostname { get; init; }

    public SpfFailAction SpfFail { get; init; } = SpfFailAction.Reject;

    /// <summary>Verify DKIM signatures and apply DMARC policies on inbound mail.</summary>
    public bool VerifyInbound { get; init; } = true;

    /// <summary>
    /// Messages larger than this are not DKIM-verified (reported as dkim=none with a reason): the
    /// verifier needs the whole message in memory. 10 MiB covers nearly all signed mail.
    /// </summary>
    public long MaxVerifiedSize { get; init; } = 10 * 1024 * 1024;
}

/// <summary>What happened at the end of DATA: accept (with headers to add), quarantine, or refuse.</summary>
public sealed record CleanupResult(SmtpReply? Refusal, string? QuarantineReason, IReadOnlyList<string> Headers)
{
    public static readonly CleanupResult Nothing = new(null, null, []);
}

/// <summary>
/// The cleanup room of DESIGN.md: SPF at MAIL FROM; at the end of DATA, DKIM verification and
/// DMARC (computed from the SPF and DKIM results already obtained, never verifying again) for
/// mail from outside, and DKIM signing for our own mail (authenticated or trusted clients).
/// Results become the Authentication-Results and Received-SPF headers, or a refusal; never an
/// exception: an internal error is a 451 (the sender retries).
/// </summary>
public sealed partial class MessageCleanup(
    CleanupOptions options,
    SpfEvaluator spf,
    DkimVerification dkim,
    DmarcEvaluator dmarc,
    DkimSigning? signing,
    ILogger<MessageCleanup> logger)
{
    // RFC 7372 §3.2: the SPF enhanced status codes.
    private static readonly SmtpReply SpfFailReply = new(550, new EnhancedStatusCode(5, 7, 23), "SPF validation failed");
    private static readonly SmtpReply SpfErrorReply = new(451, new EnhancedStatusCode(4, 7, 24), "SPF validation error, try again later");

    // RFC 7489 §7.3 / RFC 7372: DMARC rejection at the end of DATA.
    private static readonly SmtpReply DmarcReject = new(550, EnhancedStatusCode.DeliveryNotAuthorized, "Message rejected by DMARC policy of the From domain");
    private static readonly SmtpReply BadFrom = new(550, EnhancedStatusCode.DeliveryNotAuthorized, "Message must have exactly one From address");

    // RFC 8601 §5: a forged result that could not be removed (see ClaimsOurResults).
    private static readonly SmtpReply ForgedResults = new(550, EnhancedStatusCode.DeliveryNotAuthorized, "Message carries Authentication-Results it should not");

    public CleanupOptions Options => options;

    /// <summary>SPF for the MAIL FROM identity (the HELO identity for &lt;&gt;): the result, and the refusal per policy.</summary>
    public async ValueTask<(SpfCheckResult? Result, SmtpReply? Refusal)> CheckSenderAsync(IPAddress client, string reversePath, string helo, CancellationToken cancellationToken)
    {
        if (options.SpfFail == SpfFailAction.Off)
        {
            return (null, null);
        }

        var result = await spf.CheckMailFromAsync(client, reversePath, helo, cancellationToken).ConfigureAwait(false);
        LogSpf(logger, client.ToString(), reversePath, result.Result, result.Problem ?? result.Mechanism ?? string.Empty);
        var refusal = result.Result switch
        {
            SpfResult.Fail when options.SpfFail == SpfFailAction.Reject => SpfFailReply,
            SpfResult.TempError => SpfErrorReply,
            _ => null,
        };
        return (result, refusal);
    }

    /// <summary>
    /// The end of DATA for mail from outside: DKIM, DMARC and the trace headers. The content is the
    /// message as stored (our Received header first).
    /// </summary>
    public async ValueTask<CleanupResult> CheckInboundAsync(Stream content, long size, SpfCheckResult? spfResult, AuthenticationResult? iprev, CancellationToken cancellationToken)
    {
        var headers = new List<string>();
        if (!options.VerifyInbound)
        {
            if (ClaimsOurResults(await HeaderList.LoadAsync(ParserOptions.Default, content, cancellationToken).ConfigureAwait(false)))
            {
                return new CleanupResult(ForgedResults, null, headers);
            }

            if (iprev is null && spfResult is null)
            {
                return CleanupResult.Nothing; // nothing was checked: no header claims otherwise
            }

            headers.Add(AuthenticationResultsHeader.Compose(options.Hostname, iprev, spfResult, null, null));
            AddReceivedSpf(headers, spfResult);
            return new CleanupResult(null, null, headers);
        }

        IReadOnlyList<DkimSignatureResult> signatures;
        byte[]? bytes = null;
        if (size <= options.MaxVerifiedSize)
        {
            bytes = new byte[size];
            await content.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            signatures = await dkim.VerifyAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            signatures = [DkimVerification.NoSignature with { Reason = "message too large to verify" }];
        }

        var message = bytes is not null
            ? await MimeMessage.LoadAsync(new MemoryStream(bytes, writable: false), cancellationToken).ConfigureAwait(false)
            : await MimeMessage.LoadAsync(content, cancellationToken).ConfigureAwait(false);
        if (ClaimsOurResults(message.Headers))
        {
            return new CleanupResult(ForgedResults, null, headers);
        }

        var dmarcResult = await dmarc.CheckAsync(message.Headers, spfResult, signatures, cancellationToken).ConfigureAwait(false);
        LogDmarc(logger, dmarcResult.FromDomain ?? "?", dmarcResult.Result, dmarcResult.Disposition, dmarcResult.Problem ?? string.Empty);

        headers.Add(AuthenticationResultsHeader.Compose(options.Hostname, iprev, spfResult, signatures, dmarcResult));
        AddReceivedSpf(headers, spfResult);
        if (dmarcResult.InvalidFrom)
        {
            return new CleanupResult(BadFrom, null, headers);
        }

        return dmarcResult.Disposition switch
        {
            DmarcDisposition.Reject => new CleanupResult(DmarcReject, null, headers),
            DmarcDisposition.Quarantine => new CleanupResult(null, $"DMARC policy of {dmarcResult.FromDomain}: quarantine", headers),
            _ => new CleanupResult(null, null, headers),
        };
    }

    /// <summary>
    /// The end of DATA for our own mail (authenticated or trusted client): a DKIM signature for
    /// each key of the From domain (RFC 6376 §5: the signer is the author's domain).
    /// </summary>
    public async ValueTask<CleanupResult> SignAsync(Stream content, long size, CancellationToken cancellationToken)
    {
        if (signing is null)
        {
            return CleanupResult.Nothing;
        }

        var message = await MimeMessage.LoadAsync(ParserOptions.Default, content, persistent: content.CanSeek, cancellationToken).ConfigureAwait(false);
        if (message.From.Mailboxes.SingleOrDefault() is not { } from)
        {
            return CleanupResult.Nothing;
        }

        var domain = from.Domain.ToLowerInvariant();
        var before = message.Headers.Count;
        var count = signing.Sign(message, domain);
        if (count == 0)
        {
            return CleanupResult.Nothing;
        }

        // Sign() put the new DKIM-Signature fields on top; they are prepended to the stored bytes.
        var headers = new List<string>(count);
        for (var i = 0; i < message.Headers.Count - before; i++)
        {
            var header = message.Headers[i];
            headers.Add(header.Field + ":" + Encoding.ASCII.GetString(header.RawValue).TrimEnd('\r', '\n') + "\r\n");
        }

        LogSigned(logger, domain, count, size);
        return new CleanupResult(null, null, headers);
    }

    /// <summary>
    /// True when the stored message still has an Authentication-Results field with our authserv-id.
    /// The session removes them from the header block it holds back (64 KiB), but a field past that
    /// was streamed to the store as it came; it cannot be cut out of the stored bytes any more (the
    /// annotations only add headers above them), and delivering it would show the forgery as our
    /// verdict (RFC 8601 §5), so the message is refused instead.
    /// </summary>
    private bool ClaimsOurResults(HeaderList headers)
    {
        var forged = headers.Count(header =>
            header.Field.Equals(AuthenticationResultsHeader.Name, StringComparison.OrdinalIgnoreCase)
            && AuthenticationResultsHeader.ClaimsAuthservId(header.RawValue, options.Hostname));
        if (forged > 0)
        {
            LogForgedResultsKept(logger, forged);
        }

        return forged > 0;
    }

    private void AddReceivedSpf(List<string> headers, SpfCheckResult? spfResult)
    {
        if (spfResult is not null)
        {
            headers.Add(SpfHeaders.ReceivedSpf(spfResult, options.Hostname));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SPF for [{Client}] sending as <{Sender}>: {Result} {Detail}")]
    private static partial void LogSpf(ILogger logger, string client, string sender, SpfResult result, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "DMARC for {Domain}: {Result}, disposition {Disposition} {Problem}")]
    private static partial void LogDmarc(ILogger logger, string domain, DmarcResult result, DmarcDisposition disposition, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "refused: {Count} Authentication-Results header(s) claiming to be ours beyond the examined header block")]
    private static partial void LogForgedResultsKept(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "DKIM: signed for {Domain} with {Count} key(s), {Size} bytes")]
    private static partial void LogSigned(ILogger logger, string domain, int count, long size);
}

using System.Text;
using Mailroom.Protocol;

namespace Mailroom.Delivery.Remote;

/// <summary>What one recipient's delivery attempt came to.</summary>
public enum DeliveryOutcome
{
    /// <summary>2xx: the server took responsibility.</summary>
    Delivered,

    /// <summary>4xx: try again later.</summary>
    Deferred,

    /// <summary>5xx: bounce.</summary>
    Failed,
}

/// <summary>
/// A reply received from a remote server, or made up by the client for something that happened
/// locally (a lost connection, a timeout, a message the peer cannot take). <see cref="IsLocal"/>
/// tells them apart: only a remote reply is quoted in a DSN's Diagnostic-Code (RFC 3464 §2.3.6).
/// </summary>
public sealed record SmtpReplyInfo(int Code, EnhancedStatusCode? Status, IReadOnlyList<string> Lines, bool IsLocal = false)
{
    /// <summary>The text of every line joined with a space (without the enhanced status code).</summary>
    public string Text => string.Join(' ', Lines);

    public bool IsPositive => Code is >= 200 and < 400;

    public bool IsTransientFailure => Code is >= 400 and < 500;

    public bool IsPermanentFailure => Code >= 500;

    public DeliveryOutcome Outcome => Code switch
    {
        < 400 => DeliveryOutcome.Delivered,
        < 500 => DeliveryOutcome.Deferred,
        _ => DeliveryOutcome.Failed,
    };

    /// <summary>RFC 3464 §2.3.6 Diagnostic-Code for a remote reply ("smtp; 550 5.1.1 user unknown"); null for a local one.</summary>
    public string? DiagnosticCode => IsLocal ? null : "smtp; " + ToString();

    public static SmtpReplyInfo Local(int code, EnhancedStatusCode status, string text) => new(code, status, [text], IsLocal: true);

    public override string ToString()
    {
        var builder = new StringBuilder().Append(Code);
        if (Status is { } status)
        {
            builder.Append(' ').Append(status.ToString());
        }

        return builder.Append(' ').Append(Text).ToString();
    }
}

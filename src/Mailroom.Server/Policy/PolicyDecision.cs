using Mailroom.Protocol;

namespace Mailroom.Server.Policy;

/// <summary>What a policy decision asks the session to do.</summary>
public enum PolicyAction
{
    /// <summary>Go on (the session sends its own positive reply).</summary>
    Accept,

    /// <summary>Refuse this command with a 4xx reply; the client may retry later.</summary>
    Defer,

    /// <summary>Refuse this command with a 5xx reply.</summary>
    Reject,

    /// <summary>Accept the message but hold it for review (the reply is the session's 250).</summary>
    Quarantine,

    /// <summary>Send <see cref="PolicyDecision.Reply"/> and close the connection (421, or a refusal at connect).</summary>
    Disconnect,
}

/// <summary>
/// The outcome of a policy check (DESIGN.md: outcomes are values, never exceptions): what to do,
/// the exact reply for the peer, the reason for the log (never sent to the peer), headers to add
/// to the message, and how long to wait before replying (the harvesting tarpit).
/// </summary>
public sealed class PolicyDecision
{
    private PolicyDecision(PolicyAction action, SmtpReply? reply, string reason, IReadOnlyList<string> headers, TimeSpan delay)
    {
        Action = action;
        Reply = reply;
        Reason = reason;
        Headers = headers;
        Delay = delay;
    }

    /// <summary>Accept, nothing to add.</summary>
    public static PolicyDecision Accept { get; } = new(PolicyAction.Accept, null, "", [], TimeSpan.Zero);

    public PolicyAction Action { get; }

    /// <summary>The reply to send instead of the session's own; null for <see cref="PolicyAction.Accept"/> and <see cref="PolicyAction.Quarantine"/>.</summary>
    public SmtpReply? Reply { get; }

    /// <summary>Why, for the log line (the reply text stays short and generic).</summary>
    public string Reason { get; }

    /// <summary>Complete header fields ("Name: value", no CRLF) for cleanup to add to the message.</summary>
    public IReadOnlyList<string> Headers { get; }

    /// <summary>How long the session waits (on its TimeProvider) before it sends the reply; zero mostly.</summary>
    public TimeSpan Delay { get; }

    public bool IsAccepted => Action is PolicyAction.Accept or PolicyAction.Quarantine;

    /// <summary>The session must close the connection after sending <see cref="Reply"/>.</summary>
    public bool ClosesConnection => Action == PolicyAction.Disconnect;

    public static PolicyDecision AcceptWith(IReadOnlyList<string> headers, TimeSpan delay = default, string reason = "")
        => headers.Count == 0 && delay == TimeSpan.Zero && reason.Length == 0 ? Accept : new(PolicyAction.Accept, null, reason, headers, delay);

    /// <summary>A 4xx refusal of this command.</summary>
    public static PolicyDecision Defer(SmtpReply reply, string reason, TimeSpan delay = default)
    {
        RequireCode(reply, transient: true);
        return new(PolicyAction.Defer, reply, reason, [], delay);
    }

    /// <summary>A 5xx refusal of this command.</summary>
    public static PolicyDecision Reject(SmtpReply reply, string reason, TimeSpan delay = default)
    {
        RequireCode(reply, transient: false);
        return new(PolicyAction.Reject, reply, reason, [], delay);
    }

    /// <summary>Accept and hold for review, with a header saying why.</summary>
    public static PolicyDecision Quarantine(string reason, IReadOnlyList<string> headers)
        => new(PolicyAction.Quarantine, null, reason, headers, TimeSpan.Zero);

    /// <summary>Send <paramref name="reply"/> (421, or a 5xx at connect) and close the connection.</summary>
    public static PolicyDecision Disconnect(SmtpReply reply, string reason, TimeSpan delay = default)
    {
        if (reply.IsPositive)
        {
            throw new ArgumentException("A disconnect needs a 4xx or 5xx reply.", nameof(reply));
        }

        return new(PolicyAction.Disconnect, reply, reason, [], delay);
    }

    public override string ToString() => Reply is null ? $"{Action}" : $"{Action} {Reply} ({Reason})";

    private static void RequireCode(SmtpReply reply, bool transient)
    {
        if (transient ? !reply.IsTransientFailure : !reply.IsPermanentFailure)
        {
            throw new ArgumentException($"A {(transient ? "deferral needs a 4xx" : "rejection needs a 5xx")} reply, got {reply.Code}.", nameof(reply));
        }
    }
}

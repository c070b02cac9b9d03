namespace Mailroom.Queue;

/// <summary>RFC 3461 §4.1 NOTIFY values; None means the parameter was absent (the MTA's default applies).</summary>
[Flags]
public enum DsnNotify
{
    None = 0,
    Never = 1,
    Success = 2,
    Failure = 4,
    Delay = 8,
}

/// <summary>RFC 3461 §4.3 RET: how much of the message a failure report returns.</summary>
public enum DsnReturn
{
    Unspecified,
    Full,
    Headers,
}

/// <summary>The BODY parameter of MAIL (RFC 6152, RFC 3030).</summary>
public enum BodyType
{
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// <summary>Where one recipient stands. Only Delivered and Failed are final.</summary>
public enum RecipientStatus
{
    Pending,
    Delivered,
    Failed,
}

/// <summary>One forward path of the envelope, after alias resolution at RCPT time.</summary>
public sealed record EnvelopeRecipient
{
    /// <summary>The address delivery goes to (after alias expansion), e.g. "alice@example.com".</summary>
    public required string Address { get; init; }

    /// <summary>For a local recipient: the mailbox folder relative to {data_dir}/mail, e.g. "example.com/alice"; null when not local.</summary>
    public string? LocalMailbox { get; init; }

    /// <summary>RFC 3461 ORCPT as given ("rfc822;bob@example.org"), or the address the client named when an alias rewrote it.</summary>
    public string? OriginalRecipient { get; init; }

    public DsnNotify Notify { get; init; }
}

/// <summary>The envelope of one queued message: everything the receiving side learned before the content.</summary>
public sealed record Envelope
{
    /// <summary>The reverse path without angle brackets; empty for the null sender &lt;&gt;.</summary>
    public required string ReversePath { get; init; }

    public required IReadOnlyList<EnvelopeRecipient> Recipients { get; init; }

    public required DateTimeOffset ArrivalTime { get; init; }

    public BodyType Body { get; init; }

    /// <summary>RFC 6531 SMTPUTF8 was given on MAIL.</summary>
    public bool SmtpUtf8 { get; init; }

    /// <summary>RFC 3461 ENVID, decoded from xtext.</summary>
    public string? EnvelopeId { get; init; }

    public DsnReturn Return { get; init; }

    /// <summary>The client's IP address, for logs and reports.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>The name the client gave in HELO/EHLO.</summary>
    public string? HeloName { get; init; }

    /// <summary>The authenticated user (SMTP AUTH), if any.</summary>
    public string? AuthenticatedUser { get; init; }
}

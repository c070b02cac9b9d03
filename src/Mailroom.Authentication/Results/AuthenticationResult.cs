namespace Mailroom.Authentication.Results;

/// <summary>A property of a result, e.g. smtp.mailfrom=user@example.com or header.d=example.com (RFC 8601 §2.3).</summary>
public sealed record AuthenticationProperty(string Type, string Name, string Value);

/// <summary>
/// One resinfo of an Authentication-Results header (RFC 8601 §2.2): method, result, optional reason
/// and properties, and an optional comment.
/// </summary>
public sealed record AuthenticationResult(string Method, string Result)
{
    /// <summary>reason= (RFC 8601 §2.2); a free-text explanation.</summary>
    public string? Reason { get; init; }

    public IReadOnlyList<AuthenticationProperty> Properties { get; init; } = [];

    /// <summary>A comment after the result, e.g. "(1024-bit key)".</summary>
    public string? Comment { get; init; }
}

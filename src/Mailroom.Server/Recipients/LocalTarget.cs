namespace Mailroom.Server.Recipients;

/// <summary>PLACEHOLDER until the resolver lands.</summary>
public sealed record LocalTarget(string Address, string? Mailbox);

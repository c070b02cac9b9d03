using Mailroom.Server.Recipients;

namespace Mailroom.Server.Smtp;

/// <summary>The local domains and who receives mail in them (users and aliases), as the session asks at RCPT time.</summary>
public interface ILocalRecipients
{
    bool IsLocalDomain(string domain);

    /// <summary>The local domains in their configured order (the first is where a domain-less &lt;postmaster&gt; goes when the hostname is not local).</summary>
    IReadOnlyList<string> LocalDomains => [];

    /// <summary>Where mail for local-part@domain goes; null when there is no such recipient.</summary>
    IReadOnlyList<LocalTarget>? Resolve(string localPart, string domain);
}

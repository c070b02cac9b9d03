using Mailroom.Server.Users;

namespace Mailroom.Server.Recipients;

/// <summary>One place a local recipient's mail goes.</summary>
/// <param name="Address">The address delivered to (no sub-address tag).</param>
/// <param name="Mailbox">The Maildir folder below {data_dir}/mail, <c>{domain}/{lowercased local part}</c>; null for an
/// alias target outside the local domains, which is relayed.</param>
public sealed record LocalTarget(string Address, string? Mailbox);

/// <summary>
/// Resolves recipients in the local domains, in the order of Postfix's virtual alias and local
/// delivery: exact alias, user, the same two without a "+tag" sub-address, catch-all alias "@domain",
/// then postmaster (RFC 5321 §4.5.1: MUST be accepted). Matching is case-insensitive, as in Postfix.
/// </summary>
public sealed class LocalRecipientResolver : Mailroom.Server.Smtp.ILocalRecipients
{
    // Postfix virtual_alias_recursion_limit is 1000; ten levels is plenty for hand-written aliases
    // and stops a loop quickly.
    public const int MaxAliasDepth = 10;

    // Postfix recipient_delimiter, as commonly set.
    private const char SubaddressDelimiter = '+';

    private readonly HashSet<string> _localDomains = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _domainOrder = [];
    private readonly Dictionary<string, IReadOnlyList<string>> _aliases = new(StringComparer.OrdinalIgnoreCase);
    private readonly UserStore _users;

    public LocalRecipientResolver(
        IReadOnlyCollection<string> localDomains,
        IReadOnlyDictionary<string, IReadOnlyList<string>> aliases,
        UserStore users)
    {
        ArgumentNullException.ThrowIfNull(localDomains);
        ArgumentNullException.ThrowIfNull(aliases);
        ArgumentNullException.ThrowIfNull(users);
        foreach (var domain in localDomains)
        {
            if (_localDomains.Add(AddressSyntax.TryNormalizeDomain(domain, out var normalized)
                ? normalized
                : throw new ArgumentException($"not a valid domain: \"{domain}\"", nameof(localDomains))))
            {
                _domainOrder.Add(normalized);
            }
        }

        foreach (var (key, targets) in aliases)
        {
            _aliases[NormalizeAliasKey(key)] = targets;
        }

        _users = users;
    }

    public IReadOnlyList<string> LocalDomains => _domainOrder;

    public bool IsLocalDomain(string domain) =>
        AddressSyntax.TryNormalizeDomain(domain, out var normalized) && _localDomains.Contains(normalized);

    /// <summary>Where mail for <c>localPart@domain</c> goes; null for an unknown local recipient (or a domain that is not local).</summary>
    public IReadOnlyList<LocalTarget>? Resolve(string localPart, string domain)
    {
        ArgumentNullException.ThrowIfNull(localPart);
        ArgumentNullException.ThrowIfNull(domain);
        if (!AddressSyntax.TryNormalizeDomain(domain, out var normalizedDomain))
        {
            return null;
        }

        var targets = new List<LocalTarget>();
        return Resolve(localPart, normalizedDomain, depth: 0, path: [], targets) ? targets : null;
    }

    private bool Resolve(string localPart, string domain, int depth, HashSet<string> path, List<LocalTarget> targets)
    {
        if (depth > MaxAliasDepth || !_localDomains.Contains(domain) || !IsSafeMailboxName(localPart))
        {
            return false;
        }

        var address = localPart + "@" + domain;
        var mark = targets.Count;
        // An alias that names its own key ("alice" = ["alice", "archive@…"]) means the user itself, as in Postfix.
        var expandAliases = path.Add(address);
        try
        {
            if (expandAliases && TryExpand(address, depth, path, targets, out var expanded))
            {
                if (!expanded)
                {
                    targets.RemoveRange(mark, targets.Count - mark);
                }

                return expanded;
            }

            if (_users.Contains(address))
            {
                AddTarget(targets, new LocalTarget(address, Mailbox(localPart, domain)));
                return true;
            }

            var delimiter = localPart.IndexOf(SubaddressDelimiter, StringComparison.Ordinal);
            if (delimiter > 0)
            {
                // "user+tag": retry as "user"; the tag is dropped from the delivered address.
                return Resolve(localPart[..delimiter], domain, depth, path, targets);
            }

            if (expandAliases && TryExpand("@" + domain, depth, path, targets, out expanded))
            {
                if (!expanded)
                {
                    targets.RemoveRange(mark, targets.Count - mark);
                }

                return expanded;
            }

            if (localPart.Equals("postmaster", StringComparison.OrdinalIgnoreCase))
            {
                // RFC 5321 §4.5.1: postmaster MUST be accepted, even with no user or alias configured.
                AddTarget(targets, new LocalTarget("postmaster@" + domain, domain + "/postmaster"));
                return true;
            }

            // Undo what a failed alias expansion added.
            targets.RemoveRange(mark, targets.Count - mark);
            return false;
        }
        finally
        {
            if (expandAliases)
            {
                path.Remove(address);
            }
        }
    }

    // True when an alias exists; then expanded tells whether every target resolved.
    private bool TryExpand(string key, int depth, HashSet<string> path, List<LocalTarget> targets, out bool expanded)
    {
        expanded = false;
        if (!_aliases.TryGetValue(key, out var aliasTargets))
        {
            return false;
        }

        foreach (var target in aliasTargets)
        {
            if (!AddressSyntax.TrySplit(target, out var targetLocal, out var targetDomain))
            {
                return true;
            }

            if (_localDomains.Contains(targetDomain))
            {
                // A broken local target fails the whole alias: better a visible 550 than mail silently lost.
                if (!Resolve(targetLocal, targetDomain, depth + 1, path, targets))
                {
                    return true;
                }
            }
            else
            {
                AddTarget(targets, new LocalTarget(targetLocal + "@" + targetDomain, null));
            }
        }

        expanded = true;
        return true;
    }

    private static void AddTarget(List<LocalTarget> targets, LocalTarget target)
    {
        foreach (var existing in targets)
        {
            if (string.Equals(existing.Address, target.Address, StringComparison.OrdinalIgnoreCase) &&
                existing.Mailbox == target.Mailbox)
            {
                return;
            }
        }

        targets.Add(target);
    }

    private static string Mailbox(string localPart, string domain) => domain + "/" + localPart.ToLowerInvariant();

    // The local part becomes a folder name below {data_dir}/mail/{domain}: nothing that escapes it.
    private static bool IsSafeMailboxName(string localPart) =>
        localPart.Length > 0 && localPart is not "." and not ".." &&
        !localPart.Contains('/') && !localPart.Contains('\0') && !localPart.Contains('\\');

    private static string NormalizeAliasKey(string key)
    {
        if (key.StartsWith('@') && AddressSyntax.TryNormalizeDomain(key[1..], out var catchAllDomain))
        {
            return "@" + catchAllDomain;
        }

        return AddressSyntax.TryNormalizeAddress(key, out var normalized)
            ? normalized
            : throw new ArgumentException($"not a valid alias: \"{key}\"", nameof(key));
    }
}

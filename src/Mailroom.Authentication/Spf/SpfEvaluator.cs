using System.Net;
using System.Net.Sockets;
using Mailroom.Dns;

namespace Mailroom.Authentication.Spf;

/// <summary>
/// check_host() of RFC 7208 §4 over <see cref="IDnsResolver"/>. Every outcome, DNS failures and
/// broken records included, is a <see cref="SpfCheckResult"/>; only cancellation throws.
/// </summary>
public sealed class SpfEvaluator
{
    private readonly IDnsResolver _resolver;
    private readonly TimeProvider _timeProvider;
    private readonly SpfOptions _options;

    public SpfEvaluator(IDnsResolver resolver, TimeProvider timeProvider, SpfOptions? options = null)
    {
        _resolver = resolver;
        _timeProvider = timeProvider;
        _options = options ?? new SpfOptions();
    }

    /// <summary>
    /// Checks the MAIL FROM identity (RFC 7208 §2.4); for the null reverse-path (<paramref name="reversePath"/>
    /// empty) the HELO identity is checked as "postmaster@helo" (§2.4).
    /// </summary>
    public Task<SpfCheckResult> CheckMailFromAsync(IPAddress client, string reversePath, string helo, CancellationToken cancellationToken)
    {
        if (reversePath.Length == 0)
        {
            return CheckHeloAsync(client, helo, cancellationToken);
        }

        var at = reversePath.LastIndexOf('@');
        var domain = at < 0 ? reversePath : reversePath[(at + 1)..];
        return CheckAsync(client, domain, reversePath, helo, SpfIdentity.MailFrom, cancellationToken);
    }

    /// <summary>Checks the HELO identity (RFC 7208 §2.3) as "postmaster@helo".</summary>
    public Task<SpfCheckResult> CheckHeloAsync(IPAddress client, string helo, CancellationToken cancellationToken) =>
        CheckAsync(client, helo, "postmaster@" + helo, helo, SpfIdentity.Helo, cancellationToken);

    /// <summary>check_host(&lt;ip&gt;, &lt;domain&gt;, &lt;sender&gt;) as RFC 7208 §4.1 defines it.</summary>
    public Task<SpfCheckResult> CheckHostAsync(IPAddress client, string domain, string sender, string helo, CancellationToken cancellationToken) =>
        CheckAsync(client, domain, sender, helo, SpfIdentity.MailFrom, cancellationToken);

    private async Task<SpfCheckResult> CheckAsync(IPAddress client, string domain, string sender, string helo, SpfIdentity identity, CancellationToken cancellationToken)
    {
        // RFC 7208 §5 (ip6): an IPv4-mapped IPv6 client is an IPv4 client.
        var ip = client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;
        domain = domain.TrimEnd('.');
        // §4.3: a sender without a local-part is postmaster@domain.
        var at = sender.LastIndexOf('@');
        var localPart = at <= 0 ? "postmaster" : sender[..at];
        var senderDomain = at < 0 ? sender : sender[(at + 1)..];
        var evaluation = new Evaluation(this, ip);
        var context = new SpfMacroContext
        {
            Sender = localPart + "@" + senderDomain,
            LocalPart = localPart,
            SenderDomain = senderDomain,
            Domain = domain,
            Client = ip,
            Helo = helo,
            ReceivingHost = _options.ReceivingHost,
            Timestamp = _timeProvider.GetUtcNow().ToUnixTimeSeconds(),
            ValidatedName = evaluation.ValidatedNameAsync,
        };
        var outcome = await evaluation.CheckHostAsync(context, cancellationToken);
        return new SpfCheckResult(outcome.Result, identity, sender, domain, helo, client)
        {
            Mechanism = outcome.Mechanism,
            Explanation = outcome.Result == SpfResult.Fail ? outcome.Explanation : null,
            Problem = outcome.Problem,
        };
    }

    /// <summary>
    /// RFC 7208 §4.3: the domain must be a fully qualified domain name: two or more labels, none empty
    /// or longer than 63 octets, at most 253 characters, not an address literal.
    /// </summary>
    internal static bool IsValidDomain(string domain) =>
        domain.Length is > 0 and <= 253
        && domain.Contains('.')
        && !domain.StartsWith('[')
        && domain.Split('.').All(label => label.Length is > 0 and <= 63);

    private sealed record Outcome(SpfResult Result, string? Mechanism = null, string? Explanation = null, string? Problem = null);

    /// <summary>The state of one top-level check: the lookup counters of RFC 7208 §4.6.4 are shared by every include and redirect.</summary>
    private sealed class Evaluation(SpfEvaluator owner, IPAddress client)
    {
        private readonly SpfLimits _limits = owner._options.Limits;
        private int _dnsMechanisms;
        private int _voidLookups;
        private IReadOnlyList<string>? _validatedNames;

        public async Task<Outcome> CheckHostAsync(SpfMacroContext context, CancellationToken cancellationToken)
        {
            var domain = context.Domain;
            if (!IsValidDomain(domain))
            {
                return new Outcome(SpfResult.None, Problem: $"not a valid domain: {domain}");
            }

            // §4.4: the TXT records of the domain; §4.5: exactly one must begin with "v=spf1".
            var answer = await owner._resolver.GetTxtAsync(domain, cancellationToken);
            if (answer.Status == DnsStatus.TemporaryFailure)
            {
                return new Outcome(SpfResult.TempError, Problem: $"DNS failure looking up the TXT records of {domain}");
            }

            var records = answer.Records.Where(SpfRecord.IsSpfRecord).ToList();
            if (records.Count == 0)
            {
                return new Outcome(SpfResult.None, Problem: $"no SPF record at {domain}");
            }

            if (records.Count > 1)
            {
                return new Outcome(SpfResult.PermError, Problem: $"{records.Count} SPF records at {domain}");
            }

            if (!SpfRecord.TryParse(records[0], out var record, out var error))
            {
                return new Outcome(SpfResult.PermError, Problem: $"{domain}: {error}");
            }

            foreach (var mechanism in record!.Mechanisms)
            {
                if (mechanism.QueriesDns && ++_dnsMechanisms > _limits.DnsMechanisms)
                {
                    return new Outcome(SpfResult.PermError, Problem: $"more than {_limits.DnsMechanisms} DNS-querying mechanisms");
                }

                var step = await MatchAsync(mechanism, context, cancellationToken);
                if (step.Error is { } failure)
                {
                    return failure;
                }

                if (step.Matched)
                {
                    var result = mechanism.Qualifier switch
                    {
                        SpfQualifier.Pass => SpfResult.Pass,
                        SpfQualifier.Fail => SpfResult.Fail,
                        SpfQualifier.SoftFail => SpfResult.SoftFail,
                        _ => SpfResult.Neutral,
                    };
                    var explanation = result == SpfResult.Fail ? await ExplainAsync(record, context, cancellationToken) : null;
                    return new Outcome(result, mechanism.Text, explanation);
                }
            }

            // §6.1: redirect applies only when no mechanism matched.
            if (record.Redirect is { } redirect)
            {
                if (++_dnsMechanisms > _limits.DnsMechanisms)
                {
                    return new Outcome(SpfResult.PermError, Problem: $"more than {_limits.DnsMechanisms} DNS-querying mechanisms");
                }

                var target = await ExpandDomainAsync(redirect, context, cancellationToken);
                var redirected = await CheckHostAsync(context.WithDomain(target), cancellationToken);
                return redirected.Result == SpfResult.None
                    ? new Outcome(SpfResult.PermError, Problem: $"redirect to {target}: {redirected.Problem}")
                    : redirected;
            }

            // §4.7: nothing matched and no redirect.
            return new Outcome(SpfResult.Neutral, "default");
        }

        private readonly record struct Step(bool Matched, Outcome? Error)
        {
            public static Step Match => new(true, null);

            public static Step NoMatch => new(false, null);

            public static Step Fail(SpfResult result, string problem) => new(false, new Outcome(result, Problem: problem));
        }

        private async Task<Step> MatchAsync(SpfMechanism mechanism, SpfMacroContext context, CancellationToken cancellationToken)
        {
            switch (mechanism.Kind)
            {
                case SpfMechanismKind.All:
                    return Step.Match;
                case SpfMechanismKind.Ip4:
                case SpfMechanismKind.Ip6:
                    return InNetwork(client, mechanism.Network!, mechanism.Kind == SpfMechanismKind.Ip4 ? mechanism.Cidr4 : mechanism.Cidr6)
                        ? Step.Match
                        : Step.NoMatch;
                case SpfMechanismKind.Include:
                {
                    // §5.2: Pass matches; Fail, SoftFail, Neutral do not; TempError stays; PermError and None are PermError.
                    var target = await ExpandDomainAsync(mechanism.DomainSpec!, context, cancellationToken);
                    var included = await CheckHostAsync(context.WithDomain(target), cancellationToken);
                    return included.Result switch
                    {
                        SpfResult.Pass => Step.Match,
                        SpfResult.Fail or SpfResult.SoftFail or SpfResult.Neutral => Step.NoMatch,
                        SpfResult.TempError => new Step(false, included),
                        _ => Step.Fail(SpfResult.PermError, $"include:{target}: {included.Problem}"),
                    };
                }

                case SpfMechanismKind.A:
                {
                    var target = await TargetAsync(mechanism, context, cancellationToken);
                    var addresses = await AddressesAsync(target, cancellationToken);
                    if (addresses.Error is { } error)
                    {
                        return new Step(false, error);
                    }

                    return addresses.Records.Any(a => InNetwork(client, a, Cidr(mechanism, a))) ? Step.Match : Step.NoMatch;
                }

                case SpfMechanismKind.Mx:
                {
                    var target = await TargetAsync(mechanism, context, cancellationToken);
                    if (!IsValidDomain(target))
                    {
                        return CountVoid() ?? Step.NoMatch;
                    }

                    var mx = await owner._resolver.GetMxAsync(target, cancellationToken);
                    if (mx.Status == DnsStatus.TemporaryFailure)
                    {
                        return Step.Fail(SpfResult.TempError, $"DNS failure looking up the MX records of {target}");
                    }

                    if (mx.Records.Count == 0)
                    {
                        return CountVoid() ?? Step.NoMatch;
                    }

                    // §4.6.4: more than 10 MX names is a PermError.
                    if (mx.Records.Count > _limits.MxRecords)
                    {
                        return Step.Fail(SpfResult.PermError, $"{target} has more than {_limits.MxRecords} MX records");
                    }

                    foreach (var exchange in mx.Records.Where(r => !r.IsNullMx).OrderBy(r => r.Preference))
                    {
                        var addresses = await owner._resolver.GetAddressesAsync(exchange.Exchange, cancellationToken);
                        if (addresses.Status == DnsStatus.TemporaryFailure)
                        {
                            return Step.Fail(SpfResult.TempError, $"DNS failure looking up the addresses of {exchange.Exchange}");
                        }

                        if (addresses.Records.Any(a => a.AddressFamily == client.AddressFamily && InNetwork(client, a, Cidr(mechanism, a))))
                        {
                            return Step.Match;
                        }
                    }

                    return Step.NoMatch;
                }

                case SpfMechanismKind.Ptr:
                {
                    // §5.5: a validated name equal to the target or a subdomain of it.
                    var target = await TargetAsync(mechanism, context, cancellationToken);
                    var names = await ValidatedNamesAsync(cancellationToken);
                    return names.Any(name => IsSameOrSubdomain(name, target)) ? Step.Match : Step.NoMatch;
                }

                case SpfMechanismKind.Exists:
                {
                    // §5.7: an A query, whatever the client's address family.
                    var target = await ExpandDomainAsync(mechanism.DomainSpec!, context, cancellationToken);
                    if (!IsValidDomain(target))
                    {
                        return CountVoid() ?? Step.NoMatch;
                    }

                    var answer = await owner._resolver.GetAddressesAsync(target, cancellationToken);
                    if (answer.Status == DnsStatus.TemporaryFailure)
                    {
                        return Step.Fail(SpfResult.TempError, $"DNS failure looking up {target}");
                    }

                    return answer.Records.Any(a => a.AddressFamily == AddressFamily.InterNetwork)
                        ? Step.Match
                        : CountVoid() ?? Step.NoMatch;
                }

                default:
                    return Step.NoMatch;
            }
        }

        private async Task<(IReadOnlyList<IPAddress> Records, Outcome? Error)> AddressesAsync(string target, CancellationToken cancellationToken)
        {
            if (!IsValidDomain(target))
            {
                return ([], CountVoid()?.Error);
            }

            var answer = await owner._resolver.GetAddressesAsync(target, cancellationToken);
            if (answer.Status == DnsStatus.TemporaryFailure)
            {
                return ([], new Outcome(SpfResult.TempError, Problem: $"DNS failure looking up the addresses of {target}"));
            }

            // §4.6.4: an answer without a record of the family asked for is a void lookup.
            var records = answer.Records.Where(a => a.AddressFamily == client.AddressFamily).ToList();
            return records.Count == 0 ? ([], CountVoid()?.Error) : (records, null);
        }

        // §4.6.4: more than two lookups that return no records (NODATA or NXDOMAIN) is a PermError.
        private Step? CountVoid() =>
            ++_voidLookups > _limits.VoidLookups
                ? Step.Fail(SpfResult.PermError, $"more than {_limits.VoidLookups} void DNS lookups")
                : null;

        private async Task<string> TargetAsync(SpfMechanism mechanism, SpfMacroContext context, CancellationToken cancellationToken) =>
            mechanism.DomainSpec is { } spec ? await ExpandDomainAsync(spec, context, cancellationToken) : context.Domain;

        private async Task<string> ExpandDomainAsync(string spec, SpfMacroContext context, CancellationToken cancellationToken)
        {
            var expanded = await SpfMacro.ExpandAsync(spec, context, explain: false, cancellationToken);
            return SpfMacro.Truncate(expanded.TrimEnd('.'), _limits.DomainLength);
        }

        /// <summary>§6.2: the explanation of a Fail; any problem with exp= falls back to the default explanation.</summary>
        private async Task<string> ExplainAsync(SpfRecord record, SpfMacroContext context, CancellationToken cancellationToken)
        {
            if (record.Explanation is { } exp)
            {
                var target = await ExpandDomainAsync(exp, context, cancellationToken);
                if (IsValidDomain(target))
                {
                    var answer = await owner._resolver.GetTxtAsync(target, cancellationToken);
                    if (answer is { Status: DnsStatus.Ok, Records.Count: 1 }
                        && answer.Records[0].All(c => c is >= ' ' and <= '~')
                        && SpfMacro.IsValidMacroString(answer.Records[0], explain: true))
                    {
                        return await SpfMacro.ExpandAsync(answer.Records[0], context, explain: true, cancellationToken);
                    }
                }
            }

            var fallback = owner._options.DefaultExplanation;
            return SpfMacro.IsValidMacroString(fallback, explain: true)
                ? await SpfMacro.ExpandAsync(fallback, context, explain: true, cancellationToken)
                : fallback;
        }

        /// <summary>%{p} (RFC 7208 §7.3): a validated name equal to the domain, else a subdomain of it, else any, else "unknown".</summary>
        public async Task<string> ValidatedNameAsync(string domain, CancellationToken cancellationToken)
        {
            var names = await ValidatedNamesAsync(cancellationToken);
            return names.FirstOrDefault(n => n.Equals(domain, StringComparison.OrdinalIgnoreCase))
                ?? names.FirstOrDefault(n => IsSameOrSubdomain(n, domain))
                ?? names.FirstOrDefault()
                ?? "unknown";
        }

        /// <summary>
        /// RFC 7208 §5.5: the PTR names of the client whose A/AAAA records include it; at most 10 names
        /// are looked at (§4.6.4), and a DNS error just means no name.
        /// </summary>
        private async Task<IReadOnlyList<string>> ValidatedNamesAsync(CancellationToken cancellationToken)
        {
            if (_validatedNames is not null)
            {
                return _validatedNames;
            }

            var validated = new List<string>();
            var ptr = await owner._resolver.GetPtrAsync(client, cancellationToken);
            foreach (var name in ptr.Records.Take(_limits.PtrRecords))
            {
                var addresses = await owner._resolver.GetAddressesAsync(name, cancellationToken);
                if (addresses.Records.Any(a => a.Equals(client)))
                {
                    validated.Add(name.TrimEnd('.'));
                }
            }

            _validatedNames = validated;
            return validated;
        }

        private static bool IsSameOrSubdomain(string name, string domain)
        {
            name = name.TrimEnd('.');
            domain = domain.TrimEnd('.');
            return name.Equals(domain, StringComparison.OrdinalIgnoreCase)
                || name.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase);
        }

        private static int Cidr(SpfMechanism mechanism, IPAddress address) =>
            address.AddressFamily == AddressFamily.InterNetwork ? mechanism.Cidr4 : mechanism.Cidr6;
    }

    /// <summary>True when <paramref name="address"/> is in <paramref name="network"/>/<paramref name="prefixLength"/> (same family only).</summary>
    internal static bool InNetwork(IPAddress address, IPAddress network, int prefixLength) =>
        address.AddressFamily == network.AddressFamily && new IPNetwork(Mask(network, prefixLength), prefixLength).Contains(address);

    private static IPAddress Mask(IPAddress address, int prefixLength)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }

        return new IPAddress(bytes);
    }
}

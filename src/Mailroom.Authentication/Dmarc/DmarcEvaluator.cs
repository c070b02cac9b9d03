using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Spf;
using Mailroom.Dns;
using MimeKit;

namespace Mailroom.Authentication.Dmarc;

/// <summary>
/// DMARC (RFC 7489): policy discovery at _dmarc.&lt;From domain&gt; then at the organizational domain,
/// identifier alignment from the SPF and DKIM results given, p/sp/pct applied. Results are values.
/// </summary>
public sealed class DmarcEvaluator
{
    private readonly IDnsResolver _resolver;
    private readonly PublicSuffixList _publicSuffixes;
    private readonly Random _random;

    /// <param name="random">Draws the pct= sample (RFC 7489 §6.6.4); inject a seeded one in tests.</param>
    public DmarcEvaluator(IDnsResolver resolver, PublicSuffixList publicSuffixes, Random random)
    {
        _resolver = resolver;
        _publicSuffixes = publicSuffixes;
        _random = random;
    }

    /// <summary>
    /// Evaluates a message: the From header first (refused when it does not give one domain,
    /// §6.6.1), then <see cref="CheckAsync(DmarcInput, CancellationToken)"/>.
    /// </summary>
    public Task<DmarcCheckResult> CheckAsync(HeaderList headers, SpfCheckResult? spf, IReadOnlyList<DkimSignatureResult> dkim, CancellationToken cancellationToken)
    {
        if (DmarcFromHeader.TryGetDomain(headers, out var problem) is not { } fromDomain)
        {
            return Task.FromResult(new DmarcCheckResult(DmarcResult.PermError, DmarcDisposition.Reject, null)
            {
                InvalidFrom = true,
                Problem = problem,
            });
        }

        return CheckAsync(new DmarcInput(fromDomain, spf?.Result ?? SpfResult.None, spf?.Domain, dkim), cancellationToken);
    }

    public async Task<DmarcCheckResult> CheckAsync(DmarcInput input, CancellationToken cancellationToken)
    {
        var fromDomain = input.FromDomain.TrimEnd('.').ToLowerInvariant();
        var organizational = _publicSuffixes.GetOrganizationalDomain(fromDomain);

        // §6.6.3: the From domain's record, else the organizational domain's.
        var usedOrganizational = false;
        var lookup = await LookupAsync(fromDomain, cancellationToken);
        if (lookup.Status == LookupStatus.NotFound && organizational != fromDomain)
        {
            usedOrganizational = true;
            lookup = await LookupAsync(organizational, cancellationToken);
        }

        switch (lookup.Status)
        {
            case LookupStatus.TempError:
                return new DmarcCheckResult(DmarcResult.TempError, DmarcDisposition.None, fromDomain) { Problem = lookup.Problem };
            case LookupStatus.PermError:
                return new DmarcCheckResult(DmarcResult.PermError, DmarcDisposition.None, fromDomain) { Problem = lookup.Problem };
            case LookupStatus.NotFound:
            case LookupStatus.NoPolicy:
                return new DmarcCheckResult(DmarcResult.None, DmarcDisposition.None, fromDomain);
        }

        var record = lookup.Record!;
        // §3.1.1, §3.1.2: aligned when the identifiers are equal (strict) or share the organizational domain (relaxed).
        var spfAligned = input.Spf == SpfResult.Pass && input.SpfDomain is { } spfDomain && Aligned(spfDomain, fromDomain, record.SpfAlignment);
        var dkimAligned = input.Dkim.Any(s => s.Result == DkimResult.Pass && s.Domain is { } d && Aligned(d, fromDomain, record.DkimAlignment));
        // §6.3 sp=: the policy for subdomains, from the organizational domain's record.
        var requested = usedOrganizational ? record.SubdomainPolicy ?? record.Policy : record.Policy;
        if (spfAligned || dkimAligned)
        {
            return new DmarcCheckResult(DmarcResult.Pass, DmarcDisposition.None, fromDomain)
            {
                Record = record,
                RequestedPolicy = requested,
                UsedOrganizationalDomain = usedOrganizational,
                SpfAligned = spfAligned,
                DkimAligned = dkimAligned,
            };
        }

        // §6.6.4: outside the pct= sample, reject becomes quarantine and quarantine becomes none.
        var sampledOut = record.Percent < 100 && _random.Next(100) >= record.Percent;
        var disposition = requested switch
        {
            DmarcPolicy.Reject => sampledOut ? DmarcDisposition.Quarantine : DmarcDisposition.Reject,
            DmarcPolicy.Quarantine => sampledOut ? DmarcDisposition.None : DmarcDisposition.Quarantine,
            _ => DmarcDisposition.None,
        };
        return new DmarcCheckResult(DmarcResult.Fail, disposition, fromDomain)
        {
            Record = record,
            RequestedPolicy = requested,
            UsedOrganizationalDomain = usedOrganizational,
            SampledOut = sampledOut && requested != DmarcPolicy.None,
        };
    }

    private bool Aligned(string identifier, string fromDomain, DmarcAlignment mode)
    {
        identifier = identifier.TrimEnd('.').ToLowerInvariant();
        return mode == DmarcAlignment.Strict
            ? identifier == fromDomain
            : _publicSuffixes.GetOrganizationalDomain(identifier) == _publicSuffixes.GetOrganizationalDomain(fromDomain);
    }

    private enum LookupStatus
    {
        Found,
        NotFound,

        // Several records, or one that gives no policy: discovery ends without a policy (§6.6.3 steps 5, 6).
        NoPolicy,
        TempError,
        PermError,
    }

    private sealed record Lookup(LookupStatus Status, DmarcRecord? Record = null, string? Problem = null);

    private async Task<Lookup> LookupAsync(string domain, CancellationToken cancellationToken)
    {
        var answer = await _resolver.GetTxtAsync("_dmarc." + domain, cancellationToken);
        if (answer.Status == DnsStatus.TemporaryFailure)
        {
            return new Lookup(LookupStatus.TempError, Problem: $"DNS failure looking up _dmarc.{domain}");
        }

        var records = answer.Records.Where(DmarcRecord.IsDmarcRecord).ToList();
        // §6.6.3 steps 3-5: none, and the organizational domain is asked; more than one, and discovery ends.
        if (records.Count != 1)
        {
            return new Lookup(records.Count == 0 ? LookupStatus.NotFound : LookupStatus.NoPolicy);
        }

        if (!DmarcRecord.TryParse(records[0], out var record, out var error))
        {
            return new Lookup(LookupStatus.PermError, Problem: error);
        }

        // A record without a usable p= and without rua= gives no policy (§6.6.3 step 6).
        return record is null ? new Lookup(LookupStatus.NoPolicy) : new Lookup(LookupStatus.Found, record);
    }
}

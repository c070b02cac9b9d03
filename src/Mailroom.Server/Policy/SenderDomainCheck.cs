using Mailroom.Dns;
using Mailroom.Protocol;

namespace Mailroom.Server.Policy;

/// <summary>
/// Postfix reject_unknown_sender_domain: the domain of MAIL FROM must have an MX, A or AAAA record.
/// The null reverse path (bounces, RFC 5321 §4.5.5) and address literals are not checked.
/// </summary>
internal sealed class SenderDomainCheck(IDnsResolver resolver)
{
    public async Task<PolicyDecision> CheckAsync(SmtpPath reversePath, CancellationToken cancellationToken)
    {
        // <>, <postmaster> and [address literals] have no domain to look up.
        if (reversePath.IsNull || reversePath.Domain.Length == 0 || reversePath.IsAddressLiteral)
        {
            return PolicyDecision.Accept;
        }

        var domain = reversePath.Domain;
        var mx = await resolver.GetMxAsync(domain, cancellationToken).ConfigureAwait(false);
        switch (mx.Status)
        {
            case DnsStatus.Ok when mx.Records.Any(record => record.IsNullMx):
                // RFC 7505 §4.2: a sender domain with a null MX cannot receive replies: 550 5.7.27.
                return PolicyDecision.Reject(PolicyReplies.SenderDomainNullMx, $"sender domain {domain} has a null MX");
            case DnsStatus.Ok:
                return PolicyDecision.Accept;
            case DnsStatus.NameNotFound:
                return PolicyDecision.Reject(PolicyReplies.SenderDomainNotFound, $"sender domain {domain}: NXDOMAIN");
        }

        // No MX (NODATA) or a failed MX look-up: the implicit MX is the domain's A/AAAA (RFC 5321 §5.1).
        var addresses = await resolver.GetAddressesAsync(domain, cancellationToken).ConfigureAwait(false);
        return addresses.Status switch
        {
            DnsStatus.Ok => PolicyDecision.Accept,
            _ when mx.Status == DnsStatus.TemporaryFailure || addresses.Status == DnsStatus.TemporaryFailure
                => PolicyDecision.Defer(PolicyReplies.SenderDomainLookupFailed, $"sender domain {domain}: temporary DNS failure"),
            _ => PolicyDecision.Reject(PolicyReplies.SenderDomainNotFound, $"sender domain {domain}: no MX, A or AAAA record"),
        };
    }
}

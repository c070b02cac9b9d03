using System.Net;
using Mailroom.Dns;

namespace Mailroom.Server.Policy;

/// <summary>
/// Forward-confirmed reverse DNS (iprev, RFC 8601 §3): the client's PTR names, and for each the
/// A/AAAA look-up that must contain the client's address.
/// </summary>
internal sealed class ReverseDnsCheck(IDnsResolver resolver)
{
    /// <summary>
    /// PTR names checked at most. 10: the cap RFC 7208 §4.6.4 sets for the same walk (SPF's "ptr"
    /// mechanism); a reverse zone can publish any number of names to make us query.
    /// </summary>
    public const int MaxPtrNames = 10;

    public async Task<IprevResult> LookupAsync(IPAddress client, CancellationToken cancellationToken)
    {
        var ptr = await resolver.GetPtrAsync(client, cancellationToken).ConfigureAwait(false);
        switch (ptr.Status)
        {
            case DnsStatus.TemporaryFailure:
                return new IprevResult(IprevStatus.TempError, client, null, []);
            case DnsStatus.NameNotFound or DnsStatus.NoRecords:
                // RFC 8601 §2.7.3 permerror: no PTR data are published for the address.
                return new IprevResult(IprevStatus.PermError, client, null, []);
        }

        string[] names = [.. ptr.Records.Where(name => name.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).Take(MaxPtrNames)];
        if (names.Length == 0)
        {
            return new IprevResult(IprevStatus.PermError, client, null, []);
        }

        var lookups = names.Select(name => resolver.GetAddressesAsync(name, cancellationToken)).ToArray();
        var answers = await Task.WhenAll(lookups).ConfigureAwait(false);
        var temporary = false;
        for (var i = 0; i < names.Length; i++)
        {
            if (answers[i].Status == DnsStatus.Ok && answers[i].Records.Any(address => Same(address, client)))
            {
                return new IprevResult(IprevStatus.Pass, client, names[i], names);
            }

            temporary |= answers[i].Status == DnsStatus.TemporaryFailure;
        }

        // RFC 8601 §2.7.3: fail when the forward look-ups completed without agreement; a transient
        // error on a name that might have agreed makes it temperror instead.
        return new IprevResult(temporary ? IprevStatus.TempError : IprevStatus.Fail, client, null, names);
    }

    /// <summary>What <paramref name="mode"/> makes of <paramref name="result"/>: null to accept, else the refusal to give at MAIL.</summary>
    public static PolicyDecision? Decide(IprevResult result, ReverseDnsMode mode)
    {
        if (mode == ReverseDnsMode.Record || result.Status is IprevStatus.Pass or IprevStatus.None)
        {
            return null;
        }

        if (result.Status == IprevStatus.TempError)
        {
            // A DNS problem may be ours or passing: 4xx, the client retries (DESIGN.md).
            return PolicyDecision.Defer(PolicyReplies.ReverseDnsTemporary, $"reverse DNS temperror for {result.Address}");
        }

        if (result.Status == IprevStatus.PermError)
        {
            return PolicyDecision.Reject(PolicyReplies.NoPtr, $"no PTR record for {result.Address}");
        }

        // Fail: PTR names exist but none is forward-confirmed.
        return mode == ReverseDnsMode.RequireConfirmed
            ? PolicyDecision.Reject(PolicyReplies.NoConfirmedPtr, $"no forward-confirmed name for {result.Address} (PTR {string.Join(", ", result.PtrNames)})")
            : null;
    }

    private static bool Same(IPAddress a, IPAddress b)
        => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).Equals(b.IsIPv4MappedToIPv6 ? b.MapToIPv4() : b);
}

using System.Net;
using System.Text;
using Mailroom.Protocol;

namespace Mailroom.Server.Policy;

/// <summary>
/// HELO/EHLO name checks: the syntax of RFC 5321 §4.1.1.1 (a Domain or an address literal,
/// Postfix reject_invalid_helo_hostname: 501 5.5.2) and a client that claims to be this server,
/// by one of our names or by one of our addresses (the classic check_helo_access "You are not me"
/// rule: 550 5.7.1).
/// </summary>
internal sealed class HeloCheck
{
    private readonly HashSet<string> _ourNames;

    public HeloCheck(string hostname, IEnumerable<string> otherNames)
    {
        _ourNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { Trim(hostname) };
        foreach (var name in otherNames)
        {
            _ourNames.Add(Trim(name));
        }
    }

    public PolicyDecision Check(string heloName, IPAddress client, IPAddress? local)
    {
        var bytes = Encoding.UTF8.GetBytes(heloName);
        var isLiteral = SmtpPath.IsValidAddressLiteral(bytes);
        if (!isLiteral && !SmtpPath.IsValidDomain(bytes))
        {
            return PolicyDecision.Reject(PolicyReplies.HeloInvalid, $"invalid HELO name \"{heloName}\"");
        }

        if (!isLiteral && _ourNames.Contains(Trim(heloName)))
        {
            return PolicyDecision.Reject(PolicyReplies.HeloIsUs, $"HELO {heloName} is our name");
        }

        // "[192.0.2.1]", "[IPv6:2001:db8::1]", or a bare "192.0.2.1" (a valid Domain by syntax).
        var literal = isLiteral ? heloName[1..^1] : heloName;
        if (literal.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
        {
            literal = literal[5..];
        }

        if (local is not null && IPAddress.TryParse(literal, out var claimed))
        {
            claimed = claimed.IsIPv4MappedToIPv6 ? claimed.MapToIPv4() : claimed;

            // Our address, unless it is also the client's own (a client on this very host).
            if (claimed.Equals(local) && !claimed.Equals(client))
            {
                return PolicyDecision.Reject(PolicyReplies.HeloIsUs, $"HELO {heloName} is our address");
            }
        }

        return PolicyDecision.Accept;
    }

    private static string Trim(string name) => name.TrimEnd('.');
}

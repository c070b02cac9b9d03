using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Mailroom.Dns;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Policy;

/// <summary>
/// DNS blocklists (RFC 5782): the client is listed in a zone when the A query for its reversed
/// address under the zone (reversed octets for IPv4, §2.1; reversed nibbles for IPv6, §2.4)
/// answers with an address in 127.0.0.0/8. A zone that fails or times out is skipped and logged,
/// never blocking mail.
/// </summary>
internal sealed partial class DnsblCheck(IDnsResolver resolver, IReadOnlyList<string> zones, ILogger logger)
{
    /// <summary>The first zone (in configured order) that lists <paramref name="client"/>, or null.</summary>
    public async Task<(string Zone, IPAddress Answer)?> FindListingAsync(IPAddress client, CancellationToken cancellationToken)
    {
        if (zones.Count == 0)
        {
            return null;
        }

        var query = ReversedName(client);
        var lookups = zones.Select(zone => resolver.GetAddressesAsync(query + "." + zone, cancellationToken)).ToArray();
        var answers = await Task.WhenAll(lookups).ConfigureAwait(false);
        for (var i = 0; i < zones.Count; i++)
        {
            var answer = answers[i];
            if (answer.Status == DnsStatus.TemporaryFailure)
            {
                LogZoneFailed(logger, zones[i], client.ToString());
                continue;
            }

            if (answer.Status != DnsStatus.Ok)
            {
                continue;
            }

            foreach (var address in answer.Records)
            {
                if (IsListing(address))
                {
                    return (zones[i], address);
                }

                LogIgnoredAnswer(logger, zones[i], client.ToString(), address.ToString());
            }
        }

        return null;
    }

    /// <summary>
    /// Whether an answer means "listed": an IPv4 address in 127.0.0.0/8 (RFC 5782 §2.1), except
    /// 127.0.0.0 and 127.0.0.1 (§5: a list must never return 127.0.0.1; an answer there means a
    /// broken list) and 127.255.255.0/24 (Spamhaus's error codes: 127.255.255.252 typo in the
    /// query, .254 query through a public resolver, .255 excessive queries).
    /// </summary>
    internal static bool IsListing(IPAddress answer)
    {
        if (answer.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }

        Span<byte> b = stackalloc byte[4];
        answer.TryWriteBytes(b, out _);
        return b[0] == 127 && !(b[1] == 0 && b[2] == 0 && b[3] <= 1) && !(b[1] == 255 && b[2] == 255);
    }

    /// <summary>"2.0.0.127" for 127.0.0.2 (RFC 5782 §2.1); 32 reversed nibbles for IPv6 (§2.4).</summary>
    internal static string ReversedName(IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        var bytes = client.GetAddressBytes();
        var builder = new StringBuilder(64);
        if (client.AddressFamily == AddressFamily.InterNetwork)
        {
            for (var i = bytes.Length - 1; i >= 0; i--)
            {
                builder.Append(bytes[i].ToString(CultureInfo.InvariantCulture)).Append('.');
            }
        }
        else
        {
            for (var i = bytes.Length - 1; i >= 0; i--)
            {
                builder.Append("0123456789abcdef"[bytes[i] & 0xF]).Append('.').Append("0123456789abcdef"[bytes[i] >> 4]).Append('.');
            }
        }

        return builder.ToString(0, builder.Length - 1);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "dnsbl {Zone}: no answer for {Client}; zone skipped")]
    private static partial void LogZoneFailed(ILogger logger, string zone, string client);

    [LoggerMessage(Level = LogLevel.Warning, Message = "dnsbl {Zone}: answer {Answer} for {Client} is not a listing (error code or broken list); ignored")]
    private static partial void LogIgnoredAnswer(ILogger logger, string zone, string client, string answer);
}

using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Text;

namespace Mailroom.Server.Smtp;

/// <summary>
/// The trace header a server adds to every message it accepts (RFC 5321 §4.4), in Postfix's layout:
/// the client's HELO name and address, the TLS parameters, our name, the RFC 3848 protocol type,
/// the queue ID and, for a single recipient, "for &lt;address&gt;".
/// </summary>
internal static class ReceivedHeader
{
    public static byte[] Format(
        string heloName, IPAddress client, string hostname, string protocol, string queueId,
        string? singleRecipient, SslStream? tls, DateTimeOffset now, string? confirmedName = null)
    {
        // Postfix: "from HELO (name [ip])" with the forward-confirmed reverse name (iprev, RFC 8601
        // §3); without one, only the address.
        var builder = new StringBuilder(256);
        builder.Append("Received: from ").Append(heloName.Length == 0 ? "unknown" : heloName).Append(" (");
        if (confirmedName is not null)
        {
            builder.Append(confirmedName).Append(' ');
        }

        builder.Append(AddressLiteral(client)).Append(")\r\n");
        if (tls is not null)
        {
            builder.Append("\t(using ").Append(ProtocolName(tls.SslProtocol))
                .Append(" with cipher ").Append(tls.NegotiatedCipherSuite).Append(")\r\n");
        }

        builder.Append("\tby ").Append(hostname).Append(" (Mailroom) with ").Append(protocol)
            .Append(" id ").Append(queueId);
        if (singleRecipient is not null)
        {
            builder.Append("\r\n\tfor <").Append(singleRecipient).Append('>');
        }

        builder.Append("; ").Append(FormatDate(now)).Append("\r\n");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    /// <summary>RFC 5322 §3.3 date-time, e.g. "Mon, 30 Nov 2026 02:11:46 +0000".</summary>
    public static string FormatDate(DateTimeOffset time)
    {
        var offset = time.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        offset = offset.Duration();
        return time.ToString("ddd, d MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture)
            + sign + offset.Hours.ToString("00", CultureInfo.InvariantCulture) + offset.Minutes.ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>RFC 5321 §4.1.3 address literal: [192.0.2.1] or [IPv6:2001:db8::1].</summary>
    public static string AddressLiteral(IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[IPv6:{address}]" : $"[{address}]";

    private static string ProtocolName(System.Security.Authentication.SslProtocols protocol) => protocol switch
    {
        System.Security.Authentication.SslProtocols.Tls13 => "TLSv1.3",
        System.Security.Authentication.SslProtocols.Tls12 => "TLSv1.2",
        _ => protocol.ToString(),
    };
}

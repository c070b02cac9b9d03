using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Mailroom.Delivery.Routing;

/// <summary>
/// Where to send mail instead of the recipient domain's own MX, written as Postfix writes a
/// next hop (transport(5), relayhost): <c>host</c> or <c>host:port</c> looks up the MX records of
/// host; <c>[host]</c> or <c>[host]:port</c> connects to host's own A/AAAA addresses, no MX
/// lookup; <c>[192.0.2.1]</c>, <c>[2001:db8::1]:2525</c> are literal addresses. The port defaults
/// to <see cref="RoutingOptions.DefaultPort"/> (25) when not given.
/// </summary>
public sealed record NextHop
{
    /// <summary>The SMTP port when none is given: IANA's "smtp" service, 25/tcp (RFC 5321 §1.1 and §4.5.4.2 name it).</summary>
    public const int SmtpPort = 25;

    // RFC 1035 §2.3.4: 63 octets a label, 255 a name (253 characters in text, without the root dot).
    private const int MaxLabelLength = 63;
    private const int MaxNameLength = 253;

    private NextHop(string host, IPAddress? address, int? port, bool useMx)
    {
        Host = host;
        Address = address;
        Port = port;
        UseMx = useMx;
    }

    /// <summary>The host name (lowercase, no trailing dot) or, for a literal, the address as text.</summary>
    public string Host { get; }

    /// <summary>The literal address of <c>[192.0.2.1]</c>; null for a name.</summary>
    public IPAddress? Address { get; }

    /// <summary>The port written in the next hop, or null for the default.</summary>
    public int? Port { get; }

    /// <summary>True when the MX records of <see cref="Host"/> are looked up (no brackets).</summary>
    public bool UseMx { get; }

    public static bool TryParse(string? text, [NotNullWhen(true)] out NextHop? hop, out string error)
    {
        hop = null;
        string value = text?.Trim() ?? "";
        if (value.Length == 0)
        {
            error = "a next hop is empty";
            return false;
        }

        string hostPart;
        string? portPart = null;
        bool bracketed = value[0] == '[';
        if (bracketed)
        {
            int close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                error = $"'{value}' has '[' without ']'";
                return false;
            }

            hostPart = value[1..close];
            string rest = value[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    error = $"'{value}' has '{rest}' after ']'; expected ':port'";
                    return false;
                }

                portPart = rest[1..];
            }
        }
        else
        {
            int colon = value.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0 && value.IndexOf(':', colon + 1) >= 0)
            {
                error = $"'{value}' looks like an IPv6 address; write it in brackets: [{value}]";
                return false;
            }

            hostPart = colon < 0 ? value : value[..colon];
            portPart = colon < 0 ? null : value[(colon + 1)..];
        }

        int? port = null;
        if (portPart is not null)
        {
            if (!int.TryParse(portPart, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) || parsed is < 1 or > 65535)
            {
                error = $"'{value}' has port '{portPart}'; expected a number from 1 to 65535";
                return false;
            }

            port = parsed;
        }

        if (hostPart.Length == 0)
        {
            error = $"'{value}' has no host";
            return false;
        }

        string literal = hostPart.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase) ? hostPart[5..] : hostPart;
        if (IPAddress.TryParse(literal, out IPAddress? address) && IsPlainAddress(literal, address))
        {
            if (!bracketed)
            {
                error = $"'{value}' is an address; write it in brackets ([{hostPart}]), an address has no MX records";
                return false;
            }

            hop = new NextHop(address.ToString(), address, port, useMx: false);
            error = "";
            return true;
        }

        if (hostPart.Contains(':', StringComparison.Ordinal))
        {
            error = $"'{value}': '{hostPart}' is not a valid IPv6 address (no zone index)";
            return false;
        }

        if (!IsHostName(hostPart, out string? reason))
        {
            error = $"'{value}': {reason}";
            return false;
        }

        hop = new NextHop(hostPart.TrimEnd('.').ToLowerInvariant(), null, port, useMx: !bracketed);
        error = "";
        return true;
    }

    /// <summary>Parses <paramref name="text"/> or throws <see cref="FormatException"/> with the reason.</summary>
    public static NextHop Parse(string text)
        => TryParse(text, out NextHop? hop, out string error) ? hop : throw new FormatException(error);

    /// <summary>The next hop as written in configuration: <c>[host]:port</c>, <c>host</c>, …</summary>
    public override string ToString()
    {
        string host = UseMx ? Host : $"[{Host}]";
        return Port is { } port ? $"{host}:{port.ToString(CultureInfo.InvariantCulture)}" : host;
    }

    // IPAddress.TryParse also takes "1", "1.2" and "0x7f.1" (inet_aton forms) and scope IDs: a
    // next hop literal must be a dotted quad or a plain IPv6 address.
    private static bool IsPlainAddress(string text, IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => text.Count(c => c == '.') == 3 && text.All(c => char.IsAsciiDigit(c) || c == '.'),
        AddressFamily.InterNetworkV6 => !text.Contains('%', StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>RFC 1035 §2.3.1 letters, digits and hyphens (and "_", seen in real host names), labels of 1-63 characters, 253 in all.</summary>
    private static bool IsHostName(string name, [NotNullWhen(false)] out string? reason)
    {
        string trimmed = name.EndsWith('.') ? name[..^1] : name;
        if (trimmed.Length is 0 or > MaxNameLength)
        {
            reason = $"a host name has 1 to {MaxNameLength} characters";
            return false;
        }

        foreach (string label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > MaxLabelLength)
            {
                reason = $"each label of a host name has 1 to {MaxLabelLength} characters";
                return false;
            }

            if (label[0] == '-' || label[^1] == '-')
            {
                reason = "a label of a host name neither starts nor ends with '-'";
                return false;
            }

            foreach (char c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
                {
                    reason = $"'{c}' is not allowed in a host name (letters, digits, '-', '_' and '.')";
                    return false;
                }
            }
        }

        reason = null;
        return true;
    }
}

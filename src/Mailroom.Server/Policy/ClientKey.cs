using System.Net;
using System.Net.Sockets;

namespace Mailroom.Server.Policy;

/// <summary>How client addresses are grouped for counting.</summary>
internal static class ClientKey
{
    /// <summary>
    /// The unit of the per-client counters: the IPv4 address, or the IPv6 /64 (one site's subnet,
    /// RFC 6177 §3; a host picks any address inside its /64 at will, so counting single IPv6
    /// addresses would let it escape every limit).
    /// </summary>
    public static IPAddress Of(IPAddress address) => Network(address, 32, 64);

    /// <summary>The greylisting network: IPv4 /24 (postgrey --lookup-by-subnet), IPv6 /64.</summary>
    public static IPAddress GreylistNetwork(IPAddress address) => Network(address, 24, 64);

    private static IPAddress Network(IPAddress address, int v4Prefix, int v6Prefix)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var prefix = address.AddressFamily == AddressFamily.InterNetwork ? v4Prefix : v6Prefix;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        bytes = bytes[..length];
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}

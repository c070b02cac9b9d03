using System.Net;
using System.Net.Sockets;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>
/// A UDP DNS server on 127.0.0.1 that answers every query with SERVFAIL (RCODE 2, RFC 1035 §4.1.1).
/// dnsmasq forwards a zone to it (<c>--server=/servfail.test/127.0.0.1#PORT</c>) and passes the
/// SERVFAIL on, so the resolver sees a real SERVFAIL from its configured server, at once.
/// </summary>
internal sealed class ServfailDnsServer : IAsyncDisposable
{
    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ServfailDnsServer() => _loop = Task.Run(LoopAsync);

    public int Port => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception error) when (error is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var query = await _udp.ReceiveAsync(_stop.Token);
            if (Servfail(query.Buffer) is { } answer)
            {
                await _udp.SendAsync(answer, query.RemoteEndPoint, _stop.Token);
            }
        }
    }

    /// <summary>The header and question of the query, with QR set, RCODE 2 and no other sections.</summary>
    private static byte[]? Servfail(byte[] query)
    {
        if (query.Length < 12)
        {
            return null;
        }

        // Skip QNAME (labels up to the root) and QTYPE + QCLASS.
        var end = 12;
        while (end < query.Length && query[end] != 0)
        {
            end += query[end] + 1;
        }

        end += 1 + 4;
        if (end > query.Length)
        {
            return null;
        }

        var answer = query[..end];
        answer[2] = (byte)(0x80 | (query[2] & 0x79)); // QR, the query's opcode and RD
        answer[3] = 0x80 | 2; // RA, RCODE = SERVFAIL
        answer[4] = 0;
        answer[5] = 1; // QDCOUNT 1
        for (var i = 6; i < 12; i++)
        {
            answer[i] = 0; // ANCOUNT, NSCOUNT, ARCOUNT
        }

        return answer;
    }
}

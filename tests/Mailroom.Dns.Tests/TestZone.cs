using Mailroom.Testing;

namespace Mailroom.Dns.Tests;

/// <summary>
/// The zone the resolver tests query: dnsmasq authoritative for example.test and 127.0.0.0/8 and ::1 (dnsmasq serves only the addresses inside an auth zone's subnets), so
/// an unknown name under example.test is NXDOMAIN and a negative answer carries the zone's SOA
/// (negative TTL 300 s); a name outside it is REFUSED. Every TTL is 300 s.
/// </summary>
internal static class TestZone
{
    public const int Ttl = 300;

    public static IReadOnlyList<string> Arguments { get; } =
    [
        "--auth-server=ns.example.test,127.0.0.1",
        "--auth-zone=example.test,127.0.0.0/8,::1/128",
        $"--auth-ttl={Ttl}",
        "--auth-soa=1,hostmaster.example.test,1200,120,604800",
        "--mx-host=example.test,mx1.example.test,10",
        "--mx-host=example.test,MX2.Example.Test,20",
        "--mx-host=nullmx.example.test,.,0",
        "--mx-host=cached.example.test,mx1.example.test,10",
        "--mx-host=capped.example.test,mx1.example.test,10",
        "--host-record=mx1.example.test,127.0.0.11",
        "--host-record=dual.example.test,127.0.0.12,::1",
        "--txt-record=example.test,v=spf1 -all",
        "--txt-record=split.example.test,v=spf1 ip4:127.0.0.1 ,-all",
        "--ptr-record=11.0.0.127.in-addr.arpa,mx1.example.test",
    ];

    public static Task<Dnsmasq> StartAsync() => Dnsmasq.StartAsync(Arguments);
}

/// <summary>One dnsmasq for the tests of a class that only read from it.</summary>
public sealed class DnsmasqFixture : IAsyncLifetime
{
    private Dnsmasq? _server;

    internal Dnsmasq Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await TestZone.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

using Mailroom.Testing;

namespace Mailroom.Tests.Shared.Policy;

/// <summary>
/// The zone of the policy tests (Server.Tests at the DNS level, IntegrationTests against the
/// executable): dnsmasq answering for policy.test and 127.in-addr.arpa from its arguments, so a
/// name or a reverse name without records is NXDOMAIN. Clients are told apart by their 127.0.0.x
/// source address.
/// </summary>
public sealed class PolicyZone : IAsyncLifetime
{
    private Dnsmasq? _server;

    internal Dnsmasq Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await Dnsmasq.StartAsync(
    [
        // Answered from these arguments only; any other name inside is NXDOMAIN. (Not an
        // --auth-zone: in authoritative mode dnsmasq serves no --ptr-record without its A.)
        "--local=/policy.test/",
        "--local=/127.in-addr.arpa/",

        // 127.0.0.21: PTR confirmed.ptr.policy.test, whose A is 127.0.0.21 (forward-confirmed).
        "--host-record=confirmed.ptr.policy.test,127.0.0.21",

        // 127.0.0.22: PTR liar.ptr.policy.test, whose A is another address (not confirmed).
        "--ptr-record=22.0.0.127.in-addr.arpa,liar.ptr.policy.test",
        "--host-record=liar.ptr.policy.test,127.0.0.99",

        // 127.0.0.23: no PTR at all.

        // Sender domains: an MX, an A only, a null MX; missing.policy.test does not exist.
        "--mx-host=mx.policy.test,mail.policy.test,10",
        "--host-record=mail.policy.test,127.0.0.30",
        "--host-record=aonly.policy.test,127.0.0.31",
        "--mx-host=nullmx.policy.test,.,0",

        // DNSBL zone bl.policy.test lists 127.0.0.2 (RFC 5782 §5 test point); 127.0.0.3 gets an error code.
        "--host-record=2.0.0.127.bl.policy.test,127.0.0.2",
        "--host-record=3.0.0.127.bl.policy.test,127.255.255.254",
    ]);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

using Mailroom.IntegrationTests.Infrastructure;
using Mailroom.Testing;
using static Mailroom.IntegrationTests.Delivery.DeliveryHarness;

using Mailroom.Tests.Shared;

namespace Mailroom.IntegrationTests.Delivery;

/// <summary>
/// Delivery across a crash of the sender, and through a smart host; each test starts its own
/// sending Mailroom (they kill or reconfigure it), sharing one dnsmasq.
/// </summary>
public sealed class RestartAndRelayHostTests : IAsyncLifetime
{
    private readonly int _port = FreePort();
    private Dnsmasq? _dns;

    private Dnsmasq Dns => _dns ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _dns = await Dnsmasq.StartAsync([
        "--local=/test/",
        "--mx-host=ok.test,mx.ok.test,10",
        "--host-record=mx.ok.test,127.0.0.21",
        "--mx-host=later.test,mx.later.test,10",
        "--host-record=mx.later.test,127.0.0.22",
        "--mx-host=slow.test,mx.slow.test,10",
        "--host-record=mx.slow.test,127.0.0.24",
    ]);

    public async Task DisposeAsync()
    {
        if (_dns is not null)
        {
            await _dns.DisposeAsync();
        }
    }

    /// <summary>
    /// What can be promised across a crash (DESIGN.md, RFC 5321 §6.1): a recipient recorded as
    /// delivered is never sent to again. (A kill between the remote's 250 and our record of it
    /// cannot be told from a lost reply, so that one recipient may get a second copy; RFC 5321 §6.1
    /// accepts duplicates over losses. Not tested: it is a window, not a guarantee.)
    /// One message to r1 (a host that accepts) and r2 (a host that answers 4xx): r1 is recorded
    /// delivered, r2 deferred; the sender is killed with SIGKILL and started again, r2's host now
    /// accepts; r1 must still have exactly one copy, r2 one.
    /// </summary>
    [Fact]
    public async Task ARecipientRecordedAsDeliveredIsNotSentAgainAfterAKill9()
    {
        const string R1 = "r1@ok.test";
        const string R2 = "r2@later.test";
        var laterDumps = Directory.CreateTempSubdirectory("mailroom-it-later-").FullName;
        try
        {
            await using var ok = await SmtpSink.StartAsync(At("127.0.0.21", _port), null);
            await using var sender = await StartSenderAsync(Dns.EndPoint, _port);
            string id;
            await using (var refusing = await SmtpSink.StartAsync(At("127.0.0.22", _port), laterDumps, "-r", "RCPT"))
            {
                id = await SubmitAsync(sender, [R1, R2], Message(R1, "restart"));
                await WaitForStatusAsync(sender, id, R1, "sent");
                await WaitForStatusAsync(sender, id, R2, "deferred");

                // Logged after the outcomes are recorded and the retry is scheduled: r1 is on disk as delivered.
                await sender.Log.WaitForAsync(line => line.Contains($"{id}: 1 recipients deferred, next attempt in ", StringComparison.Ordinal), "the deferral");
                await sender.Kill9Async();
            }

            Assert.Single(ok.DumpFiles());
            await using var accepting = await SmtpSink.StartAsync(At("127.0.0.22", _port), laterDumps);
            var restartedAt = sender.Log.Count;
            await sender.RestartAsync();

            await WaitForStatusAsync(sender, id, R2, "sent", restartedAt);
            await WaitForRemovedAsync(sender, id, restartedAt);
            Assert.DoesNotContain(sender.Log.LinesFrom(restartedAt), line => line.Contains($"{id}: to=<{R1}>", StringComparison.Ordinal));
            var toR1 = Assert.Single(ok.Dumps());
            Assert.Contains($"X-Rcpt-Args: <{R1}>\n", toR1, StringComparison.Ordinal);
            Assert.DoesNotContain($"<{R2}>", toR1.Split("\n\n")[0], StringComparison.Ordinal);
            var toR2 = Assert.Single(accepting.Dumps());
            Assert.Contains($"X-Rcpt-Args: <{R2}>\n", toR2, StringComparison.Ordinal);
            Assert.DoesNotContain($"X-Rcpt-Args: <{R1}>", toR2, StringComparison.Ordinal);
            Assert.Contains("Subject: restart", toR2, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(laterDumps, recursive: true);
        }
    }

    /// <summary>
    /// kill -9 of the sender in the middle of a transaction, before any of the content has left
    /// (smtp-sink -w holds its answer to DATA for 2 s; the kill comes as soon as the connection is
    /// seen): the peer got nothing complete, so after the restart the message arrives exactly once.
    /// </summary>
    [Fact]
    public async Task AKill9MidTransactionBeforeTheContentLeavesDeliversExactlyOnceAfterTheRestart()
    {
        const string To = "someone@slow.test";
        var endPoint = At("127.0.0.24", _port);
        await using var slow = await SmtpSink.StartAsync(endPoint, null, "-w", "2");
        await using var sender = await StartSenderAsync(Dns.EndPoint, _port);

        var id = await SubmitAsync(sender, [To], Message(To, "slow-kill"));
        await WaitForConnectionAsync(endPoint);
        await sender.Kill9Async();
        Assert.DoesNotContain(sender.Log.Lines, line => line.Contains($"{id}: to=<{To}>", StringComparison.Ordinal));

        var restartedAt = sender.Log.Count;
        await sender.RestartAsync();
        await WaitForStatusAsync(sender, id, To, "sent", restartedAt);
        await WaitForRemovedAsync(sender, id, restartedAt);
        var complete = slow.Dumps().Where(dump => dump.Contains("Subject: slow-kill", StringComparison.Ordinal)).ToList();
        Assert.Single(complete);
    }

    /// <summary>Polls /proc/net/tcp (bounded) until an established connection to <paramref name="endPoint"/> exists.</summary>
    private static async Task WaitForConnectionAsync(System.Net.IPEndPoint endPoint)
    {
        // /proc/net/tcp writes an IPv4 address as the hex of its 32-bit value in host (little-endian) order.
        var bytes = endPoint.Address.GetAddressBytes();
        var remote = $"{bytes[3]:X2}{bytes[2]:X2}{bytes[1]:X2}{bytes[0]:X2}:{endPoint.Port:X4}";
        var deadline = DateTime.UtcNow + MailroomProcess.WaitTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var established = File.ReadLines("/proc/net/tcp").Skip(1)
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Any(fields => fields.Length > 3 && fields[2] == remote && fields[3] == "01");
            if (established)
            {
                return;
            }

            await Task.Delay(5); // polling a kernel table, bounded by the deadline
        }

        throw new TimeoutException($"no connection to {endPoint} within {MailroomProcess.WaitTimeout.TotalSeconds} s");
    }

    /// <summary>
    /// A smart host is always verified (issue 3): smtp-sink offers no STARTTLS, so the message must
    /// stay queued, deferred with 4.7.0, and nothing of it may reach the relay in plaintext. The log
    /// line does not carry the status code, so the delay warning (delay_warning = 1 s) shows it.
    /// </summary>
    [Fact]
    public async Task ARelayHostWithoutTlsDefersInsteadOfSendingInPlaintext()
    {
        const string To = "someone@far-away.test";
        await using var relay = await SmtpSink.StartAsync(At("127.0.0.23", _port), null);
        await using var sender = await StartSenderAsync(Dns.EndPoint, _port, $"relay_host = \"[127.0.0.23]:{_port}\"\ndelay_warning = 1");

        var id = await SubmitAsync(sender, [To], Message(To, "smart-host"));

        var deferred = await WaitForStatusAsync(sender, id, To, "deferred");
        Assert.Contains("TLS is required", deferred, StringComparison.Ordinal);
        var (_, recipient, _) = await WaitForReportAsync(sender, id, "delayed");
        Assert.Equal("delayed", recipient["Action"], ignoreCase: true);
        Assert.Equal("4.7.0", recipient["Status"]);
        Assert.True(IsQueued(sender, id), "the message left the queue");
        Assert.Empty(relay.Dumps());
        Assert.DoesNotContain(sender.Log.Lines, line => line.Contains($"{id}: to=<{To}>", StringComparison.Ordinal) && !line.Contains("status=deferred", StringComparison.Ordinal));
    }
}

/// <summary>
/// A DNS server that does not answer: the MX look-up times out, which defers and never bounces.
/// Slow by nature: the resolver waits 5 s and retries twice (DnsResolverOptions: 15 s in all), and
/// [dns] has no key to shorten it. One test, in a class of its own so it runs beside the others.
/// </summary>
public sealed class DnsTimeoutDeliveryTests
{
    [Fact]
    public async Task ADnsTimeoutDefersAndKeepsTheMessage()
    {
        const string To = "someone@timeout.test";

        // Nothing answers on this UDP port: dnsmasq forwards and waits, so the resolver times out.
        int deadPort;
        using (var probe = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)))
        {
            deadPort = ((System.Net.IPEndPoint)probe.Client.LocalEndPoint!).Port;
        }

        await using var dns = await Dnsmasq.StartAsync(["--local=/test/", $"--server=/timeout.test/127.0.0.1#{deadPort}"]);
        await using var sender = await StartSenderAsync(dns.EndPoint, FreePort());

        var id = await SubmitAsync(sender, [To], Message(To, "dns-timeout"));

        var deferred = await WaitForStatusAsync(sender, id, To, "deferred", timeout: TimeSpan.FromSeconds(45));
        Assert.Contains("relay=none", deferred, StringComparison.Ordinal);
        await sender.Log.WaitForAsync(line => line.Contains($"{id}: 1 recipients deferred, next attempt in ", StringComparison.Ordinal), "the deferral");
        Assert.True(IsQueued(sender, id));
        Assert.DoesNotContain(sender.Log.Lines, line => line.Contains("status=bounced", StringComparison.Ordinal));
    }
}

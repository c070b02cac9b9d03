using System.Text;
using Mailroom.IntegrationTests.Infrastructure;
using Mailroom.Testing;
using static Mailroom.IntegrationTests.Delivery.DeliveryHarness;

using Mailroom.Tests.Shared;

namespace Mailroom.IntegrationTests.Delivery;

/// <summary>
/// The zone, the receiving Mailroom and the sending Mailroom, shared by the tests of
/// <see cref="MxDeliveryTests"/> (each test uses domains of its own, so they don't meet in the
/// sender's destination status cache). Every peer listens on one port, each on its own 127.0.0.x.
/// </summary>
public sealed class MxDeliveryFixture : IAsyncLifetime
{
    public const string ReceiverAddress = "127.0.0.3";
    public const string Bob = "bob@receiver.test";
    public const string Carol = "carol@fallback.test";
    public const string Dave = "dave@implicit.test";

    private ServfailDnsServer? _servfail;
    private Dnsmasq? _dns;
    private MailroomProcess? _receiver;
    private MailroomProcess? _sender;

    /// <summary>The port of every remote peer (the sender's [delivery] remote_port).</summary>
    public int Port { get; } = FreePort();

    internal MailroomProcess Receiver => _receiver ?? throw new InvalidOperationException("not started");

    internal MailroomProcess Sender => _sender ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _servfail = new ServfailDnsServer();
        _dns = await Dnsmasq.StartAsync([
            // Every name under test. is answered here; one not listed is NXDOMAIN.
            "--local=/test/",

            // Two preferences: the receiving Mailroom is the best, a sink the backup.
            "--mx-host=receiver.test,mx1.receiver.test,10",
            "--mx-host=receiver.test,mx2.receiver.test,20",
            "--host-record=mx1.receiver.test,127.0.0.3",
            "--host-record=mx2.receiver.test,127.0.0.4",

            // The best MX has nothing listening; the next is the receiving Mailroom.
            "--mx-host=fallback.test,dead.fallback.test,5",
            "--mx-host=fallback.test,mx.fallback.test,10",
            "--host-record=dead.fallback.test,127.0.0.5",
            "--host-record=mx.fallback.test,127.0.0.3",

            // Two hosts of equal preference.
            "--mx-host=equal.test,a.equal.test,10",
            "--mx-host=equal.test,b.equal.test,10",
            "--host-record=a.equal.test,127.0.0.6",
            "--host-record=b.equal.test,127.0.0.7",

            // No MX: the domain's own A record (implicit MX).
            "--host-record=implicit.test,127.0.0.3",

            // Null MX (RFC 7505).
            "--mx-host=nullmx.test,.,0",

            // SERVFAIL from the server dnsmasq forwards to.
            $"--server=/servfail.test/127.0.0.1#{_servfail.Port}",

            "--mx-host=tempfail.test,mx.tempfail.test,10",
            "--host-record=mx.tempfail.test,127.0.0.8",
            "--mx-host=reject.test,mx.reject.test,10",
            "--host-record=mx.reject.test,127.0.0.9",
            "--mx-host=seven.test,mx.seven.test,10",
            "--host-record=mx.seven.test,127.0.0.10",
            "--mx-host=drop.test,mx1.drop.test,10",
            "--mx-host=drop.test,mx2.drop.test,20",
            "--host-record=mx1.drop.test,127.0.0.11",
            "--host-record=mx2.drop.test,127.0.0.12",

            // The best MX refuses the recipient with 4xx (greylisting); a backup would accept.
            "--mx-host=greylist.test,mx1.greylist.test,10",
            "--mx-host=greylist.test,mx2.greylist.test,20",
            "--host-record=mx1.greylist.test,127.0.0.13",
            "--host-record=mx2.greylist.test,127.0.0.14",

            // An MX that is the sender itself.
            "--mx-host=loop.test,mx.loop.test,10",
            $"--host-record=mx.loop.test,{SenderAddress}",
        ]);

        _receiver = await MailroomProcess.StartAsync(new MailroomProcessOptions
        {
            Hostname = "mx1.receiver.test",
            LocalDomains = ["receiver.test", "fallback.test", "implicit.test"],
            ListenAddress = ReceiverAddress,
            SmtpPort = Port,
            Users = [Bob, Carol, Dave],
            ExtraToml = $"""
                [dns]
                servers = ["{_dns.EndPoint}"]
                """,
        });
        _sender = await StartSenderAsync(_dns.EndPoint, Port);
    }

    public Task DisposeAsync() => AsyncDisposables.DisposeAllAsync(_sender, _receiver, _dns, _servfail);
}

/// <summary>
/// Issue 3, "Tests that must exist": the mailroom executable delivering by MX to another mailroom
/// and to Postfix's smtp-sink, with dnsmasq serving the zone, everything on loopback.
/// </summary>
public sealed class MxDeliveryTests(MxDeliveryFixture fixture) : IClassFixture<MxDeliveryFixture>
{
    private MailroomProcess Sender => fixture.Sender;

    private MailroomProcess Receiver => fixture.Receiver;

    [Fact]
    public async Task DeliversToTheLowestPreferenceMxAnotherMailroom()
    {
        await using var backup = await SmtpSink.StartAsync(At("127.0.0.4", fixture.Port), null);
        var before = Receiver.MaildirFiles(MxDeliveryFixture.Bob).Count;

        var id = await SubmitAsync(Sender, [MxDeliveryFixture.Bob], Message(MxDeliveryFixture.Bob, "lowest-preference"));

        var sent = await WaitForStatusAsync(Sender, id, MxDeliveryFixture.Bob, "sent");
        Assert.Contains($"relay=mx1.receiver.test[127.0.0.3]:{fixture.Port},", sent, StringComparison.Ordinal);
        var files = await Receiver.WaitForMaildirFilesAsync(MxDeliveryFixture.Bob, before + 1);
        Assert.Contains(files, file => File.ReadAllText(file).Contains("Subject: lowest-preference", StringComparison.Ordinal));
        await WaitForRemovedAsync(Sender, id);
        Assert.Empty(backup.Dumps());
    }

    [Fact]
    public async Task FallsBackToTheNextMxWhenTheBestDoesNotAnswer()
    {
        var before = Receiver.MaildirFiles(MxDeliveryFixture.Carol).Count;

        var id = await SubmitAsync(Sender, [MxDeliveryFixture.Carol], Message(MxDeliveryFixture.Carol, "fallback"));

        var sent = await WaitForStatusAsync(Sender, id, MxDeliveryFixture.Carol, "sent");
        Assert.Contains($"relay=mx.fallback.test[127.0.0.3]:{fixture.Port},", sent, StringComparison.Ordinal);
        Assert.Contains(Sender.Log.Lines, line => line.Contains($"{id}: host dead.fallback.test[127.0.0.5]:{fixture.Port} failed, trying the next", StringComparison.Ordinal));
        await Receiver.WaitForMaildirFilesAsync(MxDeliveryFixture.Carol, before + 1);
    }

    [Fact]
    public async Task DeliversToTheDomainsOwnAddressWithoutMx()
    {
        var before = Receiver.MaildirFiles(MxDeliveryFixture.Dave).Count;

        var id = await SubmitAsync(Sender, [MxDeliveryFixture.Dave], Message(MxDeliveryFixture.Dave, "implicit-mx"));

        var sent = await WaitForStatusAsync(Sender, id, MxDeliveryFixture.Dave, "sent");
        Assert.Contains($"relay=implicit.test[127.0.0.3]:{fixture.Port},", sent, StringComparison.Ordinal);
        await Receiver.WaitForMaildirFilesAsync(MxDeliveryFixture.Dave, before + 1);
    }

    [Fact]
    public async Task SpreadsMessagesAcrossMxHostsOfEqualPreference()
    {
        // Each message puts the two hosts in a fresh random order and goes to the first (both
        // accept). The chance that all 24 go to the same one is 2 × 2^-24 = 2^-23 ≈ 1.2e-7.
        const int Messages = 24;
        await using var a = await SmtpSink.StartAsync(At("127.0.0.6", fixture.Port), null);
        await using var b = await SmtpSink.StartAsync(At("127.0.0.7", fixture.Port), null);

        var ids = await SubmitAsync(Sender, Enumerable.Range(0, Messages).Select(i => (new[] { $"user{i}@equal.test" }, Message($"user{i}@equal.test", $"equal-{i}"))));

        for (var i = 0; i < Messages; i++)
        {
            await WaitForStatusAsync(Sender, ids[i], $"user{i}@equal.test", "sent");
        }

        var (toA, toB) = (a.DumpFiles().Count, b.DumpFiles().Count);
        Assert.True(toA + toB == Messages, $"{toA} + {toB} dumps for {Messages} messages");
        Assert.True(toA >= 1 && toB >= 1, $"a.equal.test got {toA}, b.equal.test got {toB}");
    }

    [Fact]
    public async Task DefersAfterA4xxAndDeliversOnTheRetry()
    {
        var endPoint = At("127.0.0.8", fixture.Port);
        var dumps = Directory.CreateTempSubdirectory("mailroom-it-tempfail-").FullName;
        try
        {
            const string To = "someone@tempfail.test";
            string id;
            await using (var refusing = await SmtpSink.StartAsync(endPoint, dumps, "-r", "RCPT"))
            {
                id = await SubmitAsync(Sender, [To], Message(To, "tempfail"));
                var deferred = await WaitForStatusAsync(Sender, id, To, "deferred");
                Assert.Matches(@"status=deferred \((smtp; )?4\d\d ", deferred);
                await Sender.Log.WaitForAsync(line => line.Contains($"{id}: 1 recipients deferred, next attempt in ", StringComparison.Ordinal), "the deferral");
                Assert.True(IsQueued(Sender, id));
            }

            // The same host now accepts; the retry (minimal_backoff = 1 s) delivers.
            await using var accepting = await SmtpSink.StartAsync(endPoint, dumps);
            await WaitForStatusAsync(Sender, id, To, "sent");
            await WaitForRemovedAsync(Sender, id);
            var dump = Assert.Single(accepting.Dumps());
            Assert.Contains("Subject: tempfail", dump, StringComparison.Ordinal);
            Assert.DoesNotContain(Sender.Log.Lines, line => line.Contains($"{id}: sender failed report", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dumps, recursive: true);
        }
    }

    [Fact]
    public async Task A5xxBouncesToTheSenderWithTheRemoteStatusAndDiagnostic()
    {
        const string To = "nobody@reject.test";
        await using var sink = await SmtpSink.StartAsync(At("127.0.0.9", fixture.Port), null, "-f", "RCPT", "-B", "550 5.1.1 No such user here");

        var id = await SubmitAsync(Sender, [To], Message(To, "hard-bounce"));

        await WaitForStatusAsync(Sender, id, To, "bounced");
        var (report, recipient, path) = await WaitForBounceAsync(Sender, id);
        var text = await File.ReadAllTextAsync(path);
        Assert.Equal("<>", report.Headers["Return-Path"]?.Trim());
        Assert.Equal("failed", recipient["Action"], ignoreCase: true);
        Assert.Equal("5.1.1", recipient["Status"]);
        Assert.Equal($"rfc822; {To}", recipient["Final-Recipient"], ignoreCase: true);
        Assert.Equal("smtp; 550 5.1.1 No such user here", recipient["Diagnostic-Code"]);
        Assert.Contains("mx.reject.test", recipient["Remote-MTA"] ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Subject: hard-bounce", text, StringComparison.Ordinal);
        Assert.Empty(sink.Dumps());
        await WaitForRemovedAsync(Sender, id);
    }

    [Theory]
    [InlineData("someone@nullmx.test", "5.1.10")]
    [InlineData("someone@nosuch.test", "5.1.2")]
    [InlineData("someone@loop.test", "5.4.6")]
    public async Task DnsAnswersThatMeanNoDeliveryBounceAtOnce(string to, string status)
    {
        var id = await SubmitAsync(Sender, [to], Message(to, "dns-" + status));

        await WaitForStatusAsync(Sender, id, to, "bounced");
        var (_, recipient, _) = await WaitForBounceAsync(Sender, id);
        Assert.Equal("failed", recipient["Action"], ignoreCase: true);
        Assert.Equal(status, recipient["Status"]);
        await WaitForRemovedAsync(Sender, id);
    }

    [Fact]
    public async Task ServfailDefersAndKeepsTheMessage()
    {
        const string To = "someone@servfail.test";

        var id = await SubmitAsync(Sender, [To], Message(To, "servfail"));

        var deferred = await WaitForStatusAsync(Sender, id, To, "deferred");
        Assert.Contains("relay=none", deferred, StringComparison.Ordinal);
        await Sender.Log.WaitForAsync(line => line.Contains($"{id}: 1 recipients deferred, next attempt in ", StringComparison.Ordinal), "the deferral");

        // A second attempt (1 s later) defers again: a DNS failure never bounces.
        await WaitForStatusAsync(Sender, id, To, "deferred", Sender.Log.Lines.ToList().FindIndex(line => line == deferred) + 1);
        Assert.True(IsQueued(Sender, id));
        Assert.DoesNotContain(Sender.Log.Lines, line => line.Contains($"{id}: to=<{To}>", StringComparison.Ordinal) && line.Contains("status=bounced", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EightBitContentIsConvertedToSevenBitForAPeerWithout8BitMime()
    {
        const string To = "someone@seven.test";
        await using var sink = await SmtpSink.StartAsync(At("127.0.0.10", fixture.Port), null, "-8");
        var content = $"From: <{Alice}>\r\nTo: <{To}>\r\nSubject: eight-bit\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n";

        var id = await SubmitAsync(Sender, [To], content, " BODY=8BITMIME");

        await WaitForStatusAsync(Sender, id, To, "sent");
        var path = Assert.Single(sink.DumpFiles());
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.All(bytes, b => Assert.True(b < 0x80, $"8-bit byte 0x{b:x2} sent to a peer without 8BITMIME"));
        var dump = Encoding.ASCII.GetString(bytes);
        Assert.DoesNotContain("BODY=8BITMIME", dump, StringComparison.Ordinal);

        // MimeKit picks quoted-printable or base64 (by the share of 8-bit characters); both are 7 bit (RFC 6152 §3).
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(dump, "(?im)^Content-Transfer-Encoding: (quoted-printable|base64)$"), dump);
        var arrived = await MimeKit.MimeMessage.LoadAsync(new MemoryStream(bytes));
        Assert.Equal("Grüße aus Köln", arrived.TextBody?.TrimEnd());
    }

    [Fact]
    public async Task AConnectionDroppedMidDataMovesOnToTheNextMx()
    {
        const string To = "someone@drop.test";
        await using var dropping = new DroppingSmtpServer(At("127.0.0.11", fixture.Port));
        await using var backup = await SmtpSink.StartAsync(At("127.0.0.12", fixture.Port), null);

        var id = await SubmitAsync(Sender, [To], Message(To, "dropped"));

        var sent = await WaitForStatusAsync(Sender, id, To, "sent");
        Assert.Contains($"relay=mx2.drop.test[127.0.0.12]:{fixture.Port},", sent, StringComparison.Ordinal);
        Assert.Equal(1, dropping.Drops);
        Assert.Contains(Sender.Log.Lines, line => line.Contains($"{id}: host mx1.drop.test[127.0.0.11]:{fixture.Port} failed, trying the next", StringComparison.Ordinal));
        var dump = Assert.Single(backup.Dumps());
        Assert.Contains("Subject: dropped", dump, StringComparison.Ordinal);
        await WaitForRemovedAsync(Sender, id);
    }

    /// <summary>
    /// Issue 3: the next host is tried on a connection failure, a timeout or a 4xx greeting; a 4xx
    /// to RCPT is that recipient's answer (greylisting, a full mailbox) and defers it, as Postfix's
    /// smtp(8) does, instead of handing the message to a backup MX.
    /// </summary>
    [Fact]
    public async Task A4xxToRcptDefersTheRecipientWithoutTryingTheBackupMx()
    {
        const string To = "someone@greylist.test";
        await using var greylisting = await SmtpSink.StartAsync(At("127.0.0.13", fixture.Port), null, "-r", "RCPT");
        await using var backup = await SmtpSink.StartAsync(At("127.0.0.14", fixture.Port), null);

        var id = await SubmitAsync(Sender, [To], Message(To, "greylisted"));

        var deferred = await WaitForStatusAsync(Sender, id, To, "deferred");
        Assert.Contains("relay=mx1.greylist.test[127.0.0.13]", deferred, StringComparison.Ordinal);
        Assert.Empty(backup.Dumps());
    }
}

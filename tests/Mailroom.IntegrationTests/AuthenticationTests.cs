using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Mailroom.IntegrationTests.Infrastructure;
using Mailroom.Testing;

namespace Mailroom.IntegrationTests;

/// <summary>
/// The world of the authentication tests: dnsmasq answering for *.test with SPF, DKIM and DMARC
/// records; the receiving Mailroom B (mx.b.test on 127.0.0.51, SPF Fail refused, DKIM and DMARC
/// verified); and the sending Mailroom A (mx.a.test on 127.0.0.50, relaying for 127.0.0.0/8, signing
/// mail from a.test with an RSA and an Ed25519 key made by <c>mailroom dkim keygen</c> with A's own
/// configuration, delivering by MX to B). A's keys are made before dnsmasq starts (dnsmasq reads its
/// records once), so dnsmasq is started in A's before-launch step and B after A.
/// </summary>
public sealed partial class AuthenticationWorld : IAsyncLifetime
{
    public const string SenderAddress = "127.0.0.50";
    public const string ReceiverAddress = "127.0.0.51";
    public const string ReceiverHostname = "mx.b.test";
    public const string Bob = "bob@b.test";
    public const string Alice = "alice@a.test";

    /// <summary>Authorised by good.test's SPF record; every other client address is not.</summary>
    public const string AuthorisedClient = "127.0.0.60";
    public const string UnauthorisedClient = "127.0.0.61";

    /// <summary>The selector of the key the tests sign with through dkimpy.</summary>
    public const string TestSelector = "k1";

    private const string SpfGood = "v=spf1 ip4:" + AuthorisedClient + " -all";

    private Dnsmasq? _dns;
    private ServfailDnsServer? _servfail;
    private MailroomProcess? _sender;
    private MailroomProcess? _receiver;

    public AuthenticationWorld()
    {
        using var rsa = RSA.Create(2048);
        TestKeyPem = rsa.ExportRSAPrivateKeyPem(); // PKCS#1: the form dkimpy reads
        TestKeyRecord = "v=DKIM1; k=rsa; p=" + Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo());
    }

    /// <summary>The port every Mailroom smtp listener of this world uses, each on its own address.</summary>
    public int Port { get; } = Delivery.DeliveryHarness.FreePort();

    internal string TestKeyPem { get; }

    internal string TestKeyRecord { get; }

    /// <summary>The DKIM key records A's keygen printed, by name (s1._domainkey.a.test): what dnsmasq publishes.</summary>
    internal Dictionary<string, string> PublishedKeys { get; } = new(StringComparer.OrdinalIgnoreCase);

    internal Dnsmasq Dns => _dns ?? throw new InvalidOperationException("not started");

    internal MailroomProcess Sender => _sender ?? throw new InvalidOperationException("not started");

    internal MailroomProcess Receiver => _receiver ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _sender = await MailroomProcess.StartAsync(new MailroomProcessOptions
        {
            Hostname = "mx.a.test",
            LocalDomains = ["a.test"],
            ListenAddress = SenderAddress,
            ExtraToml = $"""
                [relay]
                trusted_networks = ["127.0.0.0/8"]

                [delivery]
                remote_port = {Port}
                minimal_backoff = 1
                maximal_backoff = 2
                """,
            BeforeLaunch = PrepareSenderAsync,
        });

        _receiver = await StartReceiverAsync(ReceiverHostname, ReceiverAddress, Port, "spf_fail = \"reject\"\nverify_inbound = true", ["b.test"], Bob);
    }

    /// <summary>A receiving Mailroom on this world's DNS with the [authentication] body given.</summary>
    internal Task<MailroomProcess> StartReceiverAsync(string hostname, string address, int port, string authentication, string[] domains, params string[] users) =>
        MailroomProcess.StartAsync(new MailroomProcessOptions
        {
            Hostname = hostname,
            LocalDomains = domains,
            ListenAddress = address,
            SmtpPort = port,
            Users = users,
            Authentication = authentication,
            ExtraToml = $"""
                [dns]
                servers = ["{Dns.EndPoint}"]
                """,
        });

    public Task DisposeAsync() => AsyncDisposables.DisposeAllAsync(_sender, _receiver, _dns, _servfail);

    /// <summary>
    /// A's keys with <c>mailroom dkim keygen --config A's config</c>; the printed TXT records go into
    /// dnsmasq and the printed [[dkim]] lines, with [dns], into A's configuration.
    /// </summary>
    private async Task PrepareSenderAsync(MailroomProcess sender)
    {
        var dkimLines = new StringBuilder();
        var keyRecords = new List<string>();
        foreach (var (selector, algorithm) in new[] { ("s1", "rsa"), ("s2", "ed25519") })
        {
            var result = await sender.RunCommandAsync(null, "dkim", "keygen", "--domain", "a.test", "--selector", selector, "--algorithm", algorithm);
            Assert.True(result.ExitCode == 0, result.ToString());
            var output = result.StandardOutput;
            var zoneLine = output.Split('\n').Single(line => line.Contains(" IN TXT ", StringComparison.Ordinal));
            var name = zoneLine[..zoneLine.IndexOf(' ', StringComparison.Ordinal)];
            Assert.Equal($"{selector}._domainkey.a.test", name);
            var strings = QuotedString().Matches(zoneLine).Select(match => match.Groups[1].Value).ToList();
            Assert.All(strings, text => Assert.True(text.Length <= 255, $"a TXT string longer than 255: {zoneLine}"));
            PublishedKeys[name] = string.Concat(strings);
            keyRecords.Add($"--txt-record={name},{string.Join(',', strings)}");
            var configLines = output[output.IndexOf("[[dkim]]", StringComparison.Ordinal)..];
            dkimLines.Append('\n').Append(configLines);
        }

        // dnsmasq's arguments reach it without a shell: no quotes (it would keep them), and a comma
        // separates the strings of one TXT record (the shell's --txt-record=name,"part1","part2").
        _servfail = new ServfailDnsServer();
        _dns = await Dnsmasq.StartAsync(
        [
            "--local=/test/",

            // b.test: the receiving Mailroom.
            "--mx-host=b.test,mx.b.test,10",
            $"--host-record=mx.b.test,{ReceiverAddress}",

            // a.test: A's keys, one dnsmasq string per string keygen printed; A's outbound
            // connections to 127.0.0.51 leave from 127.0.0.1 (the source address of lo's route).
            .. keyRecords,
            "--txt-record=a.test,v=spf1 ip4:127.0.0.1 -all",
            "--txt-record=_dmarc.a.test,v=DMARC1; p=reject",

            // good.test: the test's dkimpy key (split into several strings), SPF for one client, p=reject.
            $"--txt-record={TestSelector}._domainkey.good.test,{Dkimpy.DnsmasqStrings(TestKeyRecord)}",
            $"--txt-record=good.test,{SpfGood}",
            "--txt-record=_dmarc.good.test,v=DMARC1; p=reject",

            // quarantine.test: p=quarantine, no SPF.
            "--txt-record=_dmarc.quarantine.test,v=DMARC1; p=quarantine",

            // elsewhere.test (envelope senders of the forgeries): exists, no SPF, no DMARC.
            "--host-record=elsewhere.test,127.0.0.62",

            // servfail.test: every lookup fails (SERVFAIL from the server dnsmasq forwards to).
            $"--server=/servfail.test/127.0.0.1#{_servfail.Port}",
        ]);

        await File.AppendAllTextAsync(sender.ConfigPath, $"""


            [dns]
            servers = ["{_dns.EndPoint}"]
            {dkimLines}
            """);
    }

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex QuotedString();
}

/// <summary>
/// Issue 6 end to end through the <c>mailroom</c> executable: SPF at MAIL FROM, DKIM and DMARC at
/// the end of DATA, the Authentication-Results and Received-SPF headers in the delivered file,
/// quarantine into .Junk, forged results removed, and Mailroom's own signatures verified by a second
/// Mailroom and by dkimpy.
/// </summary>
public sealed class AuthenticationTests(AuthenticationWorld world) : IClassFixture<AuthenticationWorld>
{
    private const string Hostname = AuthenticationWorld.ReceiverHostname;
    private const string Bob = AuthenticationWorld.Bob;

    private static string Message(string from, string tag, string extraHeaders = "") =>
        $"{extraHeaders}From: <{from}>\r\nTo: <{Bob}>\r\nSubject: {tag}\r\nDate: Sun, 30 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{tag}@test>\r\n\r\nHello from {tag}.\r\n";

    private static Task<RawSmtpClient> ConnectAsync(MailroomProcess server, string client) =>
        RawSmtpClient.ConnectFromAsync(IPAddress.Parse(client), server.ListenAddress, server.SmtpPort);

    /// <summary>EHLO, MAIL, RCPT, DATA and the content (ASCII, no line starting with a dot); the final reply.</summary>
    private static async Task<SmtpResponse> SendAsync(MailroomProcess server, string client, string mailFrom, string content, string to = Bob)
    {
        Assert.DoesNotContain("\n.", content, StringComparison.Ordinal);
        await using var smtp = await ConnectAsync(server, client);
        await smtp.CommandAsync("EHLO client.elsewhere.test", 250);
        var reply = await smtp.SendMessageAsync(mailFrom, to, Encoding.ASCII.GetBytes(content + ".\r\n"));
        await smtp.CommandAsync("QUIT", 221);
        return reply;
    }

    private static void AssertReply(SmtpResponse response, int code, string status)
    {
        Assert.True(response.Code == code && response.Lines[^1].StartsWith(status + " ", StringComparison.Ordinal), $"expected {code} {status}, got {response}");
    }

    private static string QueueId(SmtpResponse reply) => QueuedReply.QueueId(reply.Text, reply.ToString());

    private static IReadOnlyList<string> HeaderValues(string path, string name) =>
        [.. MaildirMessage.Headers(path).Where(field => string.Equals(field.Name, name, StringComparison.OrdinalIgnoreCase)).Select(field => field.Value)];

    /// <summary>The authserv-id of an Authentication-Results value (RFC 8601 §2.2: before the first ';').</summary>
    private static string AuthservId(string value) => value.Split(';')[0].Trim().Split(' ')[0];

    private static string Describe(string path) => $"--- {path} ---\n{File.ReadAllText(path)}";

    [Fact]
    public async Task Dkimpy_signed_mail_from_an_spf_authorised_client_passes_spf_dkim_and_dmarc()
    {
        var content = Message("someone@good.test", "signed-pass");
        var signature = await Dkimpy.SignAsync(Encoding.ASCII.GetBytes(content), AuthenticationWorld.TestSelector, "good.test", world.TestKeyPem, "from", "to", "subject", "date", "message-id");

        var reply = await SendAsync(world.Receiver, AuthenticationWorld.AuthorisedClient, "someone@good.test", signature + content);
        AssertReply(reply, 250, "2.0.0");
        var file = await world.Receiver.WaitForMaildirFileAsync(QueueId(reply), Bob);

        var results = Assert.Single(HeaderValues(file, "Authentication-Results"));
        Assert.Equal(Hostname, AuthservId(results));
        Assert.Contains("spf=pass", results, StringComparison.Ordinal);
        Assert.Matches(@"dkim=pass[^;]*header\.d=good\.test", results);
        Assert.Contains("dmarc=pass", results, StringComparison.Ordinal);
        var receivedSpf = Assert.Single(HeaderValues(file, "Received-SPF"));
        Assert.StartsWith("pass", receivedSpf, StringComparison.OrdinalIgnoreCase);

        // The signature still verifies with dkimpy after delivery (our headers are above it, unsigned).
        var verdicts = await Dkimpy.VerifyAsync(file, new Dictionary<string, string> { [$"{AuthenticationWorld.TestSelector}._domainkey.good.test"] = world.TestKeyRecord });
        Assert.True(verdicts.Count == 1 && verdicts[0].Pass, Describe(file));
    }

    [Fact]
    public async Task Forged_from_under_p_reject_is_refused_at_the_end_of_data()
    {
        var reply = await SendAsync(world.Receiver, AuthenticationWorld.UnauthorisedClient, "someone@elsewhere.test", Message("ceo@good.test", "forged-reject"));
        AssertReply(reply, 550, "5.7.1");

        Assert.DoesNotContain(world.Receiver.Log.Lines, line => line.Contains("queued as", StringComparison.Ordinal) && line.Contains("forged-reject", StringComparison.Ordinal));
        Assert.DoesNotContain(AllFiles(world.Receiver, Bob), file => File.ReadAllText(file).Contains("forged-reject", StringComparison.Ordinal));
    }

    [Fact]
    public async Task P_quarantine_delivers_into_the_junk_folder_with_the_reason()
    {
        var reply = await SendAsync(world.Receiver, AuthenticationWorld.UnauthorisedClient, "someone@elsewhere.test", Message("news@quarantine.test", "quarantined"));
        AssertReply(reply, 250, "2.0.0");
        var id = QueueId(reply);
        await world.Receiver.WaitForDeliveryAsync(id, Bob);

        var junk = Path.Combine(world.Receiver.MaildirOf(Bob), ".Junk", "new");
        var file = Assert.Single(Directory.Exists(junk) ? Directory.GetFiles(junk) : [], path => Path.GetFileName(path).Contains($".M{id}R", StringComparison.Ordinal));
        var reason = Assert.Single(HeaderValues(file, "X-Mailroom-Quarantine"));
        Assert.Contains("quarantine.test", reason, StringComparison.Ordinal);
        Assert.Contains("dmarc=fail", Assert.Single(HeaderValues(file, "Authentication-Results")), StringComparison.Ordinal);
        Assert.DoesNotContain(world.Receiver.MaildirFiles(Bob), path => Path.GetFileName(path).Contains($".M{id}R", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Spf_fail_is_refused_at_mail_from_and_only_marked_with_spf_fail_mark()
    {
        await using (var smtp = await ConnectAsync(world.Receiver, AuthenticationWorld.UnauthorisedClient))
        {
            await smtp.CommandAsync("EHLO client.elsewhere.test", 250);
            AssertReply(await smtp.CommandAsync("MAIL FROM:<someone@good.test>"), 550, "5.7.23");

            // The same client may still send as a domain whose SPF does not fail.
            AssertReply(await smtp.CommandAsync("MAIL FROM:<someone@elsewhere.test>"), 250, "2.1.0");
        }

        await using var marking = await world.StartReceiverAsync("mx.mark.test", "127.0.0.52", 0, "spf_fail = \"mark\"\nverify_inbound = true", ["mark.test"], "carol@mark.test");
        var reply = await SendAsync(marking, AuthenticationWorld.UnauthorisedClient, "someone@good.test", Message("someone@elsewhere.test", "spf-marked"), to: "carol@mark.test");
        AssertReply(reply, 250, "2.0.0");
        var file = await marking.WaitForMaildirFileAsync(QueueId(reply), "carol@mark.test");
        Assert.StartsWith("fail", Assert.Single(HeaderValues(file, "Received-SPF")), StringComparison.OrdinalIgnoreCase);
        var results = Assert.Single(HeaderValues(file, "Authentication-Results"));
        Assert.Equal("mx.mark.test", AuthservId(results));
        Assert.Contains("spf=fail", results, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authentication_results_claiming_our_hostname_are_removed()
    {
        var forged =
            $"Authentication-Results: {Hostname}; dkim=pass header.d=good.test\r\n" +
            $"Authentication-Results: {Hostname.ToUpperInvariant()};\r\n\tdmarc=pass header.from=good.test\r\n" +
            $"Authentication-Results:\r\n {Hostname}; spf=pass smtp.mailfrom=good.test\r\n" +
            $"Authentication-Results: (a comment) \"{Hostname}\" 1; dkim=pass header.d=good.test\r\n" +
            $"Authentication-Results : {Hostname}; dkim=pass header.d=good.test\r\n" +
            "Authentication-Results: mx.elsewhere.test; spf=pass smtp.mailfrom=good.test\r\n";
        var reply = await SendAsync(world.Receiver, AuthenticationWorld.AuthorisedClient, "someone@good.test", Message("someone@good.test", "forged-results", forged));
        AssertReply(reply, 250, "2.0.0");
        var file = await world.Receiver.WaitForMaildirFileAsync(QueueId(reply), Bob);

        var all = HeaderValues(file, "Authentication-Results");
        var ours = Assert.Single(all, value => string.Equals(AuthservId(value), Hostname, StringComparison.OrdinalIgnoreCase));
        Assert.Equal(Hostname, AuthservId(ours));
        Assert.Contains("spf=pass", ours, StringComparison.Ordinal);
        Assert.Contains("dkim=none", ours, StringComparison.Ordinal);
        Assert.DoesNotContain("header.d=good.test", ours, StringComparison.Ordinal);

        // Another host's results are not ours to judge; they stay, below ours.
        Assert.Single(all, value => AuthservId(value) == "mx.elsewhere.test");
        Assert.Equal(2, all.Count);
    }

    [Fact]
    public async Task Mail_signed_by_mailroom_verifies_at_a_second_mailroom_and_with_dkimpy()
    {
        var tag = "relayed-signed";
        var content = $"From: Alice <{AuthenticationWorld.Alice}>\r\nTo: <{Bob}>\r\nSubject: {tag}\r\nDate: Sun, 30 Nov 2025 10:00:00 +0000\r\nMessage-ID: <{tag}@a.test>\r\n\r\nSigned twice,\r\n  with   odd  spacing \r\n\r\n";
        await using (var smtp = await RawSmtpClient.ConnectAsync(world.Sender.ListenAddress, world.Sender.SmtpPort))
        {
            await smtp.CommandAsync("EHLO client.a.test", 250);
            AssertReply(await smtp.SendMessageAsync(AuthenticationWorld.Alice, Bob, Encoding.ASCII.GetBytes(content + ".\r\n")), 250, "2.0.0");
            await smtp.CommandAsync("QUIT", 221);
        }

        // B's copy: found by its subject (B's queue ID is its own).
        string? file = null;
        await world.Receiver.Log.WaitUntilAsync(
            () => (file = world.Receiver.MaildirFiles(Bob).FirstOrDefault(path => File.ReadAllText(path).Contains($"Subject: {tag}", StringComparison.Ordinal))) is not null,
            line => line.Contains("status=sent", StringComparison.Ordinal),
            $"the relayed message in {Bob}'s Maildir\n--- sender log ---\n{world.Sender.Log}");
        Assert.NotNull(file);

        var signatures = HeaderValues(file, "DKIM-Signature");
        Assert.Equal(2, signatures.Count);
        var results = Assert.Single(HeaderValues(file, "Authentication-Results"));
        Assert.Equal(Hostname, AuthservId(results));
        Assert.Contains("spf=pass", results, StringComparison.Ordinal);
        Assert.Contains("dmarc=pass", results, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Matches(results, @"dkim=pass[^;]*header\.d=a\.test").Count);
        Assert.Contains("header.a=rsa-sha256", results, StringComparison.Ordinal);
        Assert.Contains("header.a=ed25519-sha256", results, StringComparison.Ordinal);

        // dkimpy, with B's Received, Return-Path, Delivered-To and Authentication-Results above the signatures.
        var verdicts = await Dkimpy.VerifyAsync(file, world.PublishedKeys);
        Assert.True(verdicts.Count == 2, Describe(file));
        Assert.All(verdicts, verdict => Assert.True(verdict.Pass && verdict.Domain == "a.test", $"dkimpy: {verdict}\n{Describe(file)}"));
        Assert.Equal(["ed25519-sha256", "rsa-sha256"], verdicts.Select(verdict => verdict.Algorithm).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Authentication_results_claiming_our_hostname_are_removed_after_a_long_header_block()
    {
        // More than the 64 KiB the session holds back, then the forged field.
        var padding = new StringBuilder();
        for (var i = 0; padding.Length < 70 * 1024; i++)
        {
            padding.Append($"X-Padding-{i}: ").Append('x', 90).Append("\r\n");
        }

        // The padding in its own write, so the server has read past 64 KiB before the forged field arrives.
        await using var smtp = await ConnectAsync(world.Receiver, AuthenticationWorld.AuthorisedClient);
        await smtp.CommandAsync("EHLO client.elsewhere.test", 250);
        await smtp.CommandAsync("MAIL FROM:<someone@good.test>", 250);
        await smtp.CommandAsync($"RCPT TO:<{Bob}>", 250);
        await smtp.CommandAsync("DATA", 354);
        await smtp.SendAsync(padding.ToString());
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        await smtp.SendAsync(Message("someone@good.test", "forged-results-late", $"Authentication-Results: {Hostname}; dkim=pass header.d=good.test\r\n") + ".\r\n");
        var reply = await smtp.ReadResponseAsync();
        if (reply.Code == 250)
        {
            var file = await world.Receiver.WaitForMaildirFileAsync(QueueId(reply), Bob);
            var ours = Assert.Single(HeaderValues(file, "Authentication-Results"), value => string.Equals(AuthservId(value), Hostname, StringComparison.OrdinalIgnoreCase));
            Assert.Contains("dkim=none", ours, StringComparison.Ordinal);
        }
        else
        {
            // Refusing such a message outright is as good: the forgery never reaches the mailbox.
            AssertReply(reply, 550, "5.7.1");
        }
    }

    [Fact]
    public async Task Spf_temperror_is_answered_451_4_7_24()
    {
        await using var smtp = await ConnectAsync(world.Receiver, AuthenticationWorld.UnauthorisedClient);
        await smtp.CommandAsync("EHLO client.elsewhere.test", 250);
        AssertReply(await smtp.CommandAsync("MAIL FROM:<someone@servfail.test>"), 451, "4.7.24");
    }

    [Fact]
    public async Task Altered_body_fails_dkim_and_dmarc_passes_on_aligned_spf()
    {
        var content = Message("someone@good.test", "altered-body");
        var signature = await Dkimpy.SignAsync(Encoding.ASCII.GetBytes(content), AuthenticationWorld.TestSelector, "good.test", world.TestKeyPem, "from", "to", "subject", "date", "message-id");
        var altered = content.Replace("Hello from", "Goodbye from", StringComparison.Ordinal);

        var reply = await SendAsync(world.Receiver, AuthenticationWorld.AuthorisedClient, "someone@good.test", signature + altered);
        AssertReply(reply, 250, "2.0.0");
        var results = Assert.Single(HeaderValues(await world.Receiver.WaitForMaildirFileAsync(QueueId(reply), Bob), "Authentication-Results"));
        Assert.Matches(@"dkim=fail[^;]*header\.d=good\.test", results);
        Assert.Contains("spf=pass", results, StringComparison.Ordinal);
        Assert.Contains("dmarc=pass", results, StringComparison.Ordinal);

        // From a client SPF does not authorise, nothing aligned passes: p=reject applies.
        reply = await SendAsync(world.Receiver, AuthenticationWorld.UnauthorisedClient, "someone@elsewhere.test", signature + altered);
        AssertReply(reply, 550, "5.7.1");
    }

    [Fact]
    public async Task Message_with_two_from_addresses_is_refused()
    {
        var content = $"From: <someone@good.test>\r\nFrom: <other@elsewhere.test>\r\nTo: <{Bob}>\r\nSubject: two-from\r\n\r\nHello.\r\n";
        AssertReply(await SendAsync(world.Receiver, AuthenticationWorld.AuthorisedClient, "someone@good.test", content), 550, "5.7.1");
        var none = $"To: <{Bob}>\r\nSubject: no-from\r\n\r\nHello.\r\n";
        AssertReply(await SendAsync(world.Receiver, AuthenticationWorld.AuthorisedClient, "someone@good.test", none), 550, "5.7.1");
    }

    [Fact]
    public async Task Null_sender_is_checked_against_the_helo_identity()
    {
        await using var smtp = await ConnectAsync(world.Receiver, AuthenticationWorld.UnauthorisedClient);
        await smtp.CommandAsync("EHLO good.test", 250);
        AssertReply(await smtp.CommandAsync("MAIL FROM:<>"), 550, "5.7.23");
        await smtp.CommandAsync("EHLO client.elsewhere.test", 250);
        AssertReply(await smtp.CommandAsync("MAIL FROM:<>"), 250, "2.1.0");
    }

    private static IEnumerable<string> AllFiles(MailroomProcess server, string address)
    {
        var maildir = server.MaildirOf(address);
        return Directory.Exists(maildir) ? Directory.EnumerateFiles(maildir, "*", SearchOption.AllDirectories).Where(path => !Path.GetFileName(path).StartsWith("dovecot", StringComparison.Ordinal) && Path.GetFileName(path) != "maildirfolder") : [];
    }
}

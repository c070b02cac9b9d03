using System.Diagnostics;
using System.Net;
using System.Text;
using Mailroom.IntegrationTests.Infrastructure;
using Mailroom.Testing;
using Mailroom.Tests.Shared.Policy;

namespace Mailroom.IntegrationTests;

/// <summary>
/// The checks of issue 5 against the <c>mailroom</c> executable: each check's accept and refuse
/// path with its exact reply, seen from clients on chosen 127.0.0.x addresses, with the server's
/// [dns] pointing at the test's own zone.
/// </summary>
public sealed class PolicyTests(PolicyZone zone) : IClassFixture<PolicyZone>
{
    private const string Alice = "alice@example.test";
    private const string Sender = "someone@mx.policy.test";

    private Task<MailroomProcess> StartAsync(string policy) => MailroomProcess.StartAsync(new MailroomProcessOptions
    {
        // Tests not about the early-talker test turn off its 6 s wait.
        Policy = (policy.Contains("pregreet_wait", StringComparison.Ordinal) ? "" : "pregreet_wait = 0\n") + policy,
        ExtraToml = $"""
            [dns]
            servers = ["{zone.Server.EndPoint}"]

            [limits]
            errors = 100
            """,
        Users = [Alice],
    });

    private static Task<RawSmtpClient> ConnectAsync(MailroomProcess server, string client, int? greeting = 220)
        => RawSmtpClient.ConnectFromAsync(IPAddress.Parse(client), server.ListenAddress, server.SmtpPort, greeting);

    private static void AssertReply(SmtpResponse response, int code, string status, string? text = null)
    {
        Assert.Equal(code, response.Code);
        Assert.StartsWith(status + " ", response.Lines[^1], StringComparison.Ordinal);
        if (text is not null)
        {
            Assert.Contains(text, response.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Received_header_carries_the_forward_confirmed_name_and_only_the_address_without_one()
    {
        await using var server = await StartAsync("");
        foreach (var (client, expected) in new[]
        {
            ("127.0.0.21", "Received: from client.policy.test (confirmed.ptr.policy.test [127.0.0.21])"),
            ("127.0.0.22", "Received: from client.policy.test ([127.0.0.22])"),
            ("127.0.0.23", "Received: from client.policy.test ([127.0.0.23])"),
        })
        {
            await using var smtp = await ConnectAsync(server, client);
            await smtp.CommandAsync("EHLO client.policy.test", 250);
            var reply = await smtp.SendMessageAsync(Sender, Alice, Encoding.ASCII.GetBytes("Subject: iprev\r\n\r\nhello\r\n.\r\n"));
            Assert.Equal(250, reply.Code);
            var id = reply.Lines[^1].Split(' ')[^1];
            var file = await server.WaitForMaildirFileAsync(id, Alice);
            Assert.Contains(expected, await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("require_confirmed", "127.0.0.21", 250, "2.1.0")]
    [InlineData("require_confirmed", "127.0.0.22", 550, "5.7.25")]
    [InlineData("require_confirmed", "127.0.0.23", 550, "5.7.25")]
    [InlineData("require_ptr", "127.0.0.22", 250, "2.1.0")]
    [InlineData("require_ptr", "127.0.0.23", 550, "5.7.25")]
    [InlineData("record", "127.0.0.23", 250, "2.1.0")]
    public async Task Reverse_dns_modes(string mode, string client, int code, string status)
    {
        await using var server = await StartAsync($"reverse_dns = \"{mode}\"");
        await using var smtp = await ConnectAsync(server, client);
        await smtp.CommandAsync("EHLO client.policy.test", 250);
        AssertReply(await smtp.CommandAsync($"MAIL FROM:<{Sender}>"), code, status);
    }

    [Fact]
    public async Task Sender_domain_must_exist()
    {
        await using var server = await StartAsync("");
        await using var smtp = await ConnectAsync(server, "127.0.0.24");
        await smtp.CommandAsync("EHLO client.policy.test", 250);
        foreach (var (sender, code, status) in new[]
        {
            ("a@mx.policy.test", 250, "2.1.0"),
            ("a@aonly.policy.test", 250, "2.1.0"),
            ("", 250, "2.1.0"),
            ("a@missing.policy.test", 550, "5.1.8"),
            ("a@nullmx.policy.test", 550, "5.7.27"),
        })
        {
            AssertReply(await smtp.CommandAsync($"MAIL FROM:<{sender}>"), code, status);
            await smtp.CommandAsync("RSET", 250);
        }
    }

    [Fact]
    public async Task Dnsbl_listed_client_is_refused_naming_the_list()
    {
        await using var server = await StartAsync("dnsbl = [\"bl.policy.test\"]");
        await using (var listed = await ConnectAsync(server, "127.0.0.2"))
        {
            await listed.CommandAsync("EHLO client.policy.test", 250);
            AssertReply(await listed.CommandAsync($"MAIL FROM:<{Sender}>"), 554, "5.7.1", "bl.policy.test");
        }

        // 127.0.0.3's answer is an error code (RFC 5782 §2.4: 127.255.255.x), not a listing.
        foreach (var client in new[] { "127.0.0.3", "127.0.0.25" })
        {
            await using var clean = await ConnectAsync(server, client);
            await clean.CommandAsync("EHLO client.policy.test", 250);
            AssertReply(await clean.CommandAsync($"MAIL FROM:<{Sender}>"), 250, "2.1.0");
        }
    }

    [Fact]
    public async Task Helo_name_is_checked()
    {
        await using var server = await StartAsync("");
        await using var smtp = await ConnectAsync(server, "127.0.0.26");
        AssertReply(await smtp.CommandAsync($"EHLO {MailroomProcess.Hostname}"), 550, "5.7.1");
        AssertReply(await smtp.CommandAsync("EHLO [127.0.0.1]"), 550, "5.7.1");
        AssertReply(await smtp.CommandAsync("EHLO bad_name!"), 501, "5.5.2");

        // Refused HELOs leave the session before HELO: MAIL is out of sequence.
        Assert.Equal(503, (await smtp.CommandAsync($"MAIL FROM:<{Sender}>")).Code);
        await smtp.CommandAsync("EHLO client.policy.test", 250);
        AssertReply(await smtp.CommandAsync($"MAIL FROM:<{Sender}>"), 250, "2.1.0");
    }

    [Fact]
    public async Task Harvest_of_50_unknown_recipients_ends_in_a_tarpit_then_421_and_a_cool_down()
    {
        const double step = 0.1;
        await using var server = await StartAsync($"""
            harvest_tarpit_after = 5
            harvest_disconnect_after = 15
            harvest_tarpit_step = {step}
            harvest_tarpit_max = 0.3
            harvest_cooldown = 600
            """);
        await using var smtp = await ConnectAsync(server, "127.0.0.27");
        await smtp.CommandAsync("EHLO client.policy.test", 250);
        await smtp.CommandAsync($"MAIL FROM:<{Sender}>", 250);
        SmtpResponse? last = null;
        var answered = 0;
        for (var i = 1; i <= 50; i++)
        {
            var watch = Stopwatch.StartNew();
            await smtp.SendAsync($"RCPT TO:<nobody{i}@example.test>\r\n");
            last = await smtp.TryReadResponseAsync();
            watch.Stop();
            if (last is null || last.Code == 421)
            {
                break;
            }

            answered++;
            AssertReply(last, 550, "5.1.1");
            if (i > 5)
            {
                // Past the first threshold every reply waits at least one step (a lower bound only).
                Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(step * 0.9), $"reply {i} came after {watch.Elapsed.TotalMilliseconds} ms\n{smtp.Transcript}");
            }
        }

        Assert.Equal(14, answered);
        Assert.NotNull(last);
        AssertReply(last, 421, "4.7.0");
        Assert.Null(await smtp.TryReadResponseAsync()); // closed after the 421

        // The address is in its cool-down: refused at connect.
        await using var again = await ConnectAsync(server, "127.0.0.27", greeting: null);
        AssertReply(await again.ReadResponseAsync(), 421, "4.7.0");

        // Another address is not.
        await using var other = await ConnectAsync(server, "127.0.0.28");
    }

    [Fact]
    public async Task Per_address_connection_limit()
    {
        await using var server = await StartAsync("connections_per_client = 2");
        await using var first = await ConnectAsync(server, "127.0.0.29");
        await using (var second = await ConnectAsync(server, "127.0.0.29"))
        {
            await using var third = await ConnectAsync(server, "127.0.0.29", greeting: null);
            AssertReply(await third.ReadResponseAsync(), 421, "4.7.0");
            Assert.Null(await third.TryReadResponseAsync());

            await using var elsewhere = await ConnectAsync(server, "127.0.0.30");
            await second.CommandAsync("QUIT", 221);
        }

        // Once a session of the address has ended, its slot is free again.
        await server.Log.WaitForAsync(line => line.Contains("disconnect from [127.0.0.29]", StringComparison.Ordinal), "\"disconnect from [127.0.0.29]\"");
        await using var fourth = await ConnectAsync(server, "127.0.0.29");
    }

    [Fact]
    public async Task Greylisting_defers_then_accepts_after_the_delay()
    {
        await using var server = await StartAsync("""
            greylisting = true
            greylist_delay = 1
            """);
        await using var smtp = await ConnectAsync(server, "127.0.0.32");
        await smtp.CommandAsync("EHLO client.policy.test", 250);
        await smtp.CommandAsync($"MAIL FROM:<{Sender}>", 250);
        var first = Stopwatch.StartNew();
        AssertReply(await smtp.CommandAsync($"RCPT TO:<{Alice}>"), 451, "4.7.1");

        // Wall time must pass on the server's clock: retry as a client would, bounded.
        SmtpResponse reply;
        var attempts = 0;
        do
        {
            Assert.True(++attempts <= 50, $"still greylisted after {first.Elapsed}\n{smtp.Transcript}");
            await Task.Delay(TimeSpan.FromMilliseconds(200));
            reply = await smtp.CommandAsync($"RCPT TO:<{Alice}>");
        }
        while (reply.Code == 451);

        AssertReply(reply, 250, "2.1.5");
        Assert.True(first.Elapsed >= TimeSpan.FromSeconds(0.9), $"accepted after {first.Elapsed}");
        await smtp.CommandAsync("DATA", 354);
        await smtp.SendAsync("Subject: greylisted\r\n\r\nhello\r\n.\r\n");
        Assert.Equal(250, (await smtp.ReadResponseAsync()).Code);
    }

    [Fact]
    public async Task Early_talker_is_refused_and_a_patient_client_is_greeted()
    {
        await using var server = await StartAsync("pregreet_wait = 0.5");
        await using (var early = await ConnectAsync(server, "127.0.0.33", greeting: null))
        {
            await early.SendAsync("EHLO client.policy.test\r\n");
            AssertReply(await early.ReadResponseAsync(), 554, "5.5.1");
            Assert.Null(await early.TryReadResponseAsync());
        }

        var watch = Stopwatch.StartNew();
        await using var patient = await ConnectAsync(server, "127.0.0.34");
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(0.45), $"greeted after {watch.Elapsed}");
        await patient.CommandAsync("EHLO client.policy.test", 250);
    }
}

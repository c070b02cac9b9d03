using Mailroom.Server.Policy;
using Mailroom.Server.Smtp;
using Mailroom.Server.Tests.Policy;

using Mailroom.Tests.Shared.Dns;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>
/// The session's clock-driven defences on the fake clock: the pregreet wait before the greeting
/// (postscreen_greet_wait) and the minimum data rate during DATA (smtpd_min_data_rate).
/// </summary>
public sealed class SmtpSessionPolicyTests
{
    private static readonly TimeSpan PregreetWait = PolicyLimits.Default.PregreetWait;

    private static SmtpPolicy Policy(TimeProvider time) => new(
        new PolicyOptions { Limits = PolicyLimits.Default },
        SmtpServerFixture.Hostname,
        new FakeDnsResolver(),
        time);

    [Fact]
    public async Task Client_that_talks_before_the_greeting_gets_554_and_is_disconnected()
    {
        await using var fixture = await SmtpServerFixture.StartAsync(policy: Policy);
        await using var client = await fixture.ConnectAsync(readGreeting: false);

        await client.SendAsync("EHLO early.example\r\n");

        Assert.Equal("554 5.5.1", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Greeting_waits_for_the_pregreet_wait_on_the_server_clock_then_a_pass_is_remembered()
    {
        await using var fixture = await SmtpServerFixture.StartAsync(policy: Policy);
        var start = fixture.Time.GetUtcNow();
        await using (var client = await fixture.ConnectAsync(readGreeting: false))
        {
            var greeting = client.ReadReplyAsync();

            // The server arms its wait at some point after the connect: advance in steps until the
            // greeting comes (bounded); it cannot come before the wait has passed on the fake clock.
            for (var step = 0; step < 30 && !greeting.IsCompleted; step++)
            {
                fixture.Time.Advance(TimeSpan.FromSeconds(1));
                await Task.WhenAny(greeting, Task.Delay(TimeSpan.FromMilliseconds(50)));
            }

            Assert.Equal(220, (await greeting).Code);
            Assert.True(fixture.Time.GetUtcNow() - start >= PregreetWait, $"greeted after {fixture.Time.GetUtcNow() - start} of server time");
            Assert.Equal(250, (await client.CommandAsync("EHLO patient.example")).Code);
        }

        // postscreen_greet_ttl: the address passed, the next connection is greeted at once.
        await using var again = await fixture.ConnectAsync();
    }

    [Fact]
    public async Task Data_slower_than_the_minimum_rate_after_the_grace_period_gets_421_4_4_2()
    {
        await using var fixture = await SmtpServerFixture.StartAsync(options => options with
        {
            Limits = options.Limits with { MinimumDataRate = 500, DataRateGrace = TimeSpan.FromSeconds(10) },
        });
        await using var client = await fixture.ConnectAsync();
        await client.BeginMailAsync("sender@example.org", SmtpServerFixture.Alice);
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        // 100 bytes buy 0.2 s beyond the 10 s grace; 11 s later the deadline has passed.
        await client.SendAsync("Subject: slow\r\n\r\n" + new string('x', 81) + "\r\n");
        fixture.Time.Advance(TimeSpan.FromSeconds(11));

        Assert.Equal("421 4.4.2", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Empty(await fixture.QueuedAsync());
    }
}

using Mailroom.Server.Policy;
using Mailroom.Server.Smtp;
using static Mailroom.Server.Tests.Policy.PolicyTestSupport;

namespace Mailroom.Server.Tests.Policy;

public sealed class HarvestTests
{
    [Fact]
    public async Task FiftyUnknownRecipients_TarpitGrows_Then421_ThenRefusedAtConnectUntilTheCooldownEnds()
    {
        var time = Clock();
        var policy = NewPolicy(time: time);
        var context = Context();
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(context, default)).Action);
        Assert.Equal(PolicyAction.Accept, (await policy.OnMailAsync(context, Path("a@[192.0.2.10]"), default)).Action);

        var delays = new List<double>();
        PolicyDecision? last = null;
        var attempts = 0;
        for (; attempts < 50; attempts++)
        {
            last = await policy.OnRcptAsync(context, Path($"guess{attempts}@mailroom.test"), recipientKnown: false, default);
            if (last.ClosesConnection)
            {
                break;
            }

            AssertReply(last, PolicyAction.Reject, 550, "5.1.1");
            delays.Add(last.Delay.TotalSeconds);

            // The session waits on the TimeProvider: the delay passes only when the clock moves.
            var wait = Task.Delay(last.Delay, time);
            Assert.Equal(last.Delay == TimeSpan.Zero, wait.IsCompleted);
            time.Advance(last.Delay);
            await wait;
        }

        // Postfix smtpd_soft_error_limit = 10 without delay, then 1 s, 2 s, … (smtpd_error_sleep_time = 1s);
        // the 20th (smtpd_hard_error_limit) is 421 4.7.0.
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9], delays);
        Assert.Equal(19, attempts);
        AssertReply(last!, PolicyAction.Disconnect, 421, "4.7.0", "Error: too many unknown recipients");
        policy.SessionEnded(context);

        // The harvester reconnects for its 30 remaining guesses: refused at connect for the cool-down.
        var again = Context();
        AssertReply(await policy.OnConnectAsync(again, default), PolicyAction.Disconnect, 421, "4.7.0");
        policy.SessionEnded(again);

        time.Advance(PolicyLimits.Default.HarvestCooldown);
        var later = Context();
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(later, default)).Action);
        policy.SessionEnded(later);
    }

    [Fact]
    public async Task CountsAcrossConnections_WithinTheWindow()
    {
        var time = Clock();
        var policy = NewPolicy(time: time);
        var first = Context();
        await policy.OnConnectAsync(first, default);
        for (var i = 0; i < 12; i++)
        {
            await policy.OnRcptAsync(first, Path($"g{i}@mailroom.test"), recipientKnown: false, default);
        }

        policy.SessionEnded(first);

        // A new connection from the same address starts at the address's count: the 13th is delayed 3 s,
        // and so is a known recipient's reply (every reply is slowed past the first threshold).
        var second = Context();
        await policy.OnConnectAsync(second, default);
        Assert.Equal(TimeSpan.FromSeconds(2), (await policy.OnRcptAsync(second, Path("known@mailroom.test"), recipientKnown: true, default)).Delay);
        Assert.Equal(TimeSpan.FromSeconds(3), (await policy.OnRcptAsync(second, Path("g12@mailroom.test"), recipientKnown: false, default)).Delay);
        policy.SessionEnded(second);

        // Once the window has passed, the address starts afresh.
        time.Advance(PolicyLimits.Default.HarvestWindow);
        var third = Context();
        await policy.OnConnectAsync(third, default);
        Assert.Equal(TimeSpan.Zero, (await policy.OnRcptAsync(third, Path("g13@mailroom.test"), recipientKnown: false, default)).Delay);
    }

    [Fact]
    public async Task OtherRecipientRefusals_CountToo_AndKeepTheSessionsReply()
    {
        var policy = NewPolicy(options: Options(l => l with { HarvestTarpitAfter = 1, HarvestDisconnectAfter = 3 }));
        var context = Context();
        await policy.OnConnectAsync(context, default);

        var first = policy.RecipientRejected(context, Mailroom.Protocol.SmtpReplies.RelayDenied, "relay denied");
        var second = policy.RecipientRejected(context, Mailroom.Protocol.SmtpReplies.RelayDenied, "relay denied");
        var third = policy.RecipientRejected(context, Mailroom.Protocol.SmtpReplies.RelayDenied, "relay denied");

        AssertReply(first, PolicyAction.Reject, 554, "5.7.1", "Relay access denied");
        Assert.Equal(TimeSpan.Zero, first.Delay);
        Assert.Equal(TimeSpan.FromSeconds(1), second.Delay);
        AssertReply(third, PolicyAction.Disconnect, 421, "4.7.0");
    }

    [Fact]
    public async Task IPv6_IsCountedPerSlash64()
    {
        var policy = NewPolicy(options: Options(l => l with { HarvestDisconnectAfter = 2 }));
        var a = Context("2001:db8:1:2::a");
        await policy.OnConnectAsync(a, default);
        await policy.OnRcptAsync(a, Path("x@mailroom.test"), recipientKnown: false, default);
        await policy.OnRcptAsync(a, Path("y@mailroom.test"), recipientKnown: false, default);

        AssertReply(await policy.OnConnectAsync(Context("2001:db8:1:2::b"), default), PolicyAction.Disconnect, 421, "4.7.0");
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(Context("2001:db8:1:3::a"), default)).Action);
    }
}

public sealed class ClientLimitsTests
{
    [Fact]
    public async Task ConcurrentConnectionsPerClient_50_Then421_UntilOneEnds()
    {
        var policy = NewPolicy(options: Options(l => l with { ConnectionRatePerMinute = 0 }));
        var open = new List<SmtpPolicyContext>();
        for (var i = 0; i < 50; i++)
        {
            var context = Context();
            Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(context, default)).Action);
            open.Add(context);
        }

        var refused = Context();
        AssertReply(await policy.OnConnectAsync(refused, default), PolicyAction.Disconnect, 421, "4.7.0", "Error: too many connections from your address");
        policy.SessionEnded(refused);

        // Another address is not affected.
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(Context("192.0.2.77"), default)).Action);

        policy.SessionEnded(open[0]);
        policy.SessionEnded(open[0]); // twice: a no-op
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(Context(), default)).Action);
        AssertReply(await policy.OnConnectAsync(Context(), default), PolicyAction.Disconnect, 421, "4.7.0");
    }

    [Fact]
    public async Task ConnectionRate_60PerMinute_Then421_AndTheWindowSlides()
    {
        var time = Clock();
        var policy = NewPolicy(time: time);
        for (var i = 0; i < 60; i++)
        {
            var context = Context();
            Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(context, default)).Action);
            policy.SessionEnded(context);
        }

        var over = Context();
        AssertReply(await policy.OnConnectAsync(over, default), PolicyAction.Disconnect, 421, "4.7.0");
        policy.SessionEnded(over);

        time.Advance(TimeSpan.FromSeconds(50));
        var stillOver = Context();
        Assert.Equal(PolicyAction.Disconnect, (await policy.OnConnectAsync(stillOver, default)).Action);
        policy.SessionEnded(stillOver);

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(Context(), default)).Action);
    }

    [Fact]
    public async Task MessagesPerHour_Then450_471()
    {
        var time = Clock();
        var policy = NewPolicy(time: time, options: Options(l => l with { MessagesPerClientPerHour = 3 }));
        var context = Context();
        await policy.OnConnectAsync(context, default);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(PolicyAction.Accept, (await policy.OnMailAsync(context, Path("a@[192.0.2.10]"), default)).Action);
        }

        AssertReply(await policy.OnMailAsync(context, Path("a@[192.0.2.10]"), default), PolicyAction.Defer, 450, "4.7.1", "Error: too much mail from your address");
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(PolicyAction.Accept, (await policy.OnMailAsync(context, Path("a@[192.0.2.10]"), default)).Action);
    }

    [Fact]
    public async Task RecipientsPerHour_Then450_471()
    {
        var policy = NewPolicy(options: Options(l => l with { RecipientsPerClientPerHour = 2 }));
        var context = Context();
        await policy.OnConnectAsync(context, default);
        await policy.OnMailAsync(context, Path("a@[192.0.2.10]"), default);

        Assert.Equal(PolicyAction.Accept, (await policy.OnRcptAsync(context, Path("b@mailroom.test"), true, default)).Action);
        Assert.Equal(PolicyAction.Accept, (await policy.OnRcptAsync(context, Path("c@mailroom.test"), true, default)).Action);
        AssertReply(await policy.OnRcptAsync(context, Path("d@mailroom.test"), true, default), PolicyAction.Defer, 450, "4.7.1", "Error: too many recipients from your address");
        Assert.Equal(2, context.AcceptedRecipients);
    }

    [Fact]
    public async Task SubmissionListener_HasNoPerClientLimits()
    {
        var policy = NewPolicy(options: Options(l => l with { ConnectionsPerClient = 1 }));
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(Context(role: SmtpListenerRole.Submission), default)).Action);
        Assert.Equal(PolicyAction.Accept, (await policy.OnConnectAsync(Context(role: SmtpListenerRole.Submission), default)).Action);
    }
}

public sealed class PregreetTests
{
    [Fact]
    public void Default_WaitsSixSeconds_AndRefusesAnEarlyTalker_554_551()
    {
        var policy = NewPolicy(options: new PolicyOptions());
        var context = Context();

        Assert.Equal(TimeSpan.FromSeconds(6), policy.PregreetWait(context));
        AssertReply(policy.OnPregreet(context, clientTalkedFirst: true), PolicyAction.Disconnect, 554, "5.5.1", "Protocol error");
    }

    [Fact]
    public void APass_IsRememberedForADay()
    {
        var time = Clock();
        var policy = NewPolicy(time: time, options: Options(l => l with { PregreetWait = TimeSpan.FromMilliseconds(300) }));

        Assert.Equal(TimeSpan.FromMilliseconds(300), policy.PregreetWait(Context()));
        Assert.Equal(PolicyAction.Accept, policy.OnPregreet(Context(), clientTalkedFirst: false).Action);
        Assert.Equal(TimeSpan.Zero, policy.PregreetWait(Context()));
        Assert.Equal(TimeSpan.FromMilliseconds(300), policy.PregreetWait(Context("192.0.2.200")));

        time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(TimeSpan.FromMilliseconds(300), policy.PregreetWait(Context()));
    }

    [Fact]
    public void Off_OrSubmission_NoWait()
    {
        Assert.Equal(TimeSpan.Zero, NewPolicy().PregreetWait(Context()));
        Assert.Equal(TimeSpan.Zero, NewPolicy(options: new PolicyOptions()).PregreetWait(Context(role: SmtpListenerRole.Submission)));
    }
}

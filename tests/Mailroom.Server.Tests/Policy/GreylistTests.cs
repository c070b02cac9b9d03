using Mailroom.Server.Policy;
using static Mailroom.Server.Tests.Policy.PolicyTestSupport;

namespace Mailroom.Server.Tests.Policy;

public sealed class GreylistTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mailroom-greylist-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string StatePath => System.IO.Path.Combine(_directory, "greylist.jsonl");

    private static PolicyOptions Greylisting(Func<PolicyLimits, PolicyLimits>? limits = null)
        => Options(limits, o => o with { Greylisting = true, RejectUnknownSenderDomain = false });

    private static async Task<PolicyDecision> TryAsync(SmtpPolicy policy, string client = "192.0.2.10", string sender = "a@sender.example", string recipient = "b@mailroom.test")
    {
        var context = Context(client);
        await policy.OnConnectAsync(context, default);
        await policy.OnMailAsync(context, Path(sender), default);
        var decision = await policy.OnRcptAsync(context, Path(recipient), recipientKnown: true, default);
        policy.SessionEnded(context);
        return decision;
    }

    [Fact]
    public async Task Off_ByDefault()
        => Assert.Equal(PolicyAction.Accept, (await TryAsync(NewPolicy(options: Options(options: o => o with { RejectUnknownSenderDomain = false })))).Action);

    [Fact]
    public async Task DeferThenAccept_AfterTheDelay_ThenAcceptedAtOnce()
    {
        var time = Clock();
        using var policy = NewPolicy(options: Greylisting(), time: time);

        AssertReply(await TryAsync(policy), PolicyAction.Defer, 451, "4.7.1", "Greylisted");
        time.Advance(TimeSpan.FromMinutes(4));
        AssertReply(await TryAsync(policy), PolicyAction.Defer, 451, "4.7.1");
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(PolicyAction.Accept, (await TryAsync(policy)).Action);

        // Passed: accepted at once from now on, from the same /24 too.
        time.Advance(TimeSpan.FromDays(20));
        Assert.Equal(PolicyAction.Accept, (await TryAsync(policy, client: "192.0.2.99")).Action);

        // Another triplet is greylisted on its own.
        Assert.Equal(PolicyAction.Defer, (await TryAsync(policy, recipient: "c@mailroom.test")).Action);
        Assert.Equal(PolicyAction.Defer, (await TryAsync(policy, client: "198.51.100.1")).Action);
    }

    [Fact]
    public async Task ARetryAfterTheRetryWindow_StartsOver()
    {
        var time = Clock();
        using var policy = NewPolicy(options: Greylisting(), time: time);

        Assert.Equal(PolicyAction.Defer, (await TryAsync(policy)).Action);
        time.Advance(TimeSpan.FromDays(2) + TimeSpan.FromSeconds(1));
        Assert.Equal(PolicyAction.Defer, (await TryAsync(policy)).Action);
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(PolicyAction.Accept, (await TryAsync(policy)).Action);
    }

    [Fact]
    public async Task AClientNetworkWithFivePassedTriplets_IsWhitelisted()
    {
        var time = Clock();
        using var policy = NewPolicy(options: Greylisting(), time: time);
        for (var i = 0; i < 5; i++)
        {
            await TryAsync(policy, recipient: $"r{i}@mailroom.test");
        }

        time.Advance(TimeSpan.FromMinutes(5));
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(PolicyAction.Accept, (await TryAsync(policy, recipient: $"r{i}@mailroom.test")).Action);
        }

        Assert.Equal(PolicyAction.Accept, (await TryAsync(policy, recipient: "new@mailroom.test")).Action);
    }

    [Fact]
    public async Task State_SurvivesANewInstance()
    {
        var time = Clock();
        using (var first = NewPolicy(options: Greylisting(), time: time, greylistPath: StatePath))
        {
            Assert.Equal(PolicyAction.Defer, (await TryAsync(first)).Action);
            Assert.Equal(PolicyAction.Defer, (await TryAsync(first, recipient: "other@mailroom.test")).Action);
        }

        Assert.True(File.Exists(StatePath));
        Assert.Equal(2, File.ReadAllLines(StatePath).Length);
        Assert.False(File.Exists(StatePath + ".tmp"));

        time.Advance(TimeSpan.FromMinutes(5));
        using (var second = NewPolicy(options: Greylisting(), time: time, greylistPath: StatePath))
        {
            Assert.Equal(2, second.Greylist!.Count);
            Assert.Equal(PolicyAction.Accept, (await TryAsync(second)).Action);
        }

        using var third = NewPolicy(options: Greylisting(), time: time, greylistPath: StatePath);
        Assert.Equal(PolicyAction.Accept, (await TryAsync(third)).Action);
    }

    [Fact]
    public async Task State_IsSavedWhileRunning_AndAnUnreadableLineIsSkipped()
    {
        var time = Clock();
        using var policy = NewPolicy(options: Greylisting(), time: time, greylistPath: StatePath);
        await TryAsync(policy);
        Assert.False(File.Exists(StatePath));

        time.Advance(TimeSpan.FromSeconds(10));
        await TryAsync(policy, recipient: "x@mailroom.test");
        Assert.Equal(2, File.ReadAllLines(StatePath).Length);

        File.AppendAllText(StatePath, "not json\n");
        using var reloaded = NewPolicy(options: Greylisting(), time: time, greylistPath: StatePath);
        Assert.Equal(2, reloaded.Greylist!.Count);
    }

    [Fact]
    public async Task TheStateIsBounded()
    {
        using var policy = NewPolicy(options: Greylisting(l => l with { GreylistMaxEntries = 10 }));
        for (var i = 0; i < 25; i++)
        {
            await TryAsync(policy, recipient: $"r{i}@mailroom.test");
        }

        Assert.InRange(policy.Greylist!.Count, 1, 10);
    }
}

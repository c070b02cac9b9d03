using System.Net;
using Mailroom.Server.Sasl;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Server.Tests.Sasl;

/// <summary>The brute-force guard on a fake clock.</summary>
public sealed class AuthenticationGuardTests
{
    private static readonly IPAddress Client = IPAddress.Parse("192.0.2.7");

    private static readonly AuthenticationLimits Limits = new()
    {
        FailureWindow = TimeSpan.FromMinutes(10),
        FailuresBeforeDelay = 3,
        FailureDelay = TimeSpan.FromSeconds(2),
        FailuresBeforeLockout = 5,
        Lockout = TimeSpan.FromMinutes(15),
    };

    [Fact]
    public void FirstFailuresAreNotSlowedDown()
    {
        var guard = new AuthenticationGuard(Limits, new FakeTimeProvider());
        Assert.Equal(GuardVerdict.Allow, guard.Check(Client).Verdict);
        guard.RecordFailure(Client);
        guard.RecordFailure(Client);
        Assert.Equal(GuardVerdict.Allow, guard.Check(Client).Verdict);
    }

    [Fact]
    public void AfterNFailuresEachAttemptIsDelayed()
    {
        var guard = new AuthenticationGuard(Limits, new FakeTimeProvider());
        for (var i = 0; i < 3; i++)
        {
            Assert.False(guard.RecordFailure(Client));
        }

        var decision = guard.Check(Client);
        Assert.Equal(GuardVerdict.Delay, decision.Verdict);
        Assert.Equal(TimeSpan.FromSeconds(2), decision.Delay);
    }

    [Fact]
    public void AfterMFailuresTheAddressIsLockedOutUntilTheCoolDownEnds()
    {
        var time = new FakeTimeProvider();
        var guard = new AuthenticationGuard(Limits, time);
        for (var i = 0; i < 4; i++)
        {
            Assert.False(guard.RecordFailure(Client));
        }

        Assert.True(guard.RecordFailure(Client));
        var locked = guard.Check(Client);
        Assert.Equal(GuardVerdict.LockedOut, locked.Verdict);
        Assert.Equal(time.GetUtcNow() + TimeSpan.FromMinutes(15), locked.Until);

        time.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
        Assert.Equal(GuardVerdict.LockedOut, guard.Check(Client).Verdict);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(GuardVerdict.Allow, guard.Check(Client).Verdict);
    }

    [Fact]
    public void FailuresOutsideTheWindowAreForgotten()
    {
        var time = new FakeTimeProvider();
        var guard = new AuthenticationGuard(Limits, time);
        guard.RecordFailure(Client);
        guard.RecordFailure(Client);
        time.Advance(TimeSpan.FromMinutes(6));
        guard.RecordFailure(Client);
        Assert.Equal(GuardVerdict.Delay, guard.Check(Client).Verdict);

        // The first two fall out of the 10-minute window; one is left.
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(GuardVerdict.Allow, guard.Check(Client).Verdict);
        guard.RecordFailure(Client);
        guard.RecordFailure(Client);
        Assert.Equal(GuardVerdict.Delay, guard.Check(Client).Verdict);
    }

    [Fact]
    public void ClientsAreCountedApartAndIpv6ByItsSlash64()
    {
        var guard = new AuthenticationGuard(Limits, new FakeTimeProvider());
        for (var i = 0; i < 5; i++)
        {
            guard.RecordFailure(IPAddress.Parse($"2001:db8:1:2::{i + 1}"));
        }

        Assert.Equal(GuardVerdict.LockedOut, guard.Check(IPAddress.Parse("2001:db8:1:2::ffff")).Verdict);
        Assert.Equal(GuardVerdict.Allow, guard.Check(IPAddress.Parse("2001:db8:1:3::1")).Verdict);
        Assert.Equal(GuardVerdict.Allow, guard.Check(Client).Verdict);
    }

    [Fact]
    public void MemoryIsBounded()
    {
        var time = new FakeTimeProvider();
        var guard = new AuthenticationGuard(Limits with { TrackedClients = 3 }, time);
        for (var i = 1; i <= 10; i++)
        {
            guard.RecordFailure(IPAddress.Parse($"192.0.2.{i}"));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(guard.Count <= 3);
    }
}

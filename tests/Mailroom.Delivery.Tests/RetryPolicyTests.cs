using Mailroom.Delivery.Scheduling;

namespace Mailroom.Delivery.Tests;

public sealed class RetryPolicyTests
{
    [Theory]
    [InlineData(1, 5)]
    [InlineData(2, 10)]
    [InlineData(3, 20)]
    [InlineData(6, 160)]
    [InlineData(7, 240)]
    [InlineData(100_000, 240)]
    public void Doubles_from_five_minutes_up_to_four_hours_by_default(int attempts, int minutes)
    {
        Assert.Equal(TimeSpan.FromMinutes(minutes), RetryPolicy.Backoff(new DeliveryOptions(), attempts));
    }

    [Fact]
    public void Needs_at_least_one_attempt()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryPolicy.Backoff(new DeliveryOptions(), 0));
    }
}

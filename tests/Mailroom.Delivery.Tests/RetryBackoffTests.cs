namespace Mailroom.Delivery.Tests;

public sealed class RetryBackoffTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(6, 32)]
    [InlineData(7, 60)]
    [InlineData(1000, 60)]
    public void Doubles_from_one_minute_up_to_one_hour(int failures, int minutes)
    {
        Assert.Equal(TimeSpan.FromMinutes(minutes), RetryBackoff.After(failures));
    }

    [Fact]
    public void Needs_at_least_one_failure()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryBackoff.After(0));
    }
}

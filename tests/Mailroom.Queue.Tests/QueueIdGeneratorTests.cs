using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Queue.Tests;

public sealed class QueueIdGeneratorTests
{
    [Fact]
    public void IdsMadeInOneMicrosecondAreDistinctAndOrdered()
    {
        var generator = new QueueIdGenerator(new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero)));
        var ids = new string[100_000];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = generator.Next().Value;
        }

        Assert.Equal(ids.Length, ids.Distinct(StringComparer.Ordinal).Count());
        for (int i = 1; i < ids.Length; i++)
        {
            Assert.True(string.CompareOrdinal(ids[i - 1], ids[i]) < 0, $"{ids[i - 1]} !< {ids[i]}");
        }
    }

    [Fact]
    public void IdsFollowTheClockAndNeverGoBackWhenItIsSetBack()
    {
        var time = new SettableTime { Now = new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero) };
        var generator = new QueueIdGenerator(time);
        string first = generator.Next().Value;
        time.Now += TimeSpan.FromSeconds(1);
        string second = generator.Next().Value;
        time.Now -= TimeSpan.FromHours(1);
        string third = generator.Next().Value;

        Assert.True(string.CompareOrdinal(first, second) < 0);
        Assert.True(string.CompareOrdinal(second, third) < 0);
    }

    [Fact]
    public void IdsAreFixedWidthLettersAndDigits()
    {
        var generator = new QueueIdGenerator(new FakeTimeProvider(DateTimeOffset.UnixEpoch));
        QueueId id = generator.Next();
        Assert.Equal(QueueIdGenerator.IdLength, id.Value.Length);
        Assert.True(QueueId.IsWellFormed(id.Value));
        Assert.All(id.Value, c => Assert.True(char.IsAsciiDigit(c) || char.IsAsciiLetterUpper(c)));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("../etc", false)]
    [InlineData("A.state", false)]
    [InlineData("a/b", false)]
    [InlineData("ABC def", false)]
    [InlineData("1KQ4VJ0G8C30000", true)]
    public void WellFormedIdsAreSafeFileNames(string? value, bool expected) => Assert.Equal(expected, QueueId.IsWellFormed(value));

    /// <summary>A clock that can be set back, which FakeTimeProvider refuses to do.</summary>
    private sealed class SettableTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

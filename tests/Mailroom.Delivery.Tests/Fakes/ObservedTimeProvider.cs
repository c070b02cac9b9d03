using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Delivery.Tests.Fakes;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that reports every timer created (its due time), so a test
/// knows when the code under test waits for time to pass and may advance the clock.
/// </summary>
internal sealed class ObservedTimeProvider(DateTimeOffset start) : TimeProvider
{
    public FakeTimeProvider Fake { get; } = new(start);

    public Channel<TimeSpan> TimersCreated { get; } = Channel.CreateUnbounded<TimeSpan>();

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = Fake.CreateTimer(callback, state, dueTime, period);
        TimersCreated.Writer.TryWrite(dueTime);
        return timer;
    }
}

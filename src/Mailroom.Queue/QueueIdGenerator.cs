namespace Mailroom.Queue;

/// <summary>
/// Makes queue IDs in the manner of Postfix's long queue IDs: the time in microseconds since the
/// Unix epoch, then a counter that tells apart the IDs of one microsecond, both in fixed-width
/// base32hex (RFC 4648 §7: "0-9A-V"). That alphabet is in ASCII order, so the IDs of one generator
/// compare ordinally in the order they were made; it is upper case only, so they stay distinct on a
/// case-insensitive file system too. Example: "1KQ4VJ0G8C30000" (15 characters).
/// </summary>
/// <remarks>
/// IDs never go backwards while the process runs: when the clock stands still or is set back, the
/// counter goes on from the last ID; when 2^20 IDs have been made in one microsecond, the generator
/// borrows the next microsecond. Across a restart with a clock set back an ID could repeat, so the
/// store checks that the name is free before it uses it.
/// </remarks>
public sealed class QueueIdGenerator
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    private const int BitsPerDigit = 5;

    // 11 digits = 55 bits of microseconds: enough until the year 3111.
    private const int TimeDigits = 11;

    // 4 digits = 20 bits: 1,048,576 IDs in one microsecond before the generator borrows the next.
    private const int CounterDigits = 4;
    private const long MaxCounter = (1L << (CounterDigits * BitsPerDigit)) - 1;

    /// <summary>The length of every ID this generator makes.</summary>
    public const int IdLength = TimeDigits + CounterDigits;

    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private long _lastMicroseconds = -1;
    private long _counter;

    public QueueIdGenerator(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
    }

    /// <summary>Makes a new ID, greater (ordinally) than every ID this instance made before. Thread-safe.</summary>
    public QueueId Next()
    {
        long now = Math.Max(0, (_timeProvider.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond);
        long microseconds;
        long counter;
        lock (_lock)
        {
            if (now > _lastMicroseconds)
            {
                _lastMicroseconds = now;
                _counter = 0;
            }
            else if (_counter < MaxCounter)
            {
                _counter++;
            }
            else
            {
                _lastMicroseconds++;
                _counter = 0;
            }

            microseconds = _lastMicroseconds;
            counter = _counter;
        }

        return new QueueId(string.Create(IdLength, (microseconds, counter), static (chars, state) =>
        {
            Encode(chars[..TimeDigits], state.microseconds);
            Encode(chars[TimeDigits..], state.counter);
        }));
    }

    private static void Encode(Span<char> digits, long value)
    {
        for (int i = digits.Length - 1; i >= 0; i--)
        {
            digits[i] = Alphabet[(int)(value & ((1 << BitsPerDigit) - 1))];
            value >>= BitsPerDigit;
        }
    }
}

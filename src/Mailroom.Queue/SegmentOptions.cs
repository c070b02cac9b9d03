namespace Mailroom.Queue;

/// <summary>How <see cref="FileMessageStore"/> keeps small messages in segments (README.md, "Segments").</summary>
public sealed record SegmentOptions
{
    /// <summary>The defaults below.</summary>
    public static readonly SegmentOptions Default = new();

    /// <summary>No segments: every message gets a file of its own.</summary>
    public static readonly SegmentOptions Off = new() { MessageLimit = 0 };

    /// <summary>
    /// Messages up to this size (the queue file's header and the content) are received in memory and
    /// committed to a segment; larger ones get a file of their own. 0 turns segments off.
    /// </summary>
    public int MessageLimit { get; init; } = 1024 * 1024;

    /// <summary>A segment is sealed and the next one started when the next record would not fit in this size.</summary>
    public long SegmentSize { get; init; } = 32L * 1024 * 1024;

    /// <summary>
    /// Whether the next segment is written full of zeros (<see cref="SegmentSize"/> bytes) ahead of
    /// time, so that appends change no file metadata and each fsync writes the data alone. Costs the
    /// disk space of one spare segment.
    /// </summary>
    public bool Preallocate { get; init; } = true;

    /// <summary>
    /// The memory that all messages being received may hold together. Past it, a message that needs
    /// more goes on in a file of its own, so many large messages at once cannot exhaust the memory.
    /// </summary>
    public long MemoryBudget { get; init; } = 64L * 1024 * 1024;
}

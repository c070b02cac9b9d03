using System.Buffers;

namespace Mailroom.Protocol.Tests;

/// <summary>Ways of cutting input, so that every parser is tested in one block and one byte at a time.</summary>
public enum Split
{
    OneBlock,
    ByteByByte,
}

internal static class Feed
{
    /// <summary>A sequence of one-byte segments: a parser that mishandles segment boundaries fails on it.</summary>
    public static ReadOnlySequence<byte> Sequence(byte[] bytes, Split split)
    {
        if (split == Split.OneBlock || bytes.Length == 0)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        var first = new Segment(bytes.AsMemory(0, 1), 0);
        var last = first;
        for (var i = 1; i < bytes.Length; i++)
        {
            last = last.Append(bytes.AsMemory(i, 1));
        }

        return new ReadOnlySequence<byte>(first, 0, last, 1);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

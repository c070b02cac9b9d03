using System.Buffers;

namespace Mailroom.Delivery;

/// <summary>
/// Counts the Received headers of a stored message: past <see cref="Limit"/> the message is in a
/// loop and fails with 5.4.6 (RFC 5321 §6.3 asks for a limit of at least 100 hops).
/// </summary>
public static class HopCount
{
    /// <summary>RFC 5321 §6.3: "a threshold of at least 100 Received headers".</summary>
    public const int Limit = 100;

    /// <summary>The header block is read up to this size; a hop is a line of a few hundred bytes at most.</summary>
    private const int MaxHeaderBytes = 256 * 1024;

    /// <summary>Read this much at a time, so that a message's header (usually a few KiB) costs one or two reads, not its whole body.</summary>
    private const int ChunkBytes = 16 * 1024;

    private static ReadOnlySpan<byte> Received => "Received:"u8;

    /// <summary>The number of Received header fields before the first empty line (within the first 256 KiB).</summary>
    public static int CountReceived(Stream content)
    {
        // Pooled: this runs once per delivery attempt, and a fresh 256 KiB array would be a
        // large-object-heap allocation (zeroed, collected only with generation 2) per message.
        var buffer = ArrayPool<byte>.Shared.Rent(MaxHeaderBytes);
        try
        {
            int length = 0, position = 0, count = 0;
            var atLineStart = true;
            while (length < MaxHeaderBytes)
            {
                var read = content.Read(buffer, length, Math.Min(ChunkBytes, MaxHeaderBytes - length));
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (Scan(buffer.AsSpan(0, length), final: false, ref position, ref atLineStart, ref count))
                {
                    return count;
                }
            }

            Scan(buffer.AsSpan(0, length), final: true, ref position, ref atLineStart, ref count);
            return count;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Scans <paramref name="headers"/> from <paramref name="position"/>; returns true at the empty
    /// line that ends the header block. Unless <paramref name="final"/>, stops (returning false) at
    /// a line start with too few bytes left to tell whether it is a Received field.
    /// </summary>
    private static bool Scan(ReadOnlySpan<byte> headers, bool final, ref int position, ref bool atLineStart, ref int count)
    {
        var i = position;
        for (; i < headers.Length; i++)
        {
            if (atLineStart)
            {
                if (headers[i] is (byte)'\r' or (byte)'\n')
                {
                    position = i;
                    return true; // the empty line ends the header block
                }

                if (headers.Length - i < Received.Length && !final)
                {
                    break; // decide when more bytes are there
                }

                if (headers.Length - i >= Received.Length && System.Text.Ascii.EqualsIgnoreCase(headers.Slice(i, Received.Length), Received))
                {
                    count++;
                }
            }

            atLineStart = headers[i] == (byte)'\n';
        }

        position = i;
        return false;
    }
}

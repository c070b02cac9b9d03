using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Mailroom.Queue;

/// <summary>
/// The records of a segment file (README.md, "Segments"). A segment starts with the line
/// <c>MAILROOM-SEGMENT 1\n</c>; then records follow, each
/// <code>
/// "MRS1"  kind  0 0 0  payload length (uint32 LE)  CRC-32 of the payload (uint32 LE)    16 bytes
/// payload
/// </code>
/// A message record ('M') has the payload: ID length (1 byte), the ID (ASCII), annotations length
/// (uint32 LE), the annotations as JSON (empty for none), then the message exactly as a queue file
/// holds it (first line, envelope, content). A removal record ('R') has the ID length and the ID.
/// The CRC tells a whole record from a torn one (a crash during the append).
/// </summary>
internal static class SegmentRecord
{
    public const int HeaderLength = 16;
    public const byte MessageKind = (byte)'M';
    public const byte RemovalKind = (byte)'R';

    private static ReadOnlySpan<byte> RecordMagic => "MRS1"u8;

    public static ReadOnlySpan<byte> FileMagic => "MAILROOM-SEGMENT 1\n"u8;

    /// <summary>
    /// The record header and the payload's fixed start for a message: what goes before the queue
    /// file bytes (<paramref name="queueHeader"/> and <paramref name="content"/>, which follow it unchanged).
    /// </summary>
    public static byte[] FormatMessageStart(QueueId id, ReadOnlySpan<byte> annotations, ReadOnlySpan<byte> queueHeader, ReadOnlySpan<byte> content)
    {
        int idLength = Encoding.ASCII.GetByteCount(id.Value);
        byte[] start = new byte[HeaderLength + 1 + idLength + 4 + annotations.Length];
        Span<byte> payloadStart = start.AsSpan(HeaderLength);
        payloadStart[0] = (byte)idLength;
        Encoding.ASCII.GetBytes(id.Value, payloadStart[1..]);
        BinaryPrimitives.WriteUInt32LittleEndian(payloadStart.Slice(1 + idLength, 4), (uint)annotations.Length);
        annotations.CopyTo(payloadStart[(1 + idLength + 4)..]);

        var crc = new Crc32();
        crc.Append(payloadStart);
        crc.Append(queueHeader);
        crc.Append(content);
        long payloadLength = (long)payloadStart.Length + queueHeader.Length + content.Length;
        WriteHeader(start, MessageKind, checked((uint)payloadLength), crc.GetCurrentHashAsUInt32());
        return start;
    }

    /// <summary>A whole removal record.</summary>
    public static byte[] FormatRemoval(QueueId id)
    {
        int idLength = Encoding.ASCII.GetByteCount(id.Value);
        byte[] record = new byte[HeaderLength + 1 + idLength];
        Span<byte> payload = record.AsSpan(HeaderLength);
        payload[0] = (byte)idLength;
        Encoding.ASCII.GetBytes(id.Value, payload[1..]);
        WriteHeader(record, RemovalKind, (uint)payload.Length, Crc32.HashToUInt32(payload));
        return record;
    }

    /// <summary>Reads a record header; false when the bytes are not one (the end of the written part, or a torn append).</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> header, out byte kind, out uint payloadLength, out uint crc)
    {
        kind = header[4];
        payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(header[8..12]);
        crc = BinaryPrimitives.ReadUInt32LittleEndian(header[12..16]);
        return header[..4].SequenceEqual(RecordMagic) && (kind == MessageKind || kind == RemovalKind) && header[5..8].IndexOfAnyExcept((byte)0) < 0;
    }

    /// <summary>The queue ID at the start of a payload and the length it took; false when it is not a well-formed ID.</summary>
    public static bool TryReadId(ReadOnlySpan<byte> payload, out QueueId id, out int length)
    {
        id = default;
        length = 0;
        if (payload.Length < 1 || payload[0] == 0 || payload.Length < 1 + payload[0])
        {
            return false;
        }

        string value = Encoding.ASCII.GetString(payload.Slice(1, payload[0]));
        if (!QueueId.IsWellFormed(value))
        {
            return false;
        }

        id = new QueueId(value);
        length = 1 + payload[0];
        return true;
    }

    private static void WriteHeader(Span<byte> record, byte kind, uint payloadLength, uint crc)
    {
        RecordMagic.CopyTo(record);
        record[4] = kind;
        record[5] = record[6] = record[7] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..12], payloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..16], crc);
    }
}

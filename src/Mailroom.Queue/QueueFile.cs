using System.Globalization;
using System.Text.Json;

namespace Mailroom.Queue;

/// <summary>
/// The on-disk format of the spool's files (see README.md). A message file is
/// <code>
/// MAILROOM-QUEUE 1 0000000312\n      the magic, the format version and the envelope's length in bytes (28 bytes)
/// {"reversePath":...}\n              the envelope as one line of JSON, exactly that long, then a line feed
/// content                            the message bytes, to the end of the file
/// </code>
/// A state file holds one line of JSON per recipient update: {"index":0,"status":"Delivered","diagnostic":"..."}\n.
/// A line counts only when its line feed is there: a torn last line is ignored.
/// </summary>
internal static class QueueFile
{
    /// <summary>The suffix of a message's recipient state file beside the message file.</summary>
    public const string StateSuffix = ".state";

    public const string ScheduleSuffix = ".schedule";

    /// <summary>The suffix of a message's annotations (headers added by cleanup, quarantine), written before the commit.</summary>
    public const string AnnotationsSuffix = ".annotations";

    /// <summary>The length of the first line: the magic, 10 digits of envelope length and a line feed.</summary>
    public const int PrefixLength = 28;

    /// <summary>The largest envelope accepted. Far above any sane recipient limit (RFC 5321 §4.5.3.1.8 asks for 100).</summary>
    public const int MaxEnvelopeLength = 4 * 1024 * 1024;

    private const int LengthDigits = 10;
    private const byte LineFeed = (byte)'\n';

    private static ReadOnlySpan<byte> Magic => "MAILROOM-QUEUE 1 "u8;

    /// <summary>The first two lines of a message file: the prefix and the envelope.</summary>
    public static byte[] FormatHeader(Envelope envelope)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(envelope, QueueJsonContext.Default.Envelope);
        if (json.Length > MaxEnvelopeLength)
        {
            throw new ArgumentException($"The envelope is {json.Length} bytes as JSON, more than the spool's limit of {MaxEnvelopeLength}.", nameof(envelope));
        }

        byte[] header = new byte[PrefixLength + json.Length + 1];
        Magic.CopyTo(header);
        json.Length.TryFormat(header.AsSpan(Magic.Length, LengthDigits), out _, "D10", CultureInfo.InvariantCulture);
        header[PrefixLength - 1] = LineFeed;
        json.CopyTo(header, PrefixLength);
        header[^1] = LineFeed;
        return header;
    }

    /// <summary>Reads the header of a message file and returns the envelope and where the content starts.</summary>
    /// <exception cref="InvalidDataException">The header is corrupt.</exception>
    public static async ValueTask<(Envelope Envelope, long ContentOffset)> ReadHeaderAsync(Stream file, CancellationToken cancellationToken)
    {
        byte[] prefix = new byte[PrefixLength];
        await ReadExactlyAsync(file, prefix, cancellationToken).ConfigureAwait(false);
        int length = ParsePrefix(prefix);

        byte[] json = new byte[length + 1];
        await ReadExactlyAsync(file, json, cancellationToken).ConfigureAwait(false);
        if (json[^1] != LineFeed)
        {
            throw new InvalidDataException("The envelope is not followed by a line feed.");
        }

        return (DeserializeEnvelope(json.AsSpan(0, length)), PrefixLength + length + 1L);
    }

    /// <summary>Parses the header at the start of <paramref name="file"/> (a whole queue file in memory) and returns where the content starts.</summary>
    /// <exception cref="InvalidDataException">The header is corrupt.</exception>
    public static Envelope ParseHeader(ReadOnlySpan<byte> file, out int contentOffset)
    {
        if (file.Length < PrefixLength)
        {
            throw new InvalidDataException("The message ends inside its header.");
        }

        int length = ParsePrefix(file[..PrefixLength]);
        if (file.Length < PrefixLength + length + 1 || file[PrefixLength + length] != LineFeed)
        {
            throw new InvalidDataException("The envelope is not followed by a line feed.");
        }

        contentOffset = PrefixLength + length + 1;
        return DeserializeEnvelope(file.Slice(PrefixLength, length));
    }

    /// <summary>Reads only the first line of a message file and returns where the content starts.</summary>
    /// <exception cref="InvalidDataException">The first line is corrupt.</exception>
    public static long ReadContentOffset(Stream file)
    {
        Span<byte> prefix = stackalloc byte[PrefixLength];
        try
        {
            file.ReadExactly(prefix);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The file ends inside its header.", e);
        }

        return PrefixLength + ParsePrefix(prefix) + 1L;
    }

    /// <summary>The lines that record <paramref name="updates"/> in a state file.</summary>
    public static byte[] FormatStateRecords(IReadOnlyList<RecipientUpdate> updates)
    {
        using var buffer = new MemoryStream();
        foreach (RecipientUpdate update in updates)
        {
            JsonSerializer.Serialize(buffer, update, QueueJsonContext.Default.RecipientUpdate);
            buffer.WriteByte(LineFeed);
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Folds the records of a state file into one status per recipient: the last record for an index
    /// wins. The text after the last line feed is a torn append and is ignored; a line that does not
    /// parse or names no recipient of the envelope is counted in <paramref name="malformedLines"/> and ignored.
    /// </summary>
    public static RecipientStatus[] FoldStates(ReadOnlySpan<byte> stateFile, int recipientCount, out int malformedLines)
    {
        var states = new RecipientStatus[recipientCount];
        malformedLines = 0;
        int end;
        while ((end = stateFile.IndexOf(LineFeed)) >= 0)
        {
            if (TryParseRecord(stateFile[..end], out RecipientUpdate update) && update.Index >= 0 && update.Index < recipientCount)
            {
                states[update.Index] = update.Status;
            }
            else
            {
                malformedLines++;
            }

            stateFile = stateFile[(end + 1)..];
        }

        return states;
    }

    /// <summary>The length of the state file up to and including its last line feed: what is left when a torn append is cut off.</summary>
    public static int CompleteLength(ReadOnlySpan<byte> stateFile) => stateFile.LastIndexOf(LineFeed) + 1;

    private static bool TryParseRecord(ReadOnlySpan<byte> line, out RecipientUpdate update)
    {
        try
        {
            update = JsonSerializer.Deserialize(line, QueueJsonContext.Default.RecipientUpdate);
            return true;
        }
        catch (JsonException)
        {
            update = default;
            return false;
        }
    }

    /// <exception cref="InvalidDataException">The envelope's JSON is not valid, or null.</exception>
    private static Envelope DeserializeEnvelope(ReadOnlySpan<byte> json)
    {
        Envelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize(json, QueueJsonContext.Default.Envelope);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The envelope is not valid: {e.Message}", e);
        }

        return envelope ?? throw new InvalidDataException("The envelope is null.");
    }

    private static int ParsePrefix(ReadOnlySpan<byte> prefix)
    {
        if (!prefix.StartsWith(Magic))
        {
            throw new InvalidDataException("The file does not start with \"MAILROOM-QUEUE 1\": not a queue file, or another format version.");
        }

        if (prefix[^1] != LineFeed
            || !int.TryParse(prefix[Magic.Length..^1], NumberStyles.None, CultureInfo.InvariantCulture, out int length)
            || length > MaxEnvelopeLength)
        {
            throw new InvalidDataException("The envelope length in the first line is malformed.");
        }

        return length;
    }

    private static async ValueTask ReadExactlyAsync(Stream file, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await file.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The file ends inside its header.", e);
        }
    }
}

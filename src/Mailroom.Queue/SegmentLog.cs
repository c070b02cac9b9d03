using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Mailroom.Queue;

/// <summary>Where a message's content lies in a segment, and what its record says about it.</summary>
internal sealed record SegmentEntry(QueueId Id, Envelope Envelope, MessageAnnotations Annotations, long Segment, long ContentOffset, long ContentLength);

/// <summary>
/// Small committed messages appended to shared segment files, so that a commit costs an append
/// and a share of one fsync instead of a file of its own (create, rename, unlink; README.md,
/// "Segments"). Appends are written in order under one lock, then made durable by a
/// group-committed fsync of the current segment. A message leaves with a removal record. A
/// segment file is deleted once it is no longer appended to, none of its messages is still queued,
/// and every older segment is gone (so a removal record is never lost while the message it
/// removes could come back).
/// </summary>
/// <remarks>
/// Why hand-written: a queue of mail has needs no embedded database meets without a server or a
/// native library (one fsync shared by many writers, records read back by offset, files deleted
/// as a whole), and the format is 16 bytes of header per record.
/// </remarks>
internal sealed class SegmentLog
{
    public const string DirectoryName = "segments";
    private const string Suffix = ".seg";
    private const int NumberDigits = 12;
    private const UnixFileMode FileMode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // The next segment, written full of zeros and fsynced ahead of time (README.md, "Segments").
    private const string SpareName = "spare.tmp";
    private static readonly byte[] Zeros = new byte[256 * 1024];

    private readonly string _directory;
    private readonly string _corrupt;
    private readonly long _segmentSize;
    private readonly bool _preallocate;
    private readonly ILogger _logger;
    private readonly GroupCommitter _committer;

    // Appends, the live counts and the list of segments: under _writeLock. The current segment's
    // stream is replaced under both locks; the sync takes only _syncLock (lock order: write, sync).
    private readonly object _writeLock = new();
    private readonly object _syncLock = new();
    private readonly SortedDictionary<long, int> _liveMessages = [];
    private readonly List<FileStream> _sealedUnsynced = [];

    // One read handle per segment read from, kept until the segment is deleted (OpenContent).
    private readonly Dictionary<long, Microsoft.Win32.SafeHandles.SafeFileHandle> _readHandles = [];
    private Exception? _syncFailure;
    private FileStream? _current;
    private long _currentNumber;
    private long _nextNumber;
    private long _offset;
    private Task<FileStream?>? _spare;

    public SegmentLog(string spool, long segmentSize, bool preallocate, ILogger logger)
    {
        _directory = Path.Combine(spool, DirectoryName);
        _corrupt = Path.Combine(spool, "corrupt");
        _segmentSize = segmentSize;
        _preallocate = preallocate;
        _logger = logger;
        _committer = new GroupCommitter(SyncCurrent, "mailroom-segsync");
    }

    /// <summary>The folder of the segment files.</summary>
    public string Directory => _directory;

    /// <summary>Completes when the spare being written ahead is ready (or failed); for tests.</summary>
    internal Task SpareReady
    {
        get
        {
            lock (_writeLock)
            {
                return _spare ?? Task.CompletedTask;
            }
        }
    }

    /// <summary>
    /// Reads every segment in order and returns the messages not removed. Call once at start, with
    /// the folder already created; appends then go to a new segment. A torn record ends a segment:
    /// it was never acknowledged, because an acknowledgement waits for an fsync that covers every
    /// byte before it.
    /// </summary>
    public List<SegmentEntry> Recover()
    {
        File.Delete(Path.Combine(_directory, SpareName)); // a spare holds no message
        var numbers = new List<long>();
        foreach (string path in System.IO.Directory.EnumerateFiles(_directory, "*" + Suffix))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (name.Length == NumberDigits && long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out long number))
            {
                numbers.Add(number);
            }
        }

        numbers.Sort();
        var entries = new Dictionary<string, SegmentEntry>(StringComparer.Ordinal);
        foreach (long number in numbers)
        {
            ReadSegment(number, entries);
        }

        lock (_writeLock)
        {
            foreach (long number in numbers)
            {
                _liveMessages[number] = 0;
            }

            foreach (SegmentEntry entry in entries.Values)
            {
                _liveMessages[entry.Segment]++;
            }

            _nextNumber = numbers.Count > 0 ? numbers[^1] + 1 : 1;
            DeleteDeadSegments();
            PrepareSpare();
        }

        // Waited for here, at start, so that the first segment of this run is written ahead too.
        _spare?.Wait();

        var result = entries.Values.ToList();
        result.Sort((a, b) => string.CompareOrdinal(a.Id.Value, b.Id.Value));
        return result;
    }

    /// <summary>
    /// Appends a message record and returns where its content lies. Not durable until
    /// <see cref="SyncAsync"/> completes; the message counts as live in its segment from here on.
    /// </summary>
    public SegmentEntry AppendMessage(QueueId id, Envelope envelope, MessageAnnotations annotations, ReadOnlyMemory<byte> queueHeader, ReadOnlyMemory<byte> content)
    {
        byte[] annotationsJson = annotations.IsEmpty ? [] : JsonSerializer.SerializeToUtf8Bytes(annotations, QueueJsonContext.Default.MessageAnnotations);
        byte[] start = SegmentRecord.FormatMessageStart(id, annotationsJson, queueHeader.Span, content.Span);
        ReadOnlyMemory<byte>[] parts = [start, queueHeader, content];
        lock (_writeLock)
        {
            long offset = Append(parts, start.Length + queueHeader.Length + content.Length);
            _liveMessages[_currentNumber]++;
            return new SegmentEntry(id, envelope, annotations, _currentNumber, offset + start.Length + queueHeader.Length, content.Length);
        }
    }

    /// <summary>
    /// Appends a removal record (durable after a sync) and forgets the message's
    /// content. Should the append fail, the message still no longer counts as queued in its segment:
    /// deleting that segment later removes it as well as the record would.
    /// </summary>
    public void AppendRemoval(SegmentEntry entry)
    {
        byte[] record = SegmentRecord.FormatRemoval(entry.Id);
        lock (_writeLock)
        {
            try
            {
                Append([record], record.Length);
            }
            finally
            {
                _liveMessages[entry.Segment]--;
                DeleteDeadSegments();
            }
        }
    }

    /// <summary>Completes after an fsync that started after this call: every record appended before it is durable.</summary>
    public Task SyncAsync() => _committer.SyncAsync();

    /// <summary>Makes every record appended before this call durable soon (with the next <see cref="SyncAsync"/>, or within <see cref="GroupCommitter.SoonMilliseconds"/>), without waiting.</summary>
    public void SyncSoon() => _committer.SyncSoon();

    /// <summary>
    /// Opens a message's content read-only: Position and Length count content bytes only. Reads
    /// go through the segment's read handle, opened at the first read from the segment and closed
    /// when the segment is deleted (and the last stream on it disposed).
    /// </summary>
    /// <exception cref="FileNotFoundException">The segment is gone (the message was removed).</exception>
    public Stream OpenContent(SegmentEntry entry)
    {
        lock (_readHandles)
        {
            if (!_readHandles.TryGetValue(entry.Segment, out var handle))
            {
                handle = File.OpenHandle(SegmentPath(entry.Segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                _readHandles.Add(entry.Segment, handle);
            }

            bool added = false;
            handle.DangerousAddRef(ref added); // released when the stream is disposed
            return new SegmentContentReadStream(handle, entry.ContentOffset, entry.ContentLength);
        }
    }

    /// <summary>Closes a deleted segment's read handle (at once, or when its last open stream is disposed).</summary>
    private void CloseReadHandle(long number)
    {
        lock (_readHandles)
        {
            if (_readHandles.Remove(number, out var handle))
            {
                handle.Dispose();
            }
        }
    }

    /// <summary>Writes <paramref name="parts"/> at the end of the current segment (a new one when it is full); the caller holds _writeLock.</summary>
    private long Append(ReadOnlyMemory<byte>[] parts, long length)
    {
        // A record that does not fit starts the next segment, unless the segment is empty (a record
        // larger than a whole segment then grows it).
        if (_current is null || (_offset > _segmentSize - length && _offset > SegmentRecord.FileMagic.Length))
        {
            StartSegment();
        }

        long offset = _offset;
        try
        {
            RandomAccess.Write(_current!.SafeFileHandle, parts, offset);
        }
        catch
        {
            // What was written is unknown: leave this segment (a torn tail ends it at recovery).
            _offset = long.MaxValue;
            throw;
        }

        _offset += length;
        return offset;
    }

    /// <summary>
    /// Seals the current segment (the next sync fsyncs and closes it) and starts the next one, whose
    /// name is made durable before anything is appended to it: the spare, renamed, when it is ready
    /// (then the next spare is prepared in the background), else a new empty file. The caller holds
    /// _writeLock.
    /// </summary>
    private void StartSegment()
    {
        long number = _nextNumber++;
        string path = SegmentPath(number);
        FileStream next = TakeSpare(path) ?? CreateSegment(path, SegmentRecord.FileMagic.Length);
        try
        {
            DirectorySync.Sync(_directory);
        }
        catch
        {
            next.Dispose();
            File.Delete(path);
            throw;
        }

        PrepareSpare();
        lock (_syncLock)
        {
            if (_current is not null)
            {
                // Its appends may not be durable yet: the next sync covers it too, then closes it.
                _sealedUnsynced.Add(_current);
            }

            _current = next;
        }

        _liveMessages.TryAdd(number, 0);
        _currentNumber = number;
        _offset = SegmentRecord.FileMagic.Length;
        DeleteDeadSegments();
    }

    /// <summary>
    /// Creates a segment file holding the file magic followed by zeros up to <paramref name="length"/>,
    /// fsynced. Appends into a file written ahead like this change no metadata (size, blocks), so
    /// each commit's fsync writes the data alone: −29 % time and −27 % CPU per fsync here, and no
    /// journal commit on a journaling file system.
    /// </summary>
    private static FileStream CreateSegment(string path, long length)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.Read, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode0600;
        }

        var file = new FileStream(path, options);
        try
        {
            RandomAccess.Write(file.SafeFileHandle, SegmentRecord.FileMagic, 0);
            for (long offset = SegmentRecord.FileMagic.Length; offset < length; offset += Zeros.Length)
            {
                RandomAccess.Write(file.SafeFileHandle, Zeros.AsSpan(0, (int)Math.Min(Zeros.Length, length - offset)), offset);
            }

            file.Flush(flushToDisk: true);
            return file;
        }
        catch
        {
            file.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>Starts writing the next spare on a thread of its own (a few hundred milliseconds of disk writes), unless one is on its way. The caller holds _writeLock.</summary>
    private void PrepareSpare()
    {
        if (!_preallocate || _spare is not null)
        {
            return;
        }

        string path = Path.Combine(_directory, SpareName);
        _spare = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    File.Delete(path);
                    return CreateSegment(path, _segmentSize);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The next segment starts empty instead (slower fsyncs, nothing lost).
                    SegmentLogMessages.SpareFailed(_logger, path, e);
                    return null;
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    /// <summary>Renames the spare to <paramref name="path"/> when it is ready; null when it is not (never waits for it). The caller holds _writeLock.</summary>
    private FileStream? TakeSpare(string path)
    {
        if (_spare is not { IsCompleted: true } spare)
        {
            return null;
        }

        _spare = null;
        if (spare.Result is not { } file)
        {
            return null;
        }

        try
        {
            File.Move(Path.Combine(_directory, SpareName), path);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The group commit's sync: fsyncs the segments sealed since the last sync, then the current one.
    /// After a failed fsync the kernel may have dropped the unwritten pages and report success the
    /// next time, so a failure is final (as in PostgreSQL): every later sync fails too, the sessions
    /// answer 451 and nothing is acknowledged until Mailroom is restarted.
    /// </summary>
    private void SyncCurrent()
    {
        lock (_syncLock)
        {
            if (_syncFailure is not null)
            {
                throw new IOException($"An earlier fsync of a queue segment in {_directory} failed ({_syncFailure.Message}); check the disk and restart Mailroom.", _syncFailure);
            }

            try
            {
                foreach (FileStream segment in _sealedUnsynced)
                {
                    segment.Flush(flushToDisk: true);
                }

                _current?.Flush(flushToDisk: true);
            }
            catch (IOException e)
            {
                _syncFailure = e;
                SegmentLogMessages.SyncFailed(_logger, _directory, e);
                throw;
            }

            foreach (FileStream segment in _sealedUnsynced)
            {
                segment.Dispose();
            }

            _sealedUnsynced.Clear();
        }
    }

    /// <summary>
    /// Deletes the oldest segments while they are sealed and hold no queued message; the caller holds
    /// _writeLock. A failure is logged and tried again at the next call: a segment kept too long
    /// costs disk space, never a message.
    /// </summary>
    private void DeleteDeadSegments()
    {
        while (_liveMessages.Count > 0)
        {
            (long oldest, int live) = _liveMessages.First();
            if (live > 0 || (_current is not null && oldest == _currentNumber))
            {
                return;
            }

            try
            {
                File.Delete(SegmentPath(oldest));

                // Durable before the next one goes: a newer segment may hold removals of this one's messages.
                DirectorySync.Sync(_directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                SegmentLogMessages.DeleteFailed(_logger, oldest, e);
                return;
            }

            _liveMessages.Remove(oldest);
            CloseReadHandle(oldest);
            SegmentLogMessages.SegmentDeleted(_logger, oldest);
        }
    }

    private void ReadSegment(long number, Dictionary<string, SegmentEntry> entries)
    {
        string path = SegmentPath(number);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
        Span<byte> magic = stackalloc byte[SegmentRecord.FileMagic.Length];
        if (file.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) < magic.Length || !magic.SequenceEqual(SegmentRecord.FileMagic))
        {
            // A crash right after the file was created, before its first line was durable: nothing was acknowledged in it.
            SegmentLogMessages.TornTail(_logger, number, 0, file.Length);
            return;
        }

        long offset = magic.Length;
        Span<byte> header = stackalloc byte[SegmentRecord.HeaderLength];
        while (true)
        {
            int read = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (read == 0)
            {
                return;
            }

            if (read == header.Length && header.IndexOfAnyExcept((byte)0) < 0)
            {
                return; // the zeros a segment was written with ahead of time: no more records
            }

            if (read < header.Length
                || !SegmentRecord.TryReadHeader(header, out byte kind, out uint payloadLength, out uint crc)
                || payloadLength > file.Length - offset - SegmentRecord.HeaderLength)
            {
                SegmentLogMessages.TornTail(_logger, number, offset, file.Length - offset);
                return;
            }

            byte[] payload = ArrayPool<byte>.Shared.Rent((int)payloadLength);
            try
            {
                Span<byte> bytes = payload.AsSpan(0, (int)payloadLength);
                file.ReadExactly(bytes);
                if (Crc32.HashToUInt32(bytes) != crc)
                {
                    SegmentLogMessages.TornTail(_logger, number, offset, file.Length - offset);
                    return;
                }

                long payloadOffset = offset + SegmentRecord.HeaderLength;
                if (kind == SegmentRecord.RemovalKind)
                {
                    if (SegmentRecord.TryReadId(bytes, out QueueId removed, out _))
                    {
                        entries.Remove(removed.Value);
                    }
                }
                else if (TryParseMessage(bytes, number, payloadOffset, out SegmentEntry? entry, out string? problem))
                {
                    entries[entry.Id.Value] = entry;
                }
                else
                {
                    SetAside(number, offset, bytes, problem);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(payload);
            }

            offset += SegmentRecord.HeaderLength + payloadLength;
        }
    }

    private static bool TryParseMessage(ReadOnlySpan<byte> payload, long segment, long payloadOffset, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SegmentEntry? entry, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? problem)
    {
        entry = null;
        if (!SegmentRecord.TryReadId(payload, out QueueId id, out int idLength) || payload.Length < idLength + 4)
        {
            problem = "no well-formed queue ID";
            return false;
        }

        int annotationsLength = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(idLength, 4)), int.MaxValue);
        int queueFileOffset = idLength + 4 + annotationsLength;
        if (annotationsLength > payload.Length - idLength - 4)
        {
            problem = "the annotations' length is beyond the record";
            return false;
        }

        try
        {
            MessageAnnotations annotations = annotationsLength == 0
                ? MessageAnnotations.None
                : JsonSerializer.Deserialize(payload.Slice(idLength + 4, annotationsLength), QueueJsonContext.Default.MessageAnnotations) ?? MessageAnnotations.None;
            Envelope envelope = QueueFile.ParseHeader(payload[queueFileOffset..], out int contentOffset);
            long contentStart = queueFileOffset + contentOffset;
            entry = new SegmentEntry(id, envelope, annotations, segment, payloadOffset + contentStart, payload.Length - contentStart);
            problem = null;
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or JsonException)
        {
            problem = e.Message;
            return false;
        }
    }

    /// <summary>A whole record (its CRC matches) that does not parse: kept in corrupt/, never deleted.</summary>
    private void SetAside(long number, long offset, ReadOnlySpan<byte> payload, string problem)
    {
        string target = Path.Combine(_corrupt, $"segment-{number.ToString(CultureInfo.InvariantCulture)}-{offset.ToString(CultureInfo.InvariantCulture)}.record");
        try
        {
            File.WriteAllBytes(target, payload.ToArray());
            SegmentLogMessages.CorruptRecord(_logger, number, offset, problem, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The segment stays until its other messages are gone; the record is lost with it then.
            SegmentLogMessages.CorruptRecord(_logger, number, offset, problem + "; could not be copied aside: " + e.Message, target);
        }
    }

    private string SegmentPath(long number) => Path.Combine(_directory, number.ToString("D" + NumberDigits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + Suffix);
}

internal static partial class SegmentLogMessages
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "segment {Segment}: deleted, no queued message left in it")]
    public static partial void SegmentDeleted(ILogger logger, long segment);

    // After a crash (or a failed write) the last records of a segment may be cut short: they were never acknowledged.
    [LoggerMessage(Level = LogLevel.Information, Message = "segment {Segment}: ignored {Length} bytes from offset {Offset}, an append cut short by a crash or a write error (never acknowledged)")]
    public static partial void TornTail(ILogger logger, long segment, long offset, long length);

    [LoggerMessage(Level = LogLevel.Warning, Message = "segment {Segment}: could not delete it; trying again later")]
    public static partial void DeleteFailed(ILogger logger, long segment, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "fsync of a queue segment in {Directory} failed: no message is accepted until Mailroom is restarted")]
    public static partial void SyncFailed(ILogger logger, string directory, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot write the spare queue segment {Path} ahead of time; the next segment starts empty")]
    public static partial void SpareFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "segment {Segment}: the record at offset {Offset} is whole but does not parse ({Problem}); its bytes are in {Path}")]
    public static partial void CorruptRecord(ILogger logger, long segment, long offset, string problem, string path);
}

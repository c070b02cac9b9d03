using System.Text.Json;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Mailroom.Queue;

/// <summary>
/// The durable queue on a local file system. Small messages are received in memory and appended
/// to shared segment files in <c>{spool}/segments/</c> (one fsync shared by many commits). A large
/// message, or one that needs a recorded state or schedule, has a file of its own in
/// <c>{spool}/active/</c>, named by its queue ID, with the recipients' progress in <c>{id}.state</c>
/// beside it; such files are received into <c>{spool}/incoming/</c> and renamed into <c>active/</c>
/// at the commit. The format and the durability argument are in README.md.
/// </summary>
/// <remarks>
/// Call <see cref="InitializeAsync"/> once at start, before anything else. Disk errors surface as
/// <see cref="IOException"/>; a corrupt message file found while reading surfaces as
/// <see cref="InvalidDataException"/> (recovery moves such files to <c>{spool}/corrupt/</c>).
/// </remarks>
public sealed partial class FileMessageStore : IMessageStore
{
    // 64 KiB: large enough that a message is written in few system calls, small enough per session.
    private const int BufferSize = 64 * 1024;
    private const int LockStripes = 64;

    private const UnixFileMode FileMode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode DirectoryMode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private readonly string _spool;
    private readonly string _incoming;
    private readonly string _active;
    private readonly string _corrupt;
    private readonly QueueIdGenerator _idGenerator;
    private readonly GroupCommitter _activeSync;

    // Linux: syncfs of the spool's file system, group-committed (README: "Durability"); null elsewhere.
    private GroupCommitter? _spoolSync;
    private readonly ILogger<FileMessageStore> _logger;

    // Serialises reading, recording and removing of one message (striped by queue ID), so a reader
    // never sees a message whose state file was just removed, and no state is written after removal.
    private readonly SemaphoreSlim[] _locks;
    private volatile bool _initialized;

    /// <param name="segments">How small messages are kept; null: <see cref="SegmentOptions.Default"/>.</param>
    public FileMessageStore(string spoolDirectory, TimeProvider timeProvider, ILogger<FileMessageStore> logger, SegmentOptions? segments = null)
    {
        segments ??= SegmentOptions.Default;
        ArgumentOutOfRangeException.ThrowIfNegative(segments.MessageLimit);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(segments.SegmentSize);
        ArgumentException.ThrowIfNullOrEmpty(spoolDirectory);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _spool = Path.GetFullPath(spoolDirectory);
        _incoming = Path.Combine(_spool, "incoming");
        _active = Path.Combine(_spool, "active");
        _corrupt = Path.Combine(_spool, "corrupt");
        _idGenerator = new QueueIdGenerator(timeProvider);
        _activeSync = new GroupCommitter(() => DirectorySync.Sync(_active), "mailroom-dirsync");
        _logger = logger;
        _segmentOptions = segments;
        _segments = segments.MessageLimit > 0 ? new SegmentLog(_spool, segments.SegmentSize, segments.Preallocate, logger) : null;
        _locks = new SemaphoreSlim[LockStripes];
        for (int i = 0; i < _locks.Length; i++)
        {
            _locks[i] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>
    /// Creates the spool's folders (mode 0700), deletes what is left in <c>incoming/</c> (messages
    /// whose commit never finished were never acknowledged, so they leave no trace) and reads the
    /// segments. Call once at start, before any other member, while no message is being received.
    /// </summary>
    public async ValueTask InitializeAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        CreatePrivateDirectory(_spool, enforceMode: false);
        CreatePrivateDirectory(_incoming, enforceMode: true);
        CreatePrivateDirectory(_active, enforceMode: true);
        CreatePrivateDirectory(_corrupt, enforceMode: true);
        if (_segments is not null)
        {
            CreatePrivateDirectory(_segments.Directory, enforceMode: true);
        }

        DirectorySync.Sync(_spool);
        if (_spoolSync is null && FileSystemSync.TryOpen(_spool) is { } fileSystem)
        {
            _spoolSync = new GroupCommitter(fileSystem.Sync, "mailroom-syncfs");
        }

        foreach (string path in Directory.EnumerateFiles(_incoming))
        {
            File.Delete(path);
            Log.UncommittedDeleted(_logger, Path.GetFileName(path));
        }

        await RecoverSegmentsAsync().ConfigureAwait(false);
        _initialized = true;
    }

    public ValueTask<IncomingMessage> CreateAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ThrowIfNotInitialized();
        cancellationToken.ThrowIfCancellationRequested();
        byte[] header = QueueFile.FormatHeader(envelope);

        while (true)
        {
            QueueId id = _idGenerator.Next();
            if (File.Exists(MessagePath(id.Value)) || _segmentIndex.ContainsKey(id.Value))
            {
                continue; // only after a restart with the clock set back: take the next ID
            }

            if (_segments is not null && header.Length <= _segmentOptions.MessageLimit / 2)
            {
                return ValueTask.FromResult<IncomingMessage>(new SegmentIncomingMessage(this, _segments, id, envelope, header));
            }

            if (CreateFileMessage(id, header, envelope.Recipients.Count) is { } message)
            {
                return ValueTask.FromResult<IncomingMessage>(message);
            }
        }
    }

    /// <summary>Creates <c>incoming/{id}</c> and writes the header into its buffer; null when that file exists already.</summary>
    private FileIncomingMessage? CreateFileMessage(QueueId id, byte[] header, int recipientCount)
    {
        string incomingPath = Path.Combine(_incoming, id.Value);
        FileStream file;
        try
        {
            // Shared for reading: the cleanup checks read the content back before the commit.
            file = new FileStream(incomingPath, SpoolFileOptions(FileMode.CreateNew, FileAccess.Write, share: FileShare.Read));
        }
        catch (IOException) when (File.Exists(incomingPath))
        {
            return null;
        }

        try
        {
            // Into the file's buffer (written with the first flush), or at once when the envelope is larger.
            file.Write(header);
        }
        catch (IOException)
        {
            DiscardFile(id, file, incomingPath);
            throw;
        }

        return new FileIncomingMessage(this, id, file, incomingPath, MessagePath(id.Value), header.Length, recipientCount);
    }

    /// <summary>Closes and deletes an uncommitted message file (a failed write may fail again when the buffer is flushed at close).</summary>
    private void DiscardFile(QueueId id, FileStream file, string path)
    {
        try
        {
            file.Dispose();
        }
        catch (IOException e)
        {
            Log.DiscardFailed(_logger, id, e);
        }

        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Deleted at the next start at the latest.
            Log.DiscardFailed(_logger, id, e);
        }
    }

    public async IAsyncEnumerable<QueuedMessage> RecoverAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ThrowIfNotInitialized();
        var messages = new List<string>();
        var stateOwners = new List<string>();
        foreach (string path in Directory.EnumerateFiles(_active))
        {
            string name = Path.GetFileName(path);
            if (QueueId.IsWellFormed(name))
            {
                messages.Add(name);
            }
            else if (name.EndsWith(QueueFile.StateSuffix, StringComparison.Ordinal) && QueueId.IsWellFormed(name[..^QueueFile.StateSuffix.Length]))
            {
                stateOwners.Add(name[..^QueueFile.StateSuffix.Length]);
            }
            else if (name.EndsWith(QueueFile.ScheduleSuffix, StringComparison.Ordinal) && QueueId.IsWellFormed(name[..^QueueFile.ScheduleSuffix.Length]))
            {
                stateOwners.Add(name[..^QueueFile.ScheduleSuffix.Length]);
            }
            else if (name.EndsWith(QueueFile.AnnotationsSuffix, StringComparison.Ordinal) && QueueId.IsWellFormed(name[..^QueueFile.AnnotationsSuffix.Length]))
            {
                stateOwners.Add(name[..^QueueFile.AnnotationsSuffix.Length]);
            }
            else
            {
                Log.UnknownFileIgnored(_logger, path);
            }
        }

        var messageSet = new HashSet<string>(messages, StringComparer.Ordinal);
        foreach (string owner in stateOwners)
        {
            if (!messageSet.Contains(owner))
            {
                await DeleteOrphanStateAsync(owner, cancellationToken).ConfigureAwait(false);
            }
        }

        messages.AddRange(_segmentIndex.Keys);
        messages.Sort(StringComparer.Ordinal);
        foreach (string name in messages)
        {
            cancellationToken.ThrowIfCancellationRequested();
            QueuedMessage? message = await RecoverOneAsync(new QueueId(name), cancellationToken).ConfigureAwait(false);
            if (message is not null)
            {
                yield return message;
            }
        }
    }

    public async ValueTask<QueuedMessage?> ReadAsync(QueueId id, CancellationToken cancellationToken)
    {
        string name = FileName(id);
        ThrowIfNotInitialized();
        SemaphoreSlim gate = LockFor(name);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_segmentIndex.TryGetValue(name, out SegmentEntry? entry))
            {
                return ToQueuedMessage(entry);
            }

            Envelope envelope;
            long contentLength;
            FileStream file;
            try
            {
                file = new FileStream(MessagePath(name), ReadFileOptions());
            }
            catch (FileNotFoundException)
            {
                return null;
            }

            await using (file.ConfigureAwait(false))
            {
                (envelope, long contentOffset) = await QueueFile.ReadHeaderAsync(file, cancellationToken).ConfigureAwait(false);
                contentLength = file.Length - contentOffset;
            }

            byte[] stateFile = ReadSideFile(StatePath(name)) ?? [];

            RecipientStatus[] states = QueueFile.FoldStates(stateFile, envelope.Recipients.Count, out int malformedLines);
            if (malformedLines > 0)
            {
                Log.MalformedStateLines(_logger, id, malformedLines);
            }

            return new QueuedMessage(id, envelope, states, contentLength) { Schedule = ReadSchedule(name), Annotations = ReadAnnotations(name) };
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Opens the content read-only; Position and Length of the stream count content bytes only.</summary>
    /// <exception cref="FileNotFoundException">The message is not in the queue.</exception>
    /// <exception cref="InvalidDataException">The message file's header is corrupt.</exception>
    public Stream OpenContent(QueueId id)
    {
        string name = FileName(id);
        ThrowIfNotInitialized();
        if (_segments is not null && _segmentIndex.TryGetValue(name, out SegmentEntry? entry))
        {
            return _segments.OpenContent(entry);
        }

        var file = new FileStream(MessagePath(name), ReadFileOptions());
        try
        {
            return new FileContentReadStream(file, QueueFile.ReadContentOffset(file));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Appends one line per update to the message's state file and fsyncs it (and the folder, when
    /// the state file is new) before returning. Each line is atomic; the list as a whole is not.
    /// </summary>
    /// <exception cref="FileNotFoundException">The message is not in the queue.</exception>
    public async ValueTask RecordAsync(QueueId id, IReadOnlyList<RecipientUpdate> updates, CancellationToken cancellationToken)
    {
        string name = FileName(id);
        ArgumentNullException.ThrowIfNull(updates);
        ThrowIfNotInitialized();
        if (updates.Count == 0)
        {
            return;
        }

        byte[] records = QueueFile.FormatStateRecords(updates);
        SemaphoreSlim gate = LockFor(name);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await MoveOutOfSegmentAsync(name, cancellationToken).ConfigureAwait(false);
            if (!File.Exists(MessagePath(name)))
            {
                throw new FileNotFoundException($"The queue holds no message {name}.", MessagePath(name));
            }

            string statePath = StatePath(name);
            bool created = !File.Exists(statePath);
            var file = new FileStream(statePath, SpoolFileOptions(FileMode.OpenOrCreate, FileAccess.ReadWrite, bufferSize: 0));
            await using (file.ConfigureAwait(false))
            {
                await CutTornAppendAsync(file, cancellationToken).ConfigureAwait(false);
                file.Seek(0, SeekOrigin.End);
                await file.WriteAsync(records, cancellationToken).ConfigureAwait(false);
                if (_spoolSync is null)
                {
                    file.Flush(flushToDisk: true);
                }
            }

            // With syncfs one shared sync covers the appended records and, when the file is new, its name.
            if (_spoolSync is not null || created)
            {
                await MakeNamesDurableAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Removes the message file, syncs the folder, then removes the state file: a crash in between
    /// leaves an orphan state file (deleted by recovery), never a message without its progress.
    /// Removing a message that is not there does nothing.
    /// </summary>
    public async ValueTask RemoveAsync(QueueId id, CancellationToken cancellationToken)
    {
        string name = FileName(id);
        ThrowIfNotInitialized();
        SemaphoreSlim gate = LockFor(name);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (TryRemoveFromSegment(name))
            {
                return;
            }

            string messagePath = MessagePath(name);
            if (File.Exists(messagePath))
            {
                File.Delete(messagePath);

                // Not cancellable from here on: the message is gone, its state must follow.
                await MakeNamesDurableAsync().ConfigureAwait(false);
                Log.Removed(_logger, id);
            }

            File.Delete(StatePath(name));
            File.Delete(SchedulePath(name));
            File.Delete(AnnotationsPath(name));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Removes the message without appending its last records: the removal, made durable, is the
    /// record (README: "Durability", step 7).
    /// </summary>
    public ValueTask CompleteAsync(QueueId id, IReadOnlyList<RecipientUpdate> updates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updates);
        return RemoveAsync(id, cancellationToken);
    }

    /// <summary>Writes {id}.schedule by rename (atomic), without fsync: a lost schedule means an earlier retry, never a lost message.</summary>
    /// <exception cref="FileNotFoundException">The message is not in the queue.</exception>
    public async ValueTask ScheduleAsync(QueueId id, DeliverySchedule schedule, CancellationToken cancellationToken)
    {
        string name = FileName(id);
        ArgumentNullException.ThrowIfNull(schedule);
        ThrowIfNotInitialized();
        SemaphoreSlim gate = LockFor(name);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await MoveOutOfSegmentAsync(name, cancellationToken).ConfigureAwait(false);
            if (!File.Exists(MessagePath(name)))
            {
                throw new FileNotFoundException($"The queue holds no message {name}.", MessagePath(name));
            }

            // Written in incoming/ (same file system, cleaned at start) and renamed into place.
            string temporary = Path.Combine(_incoming, name + QueueFile.ScheduleSuffix);
            var file = new FileStream(temporary, SpoolFileOptions(FileMode.Create, FileAccess.Write, bufferSize: 0));
            await using (file.ConfigureAwait(false))
            {
                await file.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(schedule, QueueJsonContext.Default.DeliverySchedule), cancellationToken).ConfigureAwait(false);
            }

            File.Move(temporary, SchedulePath(name), overwrite: true);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Writes incoming/{id}.annotations and renames it into active/ (before the message itself is renamed there).</summary>
    private async ValueTask WriteAnnotationsAsync(QueueId id, MessageAnnotations annotations, CancellationToken cancellationToken)
    {
        string name = FileName(id);
        string temporary = Path.Combine(_incoming, name + QueueFile.AnnotationsSuffix);
        var file = new FileStream(temporary, SpoolFileOptions(FileMode.Create, FileAccess.Write, bufferSize: 0));
        await using (file.ConfigureAwait(false))
        {
            await file.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(annotations, QueueJsonContext.Default.MessageAnnotations), cancellationToken).ConfigureAwait(false);
            if (_spoolSync is null)
            {
                // Without syncfs the message's own fsync does not cover this file.
                file.Flush(flushToDisk: true);
            }
        }

        File.Move(temporary, AnnotationsPath(name), overwrite: true);
    }

    private MessageAnnotations ReadAnnotations(string name)
    {
        if (ReadSideFile(AnnotationsPath(name)) is not { } annotations)
        {
            return MessageAnnotations.None;
        }

        try
        {
            return JsonSerializer.Deserialize(annotations, QueueJsonContext.Default.MessageAnnotations) ?? MessageAnnotations.None;
        }
        catch (JsonException e)
        {
            // Damaged: deliver without the added headers rather than not at all.
            Log.MalformedAnnotations(_logger, name, e.Message);
            return MessageAnnotations.None;
        }
    }

    private DeliverySchedule? ReadSchedule(string name)
    {
        if (ReadSideFile(SchedulePath(name)) is not { } schedule)
        {
            return null; // no schedule yet: the message is due now
        }

        try
        {
            return JsonSerializer.Deserialize(schedule, QueueJsonContext.Default.DeliverySchedule);
        }
        catch (JsonException)
        {
            // A damaged schedule: the message is simply due now.
            return null;
        }
    }

    /// <summary>
    /// The bytes of a message's state, schedule or annotations file, or null when it has none. Most
    /// messages have none of the three when they are first read: a stat costs far less than the
    /// FileNotFoundException of a failed open. The caller holds the message's lock, so the answer
    /// cannot change in between; the catch covers a file removed by hand.
    /// </summary>
    private static byte[]? ReadSideFile(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private async ValueTask<QueuedMessage?> RecoverOneAsync(QueueId id, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadAsync(id, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            MoveAside(id, e.Message);
            return null;
        }
    }

    private void MoveAside(QueueId id, string reason)
    {
        string target = Path.Combine(_corrupt, id.Value);
        try
        {
            File.Move(MessagePath(id.Value), target, overwrite: false);
            if (File.Exists(StatePath(id.Value)))
            {
                File.Move(StatePath(id.Value), target + QueueFile.StateSuffix, overwrite: false);
            }

            Log.CorruptMovedAside(_logger, id, reason, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left where it is: the next recovery tries again. Never deleted.
            Log.CorruptNotMoved(_logger, id, reason, e);
        }
    }

    private async ValueTask DeleteOrphanStateAsync(string name, CancellationToken cancellationToken)
    {
        SemaphoreSlim gate = LockFor(name);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Checked again under the lock: the message may have been committed since the listing.
            if (!File.Exists(MessagePath(name)))
            {
                File.Delete(StatePath(name));
                File.Delete(SchedulePath(name));
                File.Delete(AnnotationsPath(name));
                Log.OrphanStateDeleted(_logger, name);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Cuts off a torn last line (a crash during an append) so the next record starts on a line of its own.</summary>
    private static async ValueTask CutTornAppendAsync(FileStream file, CancellationToken cancellationToken)
    {
        long length = file.Length;
        if (length == 0)
        {
            return;
        }

        file.Position = length - 1;
        if (file.ReadByte() == '\n')
        {
            return;
        }

        byte[] content = new byte[length];
        file.Position = 0;
        await file.ReadExactlyAsync(content, cancellationToken).ConfigureAwait(false);
        file.SetLength(QueueFile.CompleteLength(content));
    }

    /// <summary>
    /// Makes the bytes written to <paramref name="file"/> (already flushed to the system) durable:
    /// with syncfs, waits for a shared sync that started after this call; otherwise fsyncs the file.
    /// </summary>
    private Task MakeContentDurableAsync(FileStream file)
    {
        if (_spoolSync is not null)
        {
            return _spoolSync.SyncAsync();
        }

        file.Flush(flushToDisk: true);
        return Task.CompletedTask;
    }

    /// <summary>Makes the names created, renamed or unlinked in <c>active/</c> before this call durable (shared sync).</summary>
    private Task MakeNamesDurableAsync() => (_spoolSync ?? _activeSync).SyncAsync();

    /// <summary>Called when a commit failed after its rename: takes the message out of the queue again (best effort).</summary>
    private void Withdraw(QueueId id, string activePath, Exception error)
    {
        Log.CommitFailed(_logger, id, error);
        try
        {
            File.Delete(activePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.WithdrawFailed(_logger, id, e);
        }
    }

    private static FileStreamOptions SpoolFileOptions(FileMode mode, FileAccess access, int bufferSize = BufferSize, FileShare share = FileShare.None)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = share, BufferSize = bufferSize };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode0600;
        }

        return options;
    }

    private static FileStreamOptions ReadFileOptions() => new()
    {
        Mode = FileMode.Open,
        Access = FileAccess.Read,
        Share = FileShare.Read | FileShare.Delete,
        BufferSize = BufferSize,
        Options = FileOptions.SequentialScan,
    };

    private static void CreatePrivateDirectory(string path, bool enforceMode)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, DirectoryMode0700);
        if (enforceMode)
        {
            File.SetUnixFileMode(path, DirectoryMode0700);
        }
    }

    private static string FileName(QueueId id) =>
        QueueId.IsWellFormed(id.Value) ? id.Value : throw new ArgumentException($"'{id.Value}' is not a well-formed queue ID.", nameof(id));

    private string MessagePath(string name) => Path.Combine(_active, name);

    private string StatePath(string name) => Path.Combine(_active, name + QueueFile.StateSuffix);

    private string SchedulePath(string name) => Path.Combine(_active, name + QueueFile.ScheduleSuffix);

    private string AnnotationsPath(string name) => Path.Combine(_active, name + QueueFile.AnnotationsSuffix);

    private SemaphoreSlim LockFor(string name) => _locks[(uint)StringComparer.Ordinal.GetHashCode(name) % LockStripes];

    private void ThrowIfNotInitialized()
    {
        if (!_initialized)
        {
            throw new InvalidOperationException("The message store is not initialized: call InitializeAsync first.");
        }
    }
}

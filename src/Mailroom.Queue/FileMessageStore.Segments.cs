using System.Buffers;
using System.Collections.Concurrent;

namespace Mailroom.Queue;

public sealed partial class FileMessageStore
{
    private const int InitialBufferSize = 4096;

    private readonly SegmentOptions _segmentOptions;

    // Bytes of receive buffers held by messages being received now (SegmentOptions.MemoryBudget).
    private long _bufferedBytes;
    private readonly SegmentLog? _segments;

    // The committed messages that live in a segment, by queue ID. A message is here or in active/, never both.
    private readonly ConcurrentDictionary<string, SegmentEntry> _segmentIndex = new(StringComparer.Ordinal);

    /// <summary>Completes when the spare segment being written ahead is ready; for tests.</summary>
    internal Task SpareSegmentReady => _segments?.SpareReady ?? Task.CompletedTask;

    /// <summary>Reads the segments (after a restart), keeping the messages that did not leave and are not in active/ already.</summary>
    private async ValueTask RecoverSegmentsAsync()
    {
        if (_segments is null)
        {
            return;
        }

        bool removed = false;
        foreach (SegmentEntry entry in _segments.Recover())
        {
            if (File.Exists(MessagePath(entry.Id.Value)))
            {
                // Moved to a file of its own (it needed a state or a schedule) before its removal record was written: the file is the message.
                _segments.AppendRemoval(entry);
                removed = true;
            }
            else
            {
                _segmentIndex[entry.Id.Value] = entry;
            }
        }

        if (removed)
        {
            await _segments.SyncAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Moves a message from its segment to a file of its own in active/ (committed as a new message
    /// is, with the same ID), so that a state or schedule can be recorded beside it; then writes its
    /// removal record. Does nothing for a message that has a file already. The caller holds the
    /// message's lock.
    /// </summary>
    private async ValueTask MoveOutOfSegmentAsync(string name, CancellationToken cancellationToken)
    {
        if (_segments is null || !_segmentIndex.TryGetValue(name, out SegmentEntry? entry))
        {
            return;
        }

        FileIncomingMessage message = CreateFileMessage(entry.Id, QueueFile.FormatHeader(entry.Envelope), entry.Envelope.Recipients.Count)
            ?? throw new IOException($"Cannot move message {name} out of its segment: incoming/{name} exists.");
        await using (message.ConfigureAwait(false))
        {
            message.Annotations = entry.Annotations;
            Stream content = _segments.OpenContent(entry);
            await using (content.ConfigureAwait(false))
            {
                await content.CopyToAsync(message.Content, cancellationToken).ConfigureAwait(false);
            }

            await message.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        // Not synced: should the record be lost, recovery finds the file and writes it again.
        _segmentIndex.TryRemove(name, out _);
        _segments.AppendRemoval(entry);
    }

    /// <summary>
    /// Removes a message that lives in a segment: a removal record, made durable soon but not
    /// waited for (it rides on the next commit's fsync; a crash before then delivers the message
    /// once more, as a crash between a delivery and its record would). False when the message is
    /// not in a segment.
    /// </summary>
    private bool TryRemoveFromSegment(string name)
    {
        if (_segments is null || !_segmentIndex.TryRemove(name, out SegmentEntry? entry))
        {
            return false;
        }

        _segments.AppendRemoval(entry);
        _segments.SyncSoon();
        Log.Removed(_logger, entry.Id);
        return true;
    }

    private static QueuedMessage ToQueuedMessage(SegmentEntry entry) =>
        new(entry.Id, entry.Envelope, new RecipientStatus[entry.Envelope.Recipients.Count], entry.ContentLength) { Annotations = entry.Annotations };

    /// <summary>
    /// A message received into memory (a pooled buffer, rented at the first write) and committed as
    /// one segment record. When it grows past the segment limit, or the buffers of all messages
    /// being received would exceed the memory budget, it moves into a file of its own in incoming/
    /// and goes on as a <see cref="FileIncomingMessage"/> would.
    /// </summary>
    private sealed class SegmentIncomingMessage : IncomingMessage
    {
        private readonly FileMessageStore _store;
        private readonly SegmentLog _segments;
        private readonly Envelope _envelope;
        private readonly byte[] _header;
        private byte[]? _buffer;
        private int _length;
        private FileIncomingMessage? _file;
        private bool _committed;
        private bool _disposed;

        public SegmentIncomingMessage(FileMessageStore store, SegmentLog segments, QueueId id, Envelope envelope, byte[] header)
        {
            _store = store;
            _segments = segments;
            Id = id;
            _envelope = envelope;
            _header = header;
            Content = new SegmentContentStream(this);
        }

        public override QueueId Id { get; }

        public override Stream Content { get; }

        /// <summary>Appends the record, waits for the shared fsync that covers it, then makes the message visible to delivery.</summary>
        public override async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_committed)
            {
                throw new InvalidOperationException($"Message {Id} is already committed.");
            }

            if (_file is not null)
            {
                _file.Annotations = Annotations;
                await _file.CommitAsync(cancellationToken).ConfigureAwait(false);
                _committed = true;
                return;
            }

            cancellationToken.ThrowIfCancellationRequested();
            SegmentEntry entry = _segments.AppendMessage(Id, _envelope, Annotations, _header, (_buffer ?? []).AsMemory(0, _length));
            try
            {
                // From here on the commit runs to its end (as a file's does after its rename).
                await _segments.SyncAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.CommitFailed(_store._logger, Id, e);
                Withdraw(entry);
                throw;
            }

            _store._segmentIndex[Id.Value] = entry;
            _committed = true;
            ReturnBuffer();
            Log.Queued(_store._logger, Id, entry.ContentLength, _envelope.Recipients.Count);
        }

        public override ValueTask<Stream> OpenWrittenContentAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed || _committed, this);
            return _file is not null
                ? _file.OpenWrittenContentAsync(cancellationToken)
                : ValueTask.FromResult<Stream>(new MemoryStream(_buffer ?? [], 0, _length, writable: false));
        }

        public override async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            ReturnBuffer();
            if (_file is not null)
            {
                await _file.DisposeAsync().ConfigureAwait(false);
            }
        }

        private void Write(ReadOnlySpan<byte> data)
        {
            ObjectDisposedException.ThrowIf(_disposed || _committed, this);
            if (_file is null && !TryMakeRoom(data.Length))
            {
                MoveToFile();
            }

            if (_file is not null)
            {
                _file.Content.Write(data);
                return;
            }

            data.CopyTo(_buffer.AsSpan(_length));
            _length += data.Length;
        }

        /// <summary>
        /// Makes the buffer large enough for <paramref name="more"/> bytes; false when the message
        /// would outgrow the segment limit or the store's memory budget (it then moves to a file).
        /// </summary>
        private bool TryMakeRoom(int more)
        {
            long needed = (long)_length + more;
            if (_header.Length + needed > _store._segmentOptions.MessageLimit)
            {
                return false;
            }

            int capacity = _buffer?.Length ?? 0;
            if (needed <= capacity)
            {
                return true;
            }

            int size = (int)Math.Max(Math.Max(capacity * 2L, needed), InitialBufferSize);
            byte[] larger = ArrayPool<byte>.Shared.Rent(size);
            if (Interlocked.Add(ref _store._bufferedBytes, larger.Length - capacity) > _store._segmentOptions.MemoryBudget)
            {
                Interlocked.Add(ref _store._bufferedBytes, capacity - larger.Length);
                ArrayPool<byte>.Shared.Return(larger);
                return false;
            }

            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = larger;
            return true;
        }

        private ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            if (_file is not null)
            {
                return _file.Content.WriteAsync(data, cancellationToken);
            }

            Write(data.Span);
            return ValueTask.CompletedTask;
        }

        /// <summary>Too large for a segment: what was received so far goes into incoming/{id}, and the rest follows it there.</summary>
        private void MoveToFile()
        {
            _file = _store.CreateFileMessage(Id, _header, _envelope.Recipients.Count)
                ?? throw new IOException($"Cannot receive message {Id} into a file: incoming/{Id.Value} exists.");
            _file.Content.Write(_buffer.AsSpan(0, _length));
            ReturnBuffer();
        }

        private void Withdraw(SegmentEntry entry)
        {
            try
            {
                _segments.AppendRemoval(entry);
            }
            catch (IOException e)
            {
                // Should the record become durable anyway, the message is delivered although the client was told to retry: a duplicate, never a loss.
                Log.WithdrawFailed(_store._logger, Id, e);
            }
        }

        private void ReturnBuffer()
        {
            if (_buffer is not null)
            {
                Interlocked.Add(ref _store._bufferedBytes, -_buffer.Length);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }

            _length = 0;
        }

        /// <summary><see cref="IncomingMessage.Content"/> of a message received into memory: write-only, not seekable.</summary>
        private sealed class SegmentContentStream(SegmentIncomingMessage message) : Stream
        {
            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => throw new NotSupportedException();

            public override long Position
            {
                get => throw new NotSupportedException();
                set => throw new NotSupportedException();
            }

            public override void Write(byte[] buffer, int offset, int count) => message.Write(buffer.AsSpan(offset, count));

            public override void Write(ReadOnlySpan<byte> buffer) => message.Write(buffer);

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                message.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
                message.WriteAsync(buffer, cancellationToken);

            public override void Flush() => message._file?.Content.Flush();

            public override Task FlushAsync(CancellationToken cancellationToken) =>
                message._file?.Content.FlushAsync(cancellationToken) ?? Task.CompletedTask;

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();
        }
    }
}

namespace Mailroom.Queue;

public sealed partial class FileMessageStore
{
    /// <summary>A message being received into <c>incoming/{id}</c>.</summary>
    private sealed class FileIncomingMessage : IncomingMessage
    {
        private readonly FileMessageStore _store;
        private readonly FileStream _file;
        private readonly string _incomingPath;
        private readonly string _activePath;
        private readonly int _headerLength;
        private readonly int _recipientCount;
        private bool _committed;
        private bool _disposed;

        public FileIncomingMessage(FileMessageStore store, QueueId id, FileStream file, string incomingPath, string activePath, int headerLength, int recipientCount)
        {
            _store = store;
            Id = id;
            _file = file;
            _incomingPath = incomingPath;
            _activePath = activePath;
            _headerLength = headerLength;
            _recipientCount = recipientCount;
            Content = new ContentWriteStream(file);
        }

        public override QueueId Id { get; }

        public override Stream Content { get; }

        /// <summary>
        /// Make the file durable, rename it into <c>active/</c>, make the name durable; with syncfs
        /// both syncs are shared with the commits waiting at the same time, otherwise the file is
        /// fsynced by the caller and the folder's fsync is shared. Cancellation is honoured up to the rename; after it
        /// the commit runs to its end, so that a cancelled commit never leaves a message the
        /// client was told failed but that is in the queue anyway.
        /// </summary>
        public override async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_committed)
            {
                throw new InvalidOperationException($"Message {Id} is already committed.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (!Annotations.IsEmpty)
            {
                // Renamed into active/ before the message: a message there always has its annotations.
                await _store.WriteAnnotationsAsync(Id, Annotations, cancellationToken).ConfigureAwait(false);
            }

            // The content is durable before the file gets its name in active/: a message there is always whole.
            await _store.MakeContentDurableAsync(_file).ConfigureAwait(false);
            long contentLength = _file.Length - _headerLength;
            await _file.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();

            File.Move(_incomingPath, _activePath, overwrite: false);
            try
            {
                await _store.MakeNamesDurableAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _store.Withdraw(Id, _activePath, e);
                throw;
            }

            _committed = true;
            Log.Queued(_store._logger, Id, contentLength, _recipientCount);
        }

        public override async ValueTask<Stream> OpenWrittenContentAsync(CancellationToken cancellationToken)
        {
            ObjectDisposedException.ThrowIf(_disposed || _committed, this);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            var reader = new FileStream(_incomingPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, useAsync: false);
            return new FileContentReadStream(reader, _headerLength);
        }

        public override ValueTask DisposeAsync()
        {
            if (!_disposed)
            {
                _disposed = true;
                if (!_committed)
                {
                    // Closing may flush buffered bytes and fail (e.g. ENOSPC): the file is deleted just after anyway.
                    _store.DiscardFile(Id, _file, _incomingPath);
                }
            }

            return ValueTask.CompletedTask;
        }
    }
}

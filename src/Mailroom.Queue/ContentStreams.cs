namespace Mailroom.Queue;

/// <summary>
/// <see cref="IncomingMessage.Content"/>: forwards writes to the spool file after its header. The
/// caller can neither seek back into the header nor close the file under the commit (disposing this
/// stream does nothing; the message owns the file).
/// </summary>
internal sealed class ContentWriteStream(FileStream file) : Stream
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

    public override void Write(byte[] buffer, int offset, int count) => file.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => file.Write(buffer);

    public override void WriteByte(byte value) => file.WriteByte(value);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        file.WriteAsync(buffer, offset, count, cancellationToken);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        file.WriteAsync(buffer, cancellationToken);

    /// <summary>Hands buffered bytes to the operating system; durability comes only with the commit.</summary>
    public override void Flush() => file.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => file.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// What <see cref="IMessageStore.OpenContent"/> returns: a read-only, seekable view of the bytes
/// [offset, offset + length) of a message file (<see cref="FileContentReadStream"/>) or a segment
/// (<see cref="SegmentContentReadStream"/>). Position and Length count content bytes only.
/// </summary>
internal abstract class ContentReadStream(long length) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => length;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => Position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return Position;
    }

    public override void Flush()
    {
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>How many of <paramref name="wanted"/> bytes lie before the end of the view.</summary>
    protected int Readable(int wanted) => (int)Math.Clamp(length - Position, 0, wanted);
}

/// <summary>A message file's content, read through the file's own (buffered) stream. Disposing it closes the file.</summary>
internal sealed class FileContentReadStream : ContentReadStream
{
    private readonly FileStream _file;
    private readonly long _contentOffset;

    /// <summary>A view from <paramref name="contentOffset"/> to the end of the file.</summary>
    public FileContentReadStream(FileStream file, long contentOffset)
        : base(file.Length - contentOffset)
    {
        _file = file;
        _contentOffset = contentOffset;
        _file.Position = contentOffset;
    }

    public override long Position
    {
        get => _file.Position - _contentOffset;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _file.Position = _contentOffset + value;
        }
    }

    public override int Read(Span<byte> buffer) => _file.Read(buffer[..Readable(buffer.Length)]);

    public override int ReadByte() => Readable(1) == 0 ? -1 : _file.ReadByte();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _file.ReadAsync(buffer[..Readable(buffer.Length)], cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// A segment message's content, read with positioned reads (<c>pread</c>) on the handle the
/// <see cref="SegmentLog"/> keeps open for its segment, so that delivery opens no file per
/// message. It holds a reference on the handle: should the segment be deleted meanwhile, the file
/// stays open until this stream is disposed. Reads are synchronous, also ReadAsync: the segment
/// was written moments ago and is in the page cache, and an asynchronous file read on Unix is a
/// thread-pool hand-off for each call.
/// </summary>
internal sealed class SegmentContentReadStream : ContentReadStream
{
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _handle;
    private readonly long _contentOffset;
    private long _position;
    private bool _released;

    /// <param name="handle">The segment's read handle, on which the caller took a reference (DangerousAddRef) for this stream.</param>
    public SegmentContentReadStream(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long contentOffset, long length)
        : base(length)
    {
        _handle = handle;
        _contentOffset = contentOffset;
    }

    public override bool CanRead => !_released;

    public override bool CanSeek => !_released;

    public override long Position
    {
        get => _position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _position = value;
        }
    }

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_released, this);
        int wanted = Readable(buffer.Length);
        if (wanted == 0)
        {
            return 0;
        }

        int read = RandomAccess.Read(_handle, buffer[..wanted], _contentOffset + _position);
        _position += read;
        return read;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    protected override void Dispose(bool disposing)
    {
        if (!_released)
        {
            _released = true;
            _handle.DangerousRelease();
        }

        base.Dispose(disposing);
    }
}

using System.IO.Pipelines;

namespace Mailroom.Delivery.Remote;

/// <summary>
/// A write-only stream that dot-stuffs what is written to it (<see cref="DataEncoder"/>) into the
/// connection's pipe, flushing every 64 KiB; each flush gets the per-block data timeout
/// (RFC 5321 §4.5.3.2.5). The content is streamed: nothing holds the whole message.
/// </summary>
internal sealed class DataWriteStream : Stream
{
    public const int FlushThreshold = 64 * 1024;

    private readonly PipeWriter _writer;
    private readonly TimeSpan _blockTimeout;
    private readonly TimeProvider _timeProvider;
    private DataEncoder _encoder;

    public DataWriteStream(PipeWriter writer, TimeSpan blockTimeout, TimeProvider timeProvider)
    {
        _writer = writer;
        _blockTimeout = blockTimeout;
        _timeProvider = timeProvider;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _encoder.Encode(buffer.Span, _writer);
        if (_writer.UnflushedBytes >= FlushThreshold)
        {
            await FlushBlockAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Writes the end of data (the line end the content lacks, and "." CRLF) without sending it yet.</summary>
    public void WriteEnd() => _encoder.Complete(_writer);

    /// <summary>Sends everything written so far, with the block timeout.</summary>
    public Task FlushWrittenAsync(CancellationToken cancellationToken) => FlushBlockAsync(cancellationToken);

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("DATA is written asynchronously.");

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private async Task FlushBlockAsync(CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(_blockTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        var result = await _writer.FlushAsync(linked.Token).ConfigureAwait(false);
        if (result.IsCompleted)
        {
            throw new IOException("The connection was closed while sending the data.");
        }
    }
}

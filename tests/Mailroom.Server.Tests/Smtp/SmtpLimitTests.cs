using Mailroom.Queue;
using Mailroom.Server.Smtp;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>Line, error and connection limits, timeouts on the fake clock, and storage failures.</summary>
public sealed class SmtpLimitTests
{
    [Fact]
    public async Task CommandLineOver512OctetsIs500AndTheSessionGoesOn()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        // RFC 5321 §4.5.3.1.4: 512 octets including CRLF.
        Assert.Equal("500 5.5.2", (await client.CommandAsync("NOOP " + new string('x', 506))).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP " + new string('x', 505))).CodeAndStatus);
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
    }

    [Fact]
    public async Task ACommandLineOverTheLimitArrivingInPiecesIsSkippedWhole()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        // The first piece already passes the limit without a line end; the rest comes later.
        await client.SendAsync(System.Text.Encoding.ASCII.GetBytes("NOOP " + new string('x', 600)));
        await client.SendAsync(System.Text.Encoding.ASCII.GetBytes(new string('x', 50) + "\r\nNOOP\r\n"));

        Assert.Equal("500 5.5.2", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
    }

    /// <summary>Postfix smtpd_hard_error_limit: unknown commands and overlong lines both count.</summary>
    [Theory]
    [InlineData("FROB", 0)]
    [InlineData("NOOP ", 600)]
    public async Task TwentiethErrorEndsTheSessionWith421(string command, int padding)
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        await client.SendAsync(string.Concat(Enumerable.Repeat(command + new string('x', padding) + "\r\n", 20)));
        var replies = await client.ReadRepliesAsync(21);

        Assert.All(replies.Take(20), reply => Assert.Equal("500 5.5.2", reply.CodeAndStatus));
        Assert.Equal("421 4.7.0", replies[20].CodeAndStatus);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task ConnectionOverTheLimitGets421()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { Limits = o.Limits with { Connections = 2 } });
        await using var first = await server.ConnectAsync();
        await using var second = await server.ConnectAsync();

        await using var third = await server.ConnectAsync(readGreeting: false);

        Assert.Equal("421 4.7.0", (await third.ReadReplyAsync()).CodeAndStatus);
        Assert.True(await third.IsClosedByServerAsync());
        Assert.Equal("250 2.0.0", (await first.CommandAsync("NOOP")).CodeAndStatus);
    }

    [Fact]
    public async Task IdleSessionTimesOutWith421()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);

        // The reply was sent after the timer was armed, so the session now waits on it.
        server.Time.Advance(server.Options.Limits.CommandTimeout - TimeSpan.FromSeconds(1));
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
        server.Time.Advance(server.Options.Limits.CommandTimeout);

        Assert.Equal("421 4.4.2", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task StalledDataTimesOutWith421AndNothingIsQueued()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        Assert.Equal(354, (await client.CommandAsync("DATA")).Code);

        server.Time.Advance(server.Options.Limits.DataTimeout);

        Assert.Equal("421 4.4.2", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.True(await client.IsClosedByServerAsync());
        Assert.Empty(await server.QueuedAsync());
    }

    [Theory]
    [InlineData(FailingMessageStore.Stage.Create, "Input/output error", "451 4.3.0")]
    [InlineData(FailingMessageStore.Stage.Create, "No space left on device", "452 4.3.1")]
    [InlineData(FailingMessageStore.Stage.Write, "Input/output error", "451 4.3.0")]
    [InlineData(FailingMessageStore.Stage.Commit, "Input/output error", "451 4.3.0")]
    [InlineData(FailingMessageStore.Stage.Commit, "No space left on device", "452 4.3.1")]
    public async Task StorageFailureIsATemporaryError(FailingMessageStore.Stage stage, string message, string expected)
    {
        await using var server = await SmtpServerFixture.StartAsync(wrapStore: store => new FailingMessageStore(store, stage, new IOException(message)));
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");

        var data = await client.CommandAsync("DATA");
        if (stage != FailingMessageStore.Stage.Create)
        {
            Assert.Equal(354, data.Code);
            data = await client.CommandAsync("Subject: x\r\n\r\nbody\r\n.");
        }

        Assert.Equal(expected, data.CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
        Assert.Empty(await server.QueuedAsync());
    }

    [Fact]
    public async Task StorageFailureDuringBdatIsATemporaryErrorAndTheChunkIsConsumed()
    {
        await using var server = await SmtpServerFixture.StartAsync(
            wrapStore: store => new FailingMessageStore(store, FailingMessageStore.Stage.Create, new IOException("Input/output error")));
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");

        await client.SendAsync("BDAT 6 LAST\r\nRSET\r\nNOOP\r\n");

        Assert.Equal("451 4.3.0", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
    }

    [Fact]
    public async Task UnexpectedStoreExceptionIsATemporaryError()
    {
        // DESIGN.md: an unexpected internal error is a 4xx, never a 5xx, and never a dropped connection.
        await using var server = await SmtpServerFixture.StartAsync(
            wrapStore: store => new FailingMessageStore(store, FailingMessageStore.Stage.Create, new UnauthorizedAccessException("permission denied")));
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");

        Assert.Equal("451 4.3.0", (await client.CommandAsync("DATA")).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
    }
}

/// <summary>A store that fails at one stage of receiving a message; otherwise the real spool.</summary>
public sealed class FailingMessageStore : IMessageStore
{
    private readonly IMessageStore _inner;
    private readonly Stage _stage;
    private readonly Exception _exception;

    internal FailingMessageStore(IMessageStore inner, Stage stage, Exception exception)
    {
        _inner = inner;
        _stage = stage;
        _exception = exception;
    }

    public enum Stage
    {
        Create,
        Write,
        Commit,
    }

    public async ValueTask<IncomingMessage> CreateAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        if (_stage == Stage.Create)
        {
            throw _exception;
        }

        return new FailingIncomingMessage(await _inner.CreateAsync(envelope, cancellationToken), this);
    }

    public IAsyncEnumerable<QueuedMessage> RecoverAsync(CancellationToken cancellationToken) => _inner.RecoverAsync(cancellationToken);

    public ValueTask<QueuedMessage?> ReadAsync(QueueId id, CancellationToken cancellationToken) => _inner.ReadAsync(id, cancellationToken);

    public Stream OpenContent(QueueId id) => _inner.OpenContent(id);

    public ValueTask RecordAsync(QueueId id, IReadOnlyList<RecipientUpdate> updates, CancellationToken cancellationToken) =>
        _inner.RecordAsync(id, updates, cancellationToken);

    public ValueTask ScheduleAsync(QueueId id, DeliverySchedule schedule, CancellationToken cancellationToken) =>
        _inner.ScheduleAsync(id, schedule, cancellationToken);

    public ValueTask RemoveAsync(QueueId id, CancellationToken cancellationToken) => _inner.RemoveAsync(id, cancellationToken);

    private sealed class FailingIncomingMessage(IncomingMessage inner, FailingMessageStore store) : IncomingMessage
    {
        private readonly FailingStream _content = new(inner.Content, store);

        public override QueueId Id => inner.Id;

        public override Stream Content => _content;

        public override ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            inner.Annotations = Annotations;
            return store._stage == Stage.Commit ? ValueTask.FromException(store._exception) : inner.CommitAsync(cancellationToken);
        }

        public override ValueTask<Stream> OpenWrittenContentAsync(CancellationToken cancellationToken) => inner.OpenWrittenContentAsync(cancellationToken);

        public override ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Lets the Received header through (the first write), fails the message content.</summary>
    private sealed class FailingStream(Stream inner, FailingMessageStore store) : Stream
    {
        private int _writes;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => throw new NotSupportedException();
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            store._stage == Stage.Write && _writes++ > 0 ? ValueTask.FromException(store._exception) : inner.WriteAsync(buffer, cancellationToken);
    }
}

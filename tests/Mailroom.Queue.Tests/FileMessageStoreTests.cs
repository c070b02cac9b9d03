using System.Text;
using Microsoft.Extensions.Logging;

namespace Mailroom.Queue.Tests;

public sealed class FileMessageStoreTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempSpool _spool = new();

    public void Dispose() => _spool.Dispose();

    [Fact]
    public async Task ARestartAtTheSameClockTimeDoesNotReuseTheIdOfAQueuedMessage()
    {
        // Two stores (one process, then the next) whose clocks stand at the same instant: the
        // second's first ID would be the first's.
        var instant = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
        var before = new FileMessageStore(_spool.Root, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(instant), _spool.Logger, SegmentOptions.Off);
        await before.InitializeAsync(None);
        QueueId first = await CommitAsync(before, MinimalEnvelope(), "first\r\n"u8.ToArray());

        var after = new FileMessageStore(_spool.Root, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(instant), _spool.Logger, SegmentOptions.Off);
        await after.InitializeAsync(None);
        QueueId second = await CommitAsync(after, MinimalEnvelope(), "second\r\n"u8.ToArray());

        Assert.NotEqual(first, second);
        Assert.Equal("first\r\n"u8.ToArray(), await ReadContentAsync(after, first));
        Assert.Equal("second\r\n"u8.ToArray(), await ReadContentAsync(after, second));
    }

    [Fact]
    public async Task CommittedMessageReadsBackExactly()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        Envelope envelope = FullEnvelope();
        byte[] content = [.. "Received: from x\r\n\r\nbare\rCR and bare\nLF\r\n"u8, 0, 1, 0xFF, 0xFE, 0x80, (byte)'\r', 0x1B, (byte)'\n', .. "caf\u00e9 \u2709"u8];

        QueueId id = await CommitAsync(store, envelope, content);

        QueuedMessage? read = await store.ReadAsync(id, None);
        Assert.NotNull(read);
        Assert.Equal(id, read.Id);
        Assert.Equivalent(envelope, read.Envelope, strict: true);
        Assert.Equal([RecipientStatus.Pending, RecipientStatus.Pending], read.States);
        Assert.Equal(content.Length, read.ContentLength);
        Assert.Equal(content, await ReadContentAsync(store, id));
    }

    [Fact]
    public async Task ContentStreamCountsContentBytesOnly()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "0123456789"u8.ToArray());

        using Stream content = store.OpenContent(id);
        Assert.True(content.CanRead);
        Assert.False(content.CanWrite);
        Assert.Equal(10, content.Length);
        Assert.Equal(0, content.Position);
        content.Seek(-3, SeekOrigin.End);
        Assert.Equal((byte)'7', content.ReadByte());
        content.Position = 2;
        Assert.Equal((byte)'2', content.ReadByte());
    }

    [Fact]
    public async Task LargeContentWrittenInPiecesReadsBackExactly()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        byte[] content = new byte[(3 * 1024 * 1024) + 17];
        new Random(42).NextBytes(content);

        await using IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None);
        for (int offset = 0; offset < content.Length; offset += 7_777)
        {
            await message.Content.WriteAsync(content.AsMemory(offset, Math.Min(7_777, content.Length - offset)), None);
        }

        await message.CommitAsync(None);

        Assert.Equal(content.Length, (await store.ReadAsync(message.Id, None))!.ContentLength);
        Assert.Equal(content, await ReadContentAsync(store, message.Id));
    }

    [Fact]
    public async Task UncommittedMessageLeavesNothingWhenDisposed()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId id;
        await using (IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None))
        {
            id = message.Id;
            await message.Content.WriteAsync("half a message"u8.ToArray(), None);
            Assert.Single(Directory.GetFiles(_spool.Incoming));
        }

        Assert.Empty(Directory.GetFiles(_spool.Incoming));
        Assert.Empty(Directory.GetFiles(_spool.Active));
        Assert.Null(await store.ReadAsync(id, None));
        Assert.Empty(await RecoverAllAsync(store));
    }

    [Fact]
    public async Task LeftoverIncomingFilesAreDeletedAtStart()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        IncomingMessage abandoned = await store.CreateAsync(MinimalEnvelope(), None);
        await abandoned.Content.WriteAsync("never committed"u8.ToArray(), None);
        await abandoned.Content.FlushAsync(None);
        File.WriteAllText(Path.Combine(_spool.Incoming, "STRAY"), "x");
        Assert.Equal(2, Directory.GetFiles(_spool.Incoming).Length);

        FileMessageStore restarted = await _spool.OpenStoreAsync();

        Assert.Empty(Directory.GetFiles(_spool.Incoming));
        Assert.Empty(await RecoverAllAsync(restarted));
        Assert.Contains(_spool.Logger.Lines, l => l.Message.Contains(abandoned.Id.Value, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RecordedStatesSurviveARestartAndTheLastRecordWins()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        Envelope envelope = MinimalEnvelope() with
        {
            Recipients = [Recipient("a@example.com"), Recipient("b@example.com"), Recipient("c@example.com")],
        };
        QueueId id = await CommitAsync(store, envelope, "x"u8.ToArray());

        await store.RecordAsync(id, [new RecipientUpdate(0, RecipientStatus.Failed, "452 4.2.2 full\r\nsecond line")], None);
        await store.RecordAsync(id, [new RecipientUpdate(2, RecipientStatus.Failed, "550 5.1.1 unknown"), new RecipientUpdate(0, RecipientStatus.Delivered)], None);

        FileMessageStore restarted = await _spool.OpenStoreAsync();
        QueuedMessage recovered = Assert.Single(await RecoverAllAsync(restarted));
        Assert.Equal(id, recovered.Id);
        Assert.Equal([RecipientStatus.Delivered, RecipientStatus.Pending, RecipientStatus.Failed], recovered.States);
        Assert.Equal(recovered.States, (await restarted.ReadAsync(id, None))!.States);
    }

    [Fact]
    public async Task TornOrMalformedStateLinesAreIgnoredAndTheNextRecordStillCounts()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        Envelope envelope = MinimalEnvelope() with { Recipients = [Recipient("a@example.com"), Recipient("b@example.com")] };
        QueueId id = await CommitAsync(store, envelope, "x"u8.ToArray());
        await store.RecordAsync(id, [new RecipientUpdate(0, RecipientStatus.Delivered)], None);

        string statePath = Path.Combine(_spool.Active, id.Value + ".state");
        await File.AppendAllTextAsync(statePath, "\0\0\0garbage\n{\"index\":7,\"status\":\"Failed\"}\n{\"index\":1,\"status\":\"Deliv");

        FileMessageStore restarted = await _spool.OpenStoreAsync();
        Assert.Equal([RecipientStatus.Delivered, RecipientStatus.Pending], Assert.Single(await RecoverAllAsync(restarted)).States);

        await restarted.RecordAsync(id, [new RecipientUpdate(1, RecipientStatus.Failed, "550 no")], None);
        Assert.Equal([RecipientStatus.Delivered, RecipientStatus.Failed], (await restarted.ReadAsync(id, None))!.States);
        Assert.EndsWith("\n", await File.ReadAllTextAsync(statePath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RemoveDeletesMessageAndState()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());
        await store.RecordAsync(id, [new RecipientUpdate(0, RecipientStatus.Delivered)], None);
        Assert.Equal(2, Directory.GetFiles(_spool.Active).Length);

        await store.RemoveAsync(id, None);

        Assert.Empty(Directory.GetFiles(_spool.Active));
        Assert.Null(await store.ReadAsync(id, None));
        Assert.Throws<FileNotFoundException>(() => store.OpenContent(id));
        await Assert.ThrowsAsync<FileNotFoundException>(async () => await store.RecordAsync(id, [new RecipientUpdate(0, RecipientStatus.Delivered)], None));
        await store.RemoveAsync(id, None); // removing twice is harmless
    }

    [Fact]
    public async Task TheScheduleSurvivesARestartAndLeavesWithTheMessage()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());
        Assert.Null((await store.ReadAsync(id, None))!.Schedule);
        var schedule = new DeliverySchedule(3, new DateTimeOffset(2026, 12, 1, 8, 30, 0, TimeSpan.Zero), DelayNotified: true);

        await store.ScheduleAsync(id, schedule with { Attempts = 2 }, None);
        await store.ScheduleAsync(id, schedule, None);

        FileMessageStore restarted = await _spool.OpenStoreAsync();
        Assert.Equal(schedule, Assert.Single(await RecoverAllAsync(restarted)).Schedule);
        Assert.Empty(Directory.GetFiles(Path.Combine(_spool.Root, "incoming")));
        await restarted.RemoveAsync(id, None);
        Assert.Empty(Directory.GetFiles(_spool.Active));
        await Assert.ThrowsAsync<FileNotFoundException>(async () => await restarted.ScheduleAsync(id, schedule, None));
    }

    [Fact]
    public async Task ADamagedScheduleMeansTheMessageIsDueAndOrphanSchedulesAreDeleted()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());
        File.WriteAllText(Path.Combine(_spool.Active, id.Value + ".schedule"), "{\"attempts\":");
        string orphan = Path.Combine(_spool.Active, "0000000000000ORPHAN.schedule");
        File.WriteAllText(orphan, "{}");

        QueuedMessage recovered = Assert.Single(await RecoverAllAsync(await _spool.OpenStoreAsync()));

        Assert.Null(recovered.Schedule);
        Assert.False(File.Exists(orphan));
    }

    [Fact]
    public async Task AnnotationsAreCommittedWithTheMessageAndTheContentReadsBackBeforeTheCommit()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        await using (IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None))
        {
            await message.Content.WriteAsync("Subject: x\r\n\r\nbody\r\n"u8.ToArray());
            await using (Stream written = await message.OpenWrittenContentAsync(None))
            {
                using var reader = new StreamReader(written);
                Assert.Equal("Subject: x\r\n\r\nbody\r\n", await reader.ReadToEndAsync());
            }

            message.Annotations = new MessageAnnotations(["Authentication-Results: mx; spf=pass\r\n"], "DMARC quarantine");
            await message.CommitAsync(None);
        }

        QueuedMessage recovered = Assert.Single(await RecoverAllAsync(await _spool.OpenStoreAsync()));
        Assert.Equal(["Authentication-Results: mx; spf=pass\r\n"], recovered.Annotations.AddedHeaders);
        Assert.Equal("DMARC quarantine", recovered.Annotations.QuarantineReason);
        Assert.Empty(Directory.GetFiles(_spool.Incoming));

        await store.RemoveAsync(recovered.Id, None);
        Assert.Empty(Directory.GetFiles(_spool.Active));
    }

    [Fact]
    public async Task AMessageWithoutAnnotationsHasNone()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());

        Assert.Same(MessageAnnotations.None, (await store.ReadAsync(id, None))!.Annotations);
        Assert.Single(Directory.GetFiles(_spool.Active));
    }

    [Fact]
    public async Task OrphanStateFilesAreDeletedByRecovery()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId kept = await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());
        await store.RecordAsync(kept, [new RecipientUpdate(0, RecipientStatus.Failed)], None);
        string orphan = Path.Combine(_spool.Active, "0000000000000ORPHAN.state");
        File.WriteAllText(orphan, "{\"index\":0,\"status\":\"Delivered\"}\n");

        QueuedMessage recovered = Assert.Single(await RecoverAllAsync(await _spool.OpenStoreAsync()));

        Assert.Equal(kept, recovered.Id);
        Assert.Equal([RecipientStatus.Failed], recovered.States);
        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(Path.Combine(_spool.Active, kept.Value + ".state")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("From: not a queue file\r\n")]
    [InlineData("MAILROOM-QUEUE 2 0000000002\n{}\n")]
    [InlineData("MAILROOM-QUEUE 1 00000000xx\n{}\n")]
    [InlineData("MAILROOM-QUEUE 1 0000000099\n{}\n")]
    [InlineData("MAILROOM-QUEUE 1 0000000002\n{}\n")]
    [InlineData("MAILROOM-QUEUE 1 0000000005\n{\"re\"X")]
    [InlineData("MAILROOM-QUEUE 1 0000000004\nnull\n")]
    public async Task CorruptMessageFilesAreMovedAsideWithTheirState(string text)
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId good = await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());
        const string Bad = "0000000000000BAD";
        File.WriteAllText(Path.Combine(_spool.Active, Bad), text);
        File.WriteAllText(Path.Combine(_spool.Active, Bad + ".state"), "{\"index\":0,\"status\":\"Delivered\"}\n");

        List<QueuedMessage> recovered = await RecoverAllAsync(await _spool.OpenStoreAsync());

        Assert.Equal(good, Assert.Single(recovered).Id);
        Assert.Equal(text, File.ReadAllText(Path.Combine(_spool.Corrupt, Bad)));
        Assert.True(File.Exists(Path.Combine(_spool.Corrupt, Bad + ".state")));
        Assert.Equal(new[] { good.Value }, Directory.GetFiles(_spool.Active).Select(Path.GetFileName));
        Assert.Contains(_spool.Logger.Lines, l => l.Level == LogLevel.Error && l.Message.StartsWith(Bad + ":", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RecoveryReturnsMessagesInIdOrderAndSkipsForeignFiles()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        var ids = new List<QueueId>();
        for (int i = 0; i < 5; i++)
        {
            ids.Add(await CommitAsync(store, MinimalEnvelope(), [(byte)i]));
            _spool.Time.Advance(TimeSpan.FromMilliseconds(1));
        }

        File.WriteAllText(Path.Combine(_spool.Active, "notes.txt"), "x");

        Assert.Equal(ids, (await RecoverAllAsync(await _spool.OpenStoreAsync())).Select(m => m.Id));
        Assert.True(File.Exists(Path.Combine(_spool.Active, "notes.txt")));
    }

    [Fact]
    public async Task ConcurrentCommitsAreAllRecovered()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId[] ids = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            Envelope envelope = MinimalEnvelope() with { ReversePath = $"sender{i}@example.com" };
            return await CommitAsync(store, envelope, Encoding.ASCII.GetBytes($"message {i}\r\n"));
        })));

        Assert.Equal(50, ids.Distinct().Count());
        List<QueuedMessage> recovered = await RecoverAllAsync(await _spool.OpenStoreAsync());
        Assert.Equal(ids.Order(new IdComparer()), recovered.Select(m => m.Id));
        foreach (QueuedMessage message in recovered)
        {
            string index = message.Envelope.ReversePath["sender".Length..message.Envelope.ReversePath.IndexOf('@', StringComparison.Ordinal)];
            Assert.Equal($"message {index}\r\n", Encoding.ASCII.GetString(await ReadContentAsync(store, message.Id)));
        }
    }

    [Fact]
    public async Task ACommitThatFailsOnTheDiskThrowsIOExceptionAndLeavesNothing()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        await using IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None);
        await message.Content.WriteAsync("x"u8.ToArray(), None);
        Directory.Delete(_spool.Active); // the rename target is gone: the commit cannot finish

        await Assert.ThrowsAnyAsync<IOException>(async () => await message.CommitAsync(None));
        await message.DisposeAsync();

        Assert.Empty(Directory.GetFiles(_spool.Incoming));
        Assert.False(Directory.Exists(_spool.Active));
    }

    [Fact]
    public async Task ACancelledCommitLeavesNothingInTheQueue()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await using (IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None))
        {
            await message.Content.WriteAsync("x"u8.ToArray(), None);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await message.CommitAsync(cancelled.Token));
        }

        Assert.Empty(Directory.GetFiles(_spool.Active));
        Assert.Empty(Directory.GetFiles(_spool.Incoming));
    }

    [Fact]
    public async Task SpoolFilesAndFoldersArePrivate()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        FileMessageStore store = await _spool.OpenStoreAsync();
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());
        await store.RecordAsync(id, [new RecipientUpdate(0, RecipientStatus.Delivered)], None);

        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(_spool.Active, id.Value)));
        Assert.Equal(Private, File.GetUnixFileMode(Path.Combine(_spool.Active, id.Value + ".state")));
        foreach (string folder in new[] { _spool.Root, _spool.Incoming, _spool.Active, _spool.Corrupt })
        {
            Assert.Equal(Private | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        }
    }

    [Fact]
    public async Task MalformedIdsNeverReachTheFileSystem()
    {
        FileMessageStore store = await _spool.OpenStoreAsync();
        var traversal = new QueueId("../../etc/passwd");

        Assert.Throws<ArgumentException>(() => store.OpenContent(traversal));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.ReadAsync(traversal, None));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.RemoveAsync(default, None));
    }

    [Fact]
    public async Task TheStoreMustBeInitializedFirst()
    {
        var store = new FileMessageStore(_spool.Root, _spool.Time, _spool.Logger);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.CreateAsync(MinimalEnvelope(), None));
    }

    internal static async Task<QueueId> CommitAsync(FileMessageStore store, Envelope envelope, byte[] content)
    {
        await using IncomingMessage message = await store.CreateAsync(envelope, None);
        await message.Content.WriteAsync(content, None);
        await message.CommitAsync(None);
        return message.Id;
    }

    internal static async Task<byte[]> ReadContentAsync(FileMessageStore store, QueueId id)
    {
        await using Stream content = store.OpenContent(id);
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy);
        return copy.ToArray();
    }

    internal static async Task<List<QueuedMessage>> RecoverAllAsync(FileMessageStore store)
    {
        var messages = new List<QueuedMessage>();
        await foreach (QueuedMessage message in store.RecoverAsync(None))
        {
            messages.Add(message);
        }

        return messages;
    }

    internal static EnvelopeRecipient Recipient(string address) => new() { Address = address };

    internal static Envelope MinimalEnvelope() => new()
    {
        ReversePath = "sender@example.com",
        Recipients = [Recipient("rcpt@example.org")],
        ArrivalTime = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero),
    };

    internal static Envelope FullEnvelope() => new()
    {
        ReversePath = "",
        Recipients =
        [
            new EnvelopeRecipient
            {
                Address = "j\u00f6rg@b\u00fccher.example",
                LocalMailbox = "b\u00fccher.example/joerg",
                OriginalRecipient = "utf-8;j\u00f6rg@b\u00fccher.example",
                Notify = DsnNotify.Success | DsnNotify.Failure,
            },
            new EnvelopeRecipient { Address = "\"odd \\\" name\"@example.org", Notify = DsnNotify.Never },
        ],
        ArrivalTime = new DateTimeOffset(2025, 6, 1, 12, 34, 56, 789, TimeSpan.FromHours(2)),
        Body = BodyType.EightBitMime,
        SmtpUtf8 = true,
        EnvelopeId = "QQ314159\nwith a line feed",
        Return = DsnReturn.Headers,
        ClientAddress = "2001:db8::1",
        HeloName = "client.example",
        AuthenticatedUser = "alice",
    };

    private sealed class IdComparer : IComparer<QueueId>
    {
        public int Compare(QueueId x, QueueId y) => string.CompareOrdinal(x.Value, y.Value);
    }
}

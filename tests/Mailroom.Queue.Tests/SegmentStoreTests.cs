using System.Text;
using Microsoft.Extensions.Logging;
using static Mailroom.Queue.Tests.FileMessageStoreTests;

namespace Mailroom.Queue.Tests;

/// <summary>The store with small messages in segments (README.md, "Segments"): what a restart finds, torn appends, moves to files, deletion.</summary>
public sealed class SegmentStoreTests : IDisposable
{
    private const int Limit = 8 * 1024;
    // Not written ahead (SegmentOptions.Preallocate): the format tests see segment files end where their records do.
    private static readonly SegmentOptions Segments = new() { MessageLimit = Limit, Preallocate = false };
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly TempSpool _spool = new();

    public void Dispose() => _spool.Dispose();

    [Fact]
    public async Task ASmallMessageIsCommittedToASegmentAndReadsBackExactly()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        Envelope envelope = FullEnvelope();
        byte[] content = [.. "Received: from x\r\n\r\nbare\rCR\r\n"u8, 0, 1, 0xFF, 0x80, .. "caf\u00e9"u8];

        QueueId id = await CommitAsync(store, envelope, content);

        QueuedMessage read = (await store.ReadAsync(id, None))!;
        Assert.Equivalent(envelope, read.Envelope, strict: true);
        Assert.Equal([RecipientStatus.Pending, RecipientStatus.Pending], read.States);
        Assert.Equal(content.Length, read.ContentLength);
        Assert.Equal(content, await ReadContentAsync(store, id));
        Assert.Empty(Directory.GetFiles(_spool.Active));
        Assert.Empty(Directory.GetFiles(_spool.Incoming));
        Assert.Single(Directory.GetFiles(_spool.Segments, "*.seg"));

        using Stream view = store.OpenContent(id);
        Assert.Equal(content.Length, view.Length);
        view.Seek(-1, SeekOrigin.End);
        Assert.Equal((byte)0xA9, view.ReadByte());
        Assert.Equal(-1, view.ReadByte()); // the view ends with the message, not with the segment
    }

    [Fact]
    public async Task MessagesAndAnnotationsSurviveARestartAndRemovedOnesStayRemoved()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        QueueId first = await CommitAsync(store, MinimalEnvelope(), "first\r\n"u8.ToArray());
        QueueId second;
        await using (IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None))
        {
            await message.Content.WriteAsync("Subject: x\r\n\r\nbody\r\n"u8.ToArray());
            await using (Stream written = await message.OpenWrittenContentAsync(None))
            {
                Assert.Equal("Subject: x\r\n\r\nbody\r\n", await new StreamReader(written).ReadToEndAsync());
            }

            message.Annotations = new MessageAnnotations(["Authentication-Results: mx; spf=pass\r\n"], "DMARC quarantine");
            await message.CommitAsync(None);
            second = message.Id;
        }

        QueueId third = await CommitAsync(store, MinimalEnvelope(), "third\r\n"u8.ToArray());
        await store.RemoveAsync(first, None);
        Assert.Null(await store.ReadAsync(first, None));
        Assert.Throws<FileNotFoundException>(() => store.OpenContent(first));

        FileMessageStore restarted = await _spool.OpenStoreAsync(Segments);
        List<QueuedMessage> recovered = await RecoverAllAsync(restarted);
        Assert.Equal([second, third], recovered.Select(message => message.Id));
        Assert.Equal(["Authentication-Results: mx; spf=pass\r\n"], recovered[0].Annotations.AddedHeaders);
        Assert.Equal("DMARC quarantine", recovered[0].Annotations.QuarantineReason);
        Assert.Equal(MessageAnnotations.None, recovered[1].Annotations);
        Assert.Equal("Subject: x\r\n\r\nbody\r\n"u8.ToArray(), await ReadContentAsync(restarted, second));
        Assert.Equal("third\r\n"u8.ToArray(), await ReadContentAsync(restarted, third));
    }

    [Theory]
    [InlineData(1)] // the last byte of the payload is missing
    [InlineData(30)] // cut inside the record's payload
    [InlineData(-7)] // seven bytes of garbage after the last record
    public async Task ATornAppendEndsTheSegmentAndEverythingBeforeItIsRecovered(int cut)
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        QueueId kept = await CommitAsync(store, MinimalEnvelope(), "kept\r\n"u8.ToArray());
        QueueId torn = await CommitAsync(store, MinimalEnvelope(), "torn, or followed by garbage\r\n"u8.ToArray());
        string segment = Assert.Single(Directory.GetFiles(_spool.Segments));
        using (var file = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            if (cut > 0)
            {
                file.SetLength(file.Length - cut);
            }
            else
            {
                file.Seek(0, SeekOrigin.End);
                file.Write(new byte[] { 0x4D, 0x52, 0x53, 0x31, 0xFF, 0x00, 0x01 });
            }
        }

        FileMessageStore restarted = await _spool.OpenStoreAsync(Segments);
        List<QueuedMessage> recovered = await RecoverAllAsync(restarted);
        Assert.Equal(cut > 0 ? [kept] : [kept, torn], recovered.Select(message => message.Id));
        Assert.Contains(_spool.Logger.Lines, line => line.Message.Contains("cut short", StringComparison.Ordinal));

        // The torn segment is never appended to again: a new commit goes to a new segment, and both survive the next restart.
        QueueId later = await CommitAsync(store: restarted, MinimalEnvelope(), "later\r\n"u8.ToArray());
        Assert.Equal(2, Directory.GetFiles(_spool.Segments).Length);
        List<QueuedMessage> again = await RecoverAllAsync(await _spool.OpenStoreAsync(Segments));
        Assert.Equal(recovered.Select(message => message.Id).Append(later), again.Select(message => message.Id));
    }

    [Fact]
    public async Task AWholeRecordThatDoesNotParseIsCopiedAsideAndTheRestRecovered()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        QueueId good = await CommitAsync(store, MinimalEnvelope(), "good\r\n"u8.ToArray());
        byte[] notAQueueFile = "this is no queue file header\r\n"u8.ToArray();
        byte[] start = SegmentRecord.FormatMessageStart(new QueueId("0000000000000BAD"), [], notAQueueFile, []);
        string segment = Assert.Single(Directory.GetFiles(_spool.Segments));
        await File.AppendAllBytesAsync(segment, [.. start, .. notAQueueFile]);
        await File.AppendAllBytesAsync(segment, SegmentRecord.FormatRemoval(new QueueId("0000000000000NONE")));

        FileMessageStore restarted = await _spool.OpenStoreAsync(Segments);
        Assert.Equal([good], (await RecoverAllAsync(restarted)).Select(message => message.Id));
        string aside = Assert.Single(Directory.GetFiles(_spool.Corrupt));
        Assert.EndsWith(".record", aside, StringComparison.Ordinal);
        Assert.Contains(_spool.Logger.Lines, line => line.Level == LogLevel.Error && line.Message.Contains("does not parse", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RecordingAStateMovesTheMessageToAFileOfItsOwn()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        Envelope envelope = MinimalEnvelope() with { Recipients = [Recipient("a@example.com"), Recipient("b@example.com")] };
        QueueId id;
        await using (IncomingMessage message = await store.CreateAsync(envelope, None))
        {
            await message.Content.WriteAsync("Subject: moved\r\n\r\nbody\r\n"u8.ToArray());
            message.Annotations = new MessageAnnotations(["X-Added: 1\r\n"]);
            await message.CommitAsync(None);
            id = message.Id;
        }

        await store.RecordAsync(id, [new RecipientUpdate(1, RecipientStatus.Failed, "550 5.1.1 unknown")], None);

        Assert.True(File.Exists(Path.Combine(_spool.Active, id.Value)));
        Assert.True(File.Exists(Path.Combine(_spool.Active, id.Value + ".state")));
        QueuedMessage read = (await store.ReadAsync(id, None))!;
        Assert.Equal([RecipientStatus.Pending, RecipientStatus.Failed], read.States);
        Assert.Equal(["X-Added: 1\r\n"], read.Annotations.AddedHeaders);
        Assert.Equal("Subject: moved\r\n\r\nbody\r\n"u8.ToArray(), await ReadContentAsync(store, id));

        // Recovered once, from its file, with its state.
        FileMessageStore restarted = await _spool.OpenStoreAsync(Segments);
        QueuedMessage recovered = Assert.Single(await RecoverAllAsync(restarted));
        Assert.Equal([RecipientStatus.Pending, RecipientStatus.Failed], recovered.States);
        Assert.Equal(["X-Added: 1\r\n"], recovered.Annotations.AddedHeaders);

        await restarted.RemoveAsync(id, None);
        Assert.Empty(await RecoverAllAsync(await _spool.OpenStoreAsync(Segments)));
        Assert.Empty(Directory.GetFiles(_spool.Active));
    }

    [Fact]
    public async Task AScheduleMovesTheMessageToAFileAndSurvivesARestart()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "x\r\n"u8.ToArray());
        var schedule = new DeliverySchedule(1, new DateTimeOffset(2025, 6, 1, 13, 0, 0, TimeSpan.Zero), DelayNotified: false);

        await store.ScheduleAsync(id, schedule, None);

        Assert.True(File.Exists(Path.Combine(_spool.Active, id.Value + ".schedule")));
        QueuedMessage recovered = Assert.Single(await RecoverAllAsync(await _spool.OpenStoreAsync(Segments)));
        Assert.Equal(schedule, recovered.Schedule);
        Assert.Equal("x\r\n"u8.ToArray(), await ReadContentAsync(store, id));
    }

    [Fact]
    public async Task AMessageFoundInASegmentAndInActiveIsRecoveredOnceFromItsFile()
    {
        // A crash after the move to active/ and before the removal record: both hold the message.
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        QueueId id = await CommitAsync(store, MinimalEnvelope(), "segment copy\r\n"u8.ToArray());
        await File.WriteAllBytesAsync(Path.Combine(_spool.Active, id.Value), [.. QueueFile.FormatHeader(MinimalEnvelope()), .. "file copy\r\n"u8]);

        FileMessageStore restarted = await _spool.OpenStoreAsync(Segments);
        Assert.Single(await RecoverAllAsync(restarted));
        Assert.Equal("file copy\r\n"u8.ToArray(), await ReadContentAsync(restarted, id));

        // The removal record written at that recovery keeps the segment copy away for good.
        File.Delete(Path.Combine(_spool.Active, id.Value));
        Assert.Empty(await RecoverAllAsync(await _spool.OpenStoreAsync(Segments)));
    }

    [Fact]
    public async Task AMessageGrowingPastTheLimitMovesToAFileDuringReception()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        byte[] content = new byte[(3 * Limit) + 5];
        new Random(7).NextBytes(content);
        QueueId id;
        await using (IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None))
        {
            for (int offset = 0; offset < content.Length; offset += 1000)
            {
                message.Content.Write(content, offset, Math.Min(1000, content.Length - offset));
            }

            Assert.Single(Directory.GetFiles(_spool.Incoming));
            await using (Stream written = await message.OpenWrittenContentAsync(None))
            {
                using var copy = new MemoryStream();
                await written.CopyToAsync(copy);
                Assert.Equal(content, copy.ToArray());
            }

            await message.CommitAsync(None);
            id = message.Id;
        }

        Assert.True(File.Exists(Path.Combine(_spool.Active, id.Value)));
        Assert.Equal(content, await ReadContentAsync(store, id));
        Assert.Empty(Directory.GetFiles(_spool.Segments));
    }

    [Fact]
    public async Task AnUncommittedMessageLeavesNothing()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        await using (IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None))
        {
            await message.Content.WriteAsync("never committed\r\n"u8.ToArray());
        }

        await using (IncomingMessage message = await store.CreateAsync(MinimalEnvelope(), None))
        {
            await message.Content.WriteAsync("cancelled\r\n"u8.ToArray());
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await message.CommitAsync(new CancellationToken(canceled: true)));
        }

        Assert.Empty(await RecoverAllAsync(await _spool.OpenStoreAsync(Segments)));
    }

    [Fact]
    public async Task ASegmentIsDeletedOnlyWhenItAndEveryOlderSegmentHoldNoQueuedMessage()
    {
        // Segments of 100 bytes: every message record starts a new one, so A, B and C land in segments
        // 1, 2 and 3; two removal records fit in one.
        FileMessageStore store = await _spool.OpenStoreAsync(Segments with { SegmentSize = 100 });
        QueueId a = await CommitAsync(store, MinimalEnvelope(), "A\r\n"u8.ToArray());
        QueueId b = await CommitAsync(store, MinimalEnvelope(), "B\r\n"u8.ToArray());
        QueueId c = await CommitAsync(store, MinimalEnvelope(), "C\r\n"u8.ToArray());
        Assert.Equal([1, 2, 3], SegmentNumbers());

        // B's removal goes to segment 4. Segment 2 holds nothing queued now, but segment 1 (older) still
        // holds A: deleting segment 2 first could outlive removals of A written later.
        await store.RemoveAsync(b, None);
        Assert.Equal([1, 2, 3, 4], SegmentNumbers());

        await store.RemoveAsync(a, None);
        Assert.Equal([3, 4], SegmentNumbers());

        FileMessageStore restarted = await _spool.OpenStoreAsync(Segments);
        Assert.Equal([c], (await RecoverAllAsync(restarted)).Select(message => message.Id));
        await restarted.RemoveAsync(c, None);
        Assert.Equal([5], SegmentNumbers()); // the new segment holds C's removal; 3 and 4 are gone
        Assert.Empty(await RecoverAllAsync(await _spool.OpenStoreAsync(Segments)));
    }

    [Fact]
    public async Task ContentOpenedBeforeItsSegmentIsDeletedStaysReadable()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments with { SegmentSize = 64 });
        QueueId a = await CommitAsync(store, MinimalEnvelope(), "A\r\n"u8.ToArray());
        QueueId b = await CommitAsync(store, MinimalEnvelope(), "B\r\n"u8.ToArray());
        using Stream open = store.OpenContent(a);

        await store.RemoveAsync(a, None);
        Assert.Equal([2, 3], SegmentNumbers()); // A's segment is deleted, its read handle closed

        using var copy = new MemoryStream();
        await open.CopyToAsync(copy);
        Assert.Equal("A\r\n"u8.ToArray(), copy.ToArray());
        Assert.Throws<FileNotFoundException>(() => store.OpenContent(a));
        Assert.Equal("B\r\n"u8.ToArray(), await ReadContentAsync(store, b));
    }

    [Fact]
    public async Task SegmentsWrittenAheadHoldTheirRecordsAndTheirZerosEndThemQuietly()
    {
        SegmentOptions ahead = Segments with { Preallocate = true, SegmentSize = 4096 };
        string spare = Path.Combine(_spool.Segments, "spare.tmp");
        FileMessageStore store = await _spool.OpenStoreAsync(ahead);
        await store.SpareSegmentReady.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(4096, new FileInfo(spare).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(spare));

        // The first commit takes the spare as segment 1; the next spare is written meanwhile.
        byte[] half = Encoding.ASCII.GetBytes(new string('a', 2500) + "\r\n");
        QueueId a = await CommitAsync(store, MinimalEnvelope(), half);
        Assert.Equal([1], SegmentNumbers());
        Assert.Equal(4096, new FileInfo(Path.Combine(_spool.Segments, "000000000001.seg")).Length);
        await store.SpareSegmentReady.WaitAsync(TimeSpan.FromSeconds(30));

        // A record that does not fit in what is left of segment 1 goes to segment 2, the next spare.
        QueueId b = await CommitAsync(store, MinimalEnvelope(), half);
        Assert.Equal([1, 2], SegmentNumbers());
        Assert.Equal(4096, new FileInfo(Path.Combine(_spool.Segments, "000000000002.seg")).Length);
        await store.SpareSegmentReady.WaitAsync(TimeSpan.FromSeconds(30));

        int linesBefore = _spool.Logger.Lines.Count;
        FileMessageStore restarted = await _spool.OpenStoreAsync(ahead);
        Assert.Equal([a, b], (await RecoverAllAsync(restarted)).Select(message => message.Id));
        Assert.Equal(half, await ReadContentAsync(restarted, b));
        Assert.DoesNotContain(_spool.Logger.Lines.Skip(linesBefore), line => line.Message.Contains("cut short", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MessagesBeyondTheMemoryBudgetAreReceivedIntoFiles()
    {
        // Room for one 8 KiB buffer: the second message being received at the same time gets a file.
        FileMessageStore store = await _spool.OpenStoreAsync(Segments with { MemoryBudget = 12 * 1024 });
        byte[] content = new byte[6000];
        new Random(3).NextBytes(content);
        await using IncomingMessage first = await store.CreateAsync(MinimalEnvelope(), None);
        await using IncomingMessage second = await store.CreateAsync(MinimalEnvelope(), None);
        await first.Content.WriteAsync(content);
        Assert.Empty(Directory.GetFiles(_spool.Incoming));
        await second.Content.WriteAsync(content);
        Assert.Equal([second.Id.Value], Directory.GetFiles(_spool.Incoming).Select(Path.GetFileName));

        await first.CommitAsync(None);
        await second.CommitAsync(None);
        Assert.Equal([second.Id.Value], Directory.GetFiles(_spool.Active).Select(Path.GetFileName));
        Assert.Equal(content, await ReadContentAsync(store, first.Id));
        Assert.Equal(content, await ReadContentAsync(store, second.Id));

        // The first message's buffer went back with its commit: the next one fits in memory again.
        QueueId third = await CommitAsync(store, MinimalEnvelope(), content);
        Assert.False(File.Exists(Path.Combine(_spool.Active, third.Value)));
    }

    [Fact]
    public async Task ConcurrentCommitsAreAllRecoveredWithTheirContent()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments with { SegmentSize = 16 * 1024 });
        QueueId[] ids = await Task.WhenAll(Enumerable.Range(0, 200).Select(number =>
            Task.Run(() => CommitAsync(store, MinimalEnvelope(), Encoding.ASCII.GetBytes($"message {number}\r\n")))));

        FileMessageStore restarted = await _spool.OpenStoreAsync(Segments);
        List<QueuedMessage> recovered = await RecoverAllAsync(restarted);
        Assert.Equal(ids.OrderBy(id => id.Value, StringComparer.Ordinal), recovered.Select(message => message.Id));
        for (int number = 0; number < ids.Length; number++)
        {
            Assert.Equal(Encoding.ASCII.GetBytes($"message {number}\r\n"), await ReadContentAsync(restarted, ids[number]));
        }

        Assert.True(Directory.GetFiles(_spool.Segments).Length > 1);
    }

    [Fact]
    public async Task SegmentFilesArePrivate()
    {
        FileMessageStore store = await _spool.OpenStoreAsync(Segments);
        await CommitAsync(store, MinimalEnvelope(), "x"u8.ToArray());

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Assert.Single(Directory.GetFiles(_spool.Segments))));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_spool.Segments));
    }

    private int[] SegmentNumbers() =>
        [.. Directory.GetFiles(_spool.Segments, "*.seg").Select(path => int.Parse(Path.GetFileNameWithoutExtension(path), System.Globalization.CultureInfo.InvariantCulture)).Order()];
}

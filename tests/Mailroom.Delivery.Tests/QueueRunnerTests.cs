using Mailroom.Delivery.Local;
using Mailroom.Delivery.Scheduling;
using Mailroom.Delivery.Tests.Fakes;
using Mailroom.Queue;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mailroom.Delivery.Tests;

public sealed class QueueRunnerTests : IAsyncLifetime
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset s_arrival = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly byte[] s_content = "Received: from client.example.org by mx.example.com\r\nSubject: hi\r\n\r\nbody\r\n"u8.ToArray();

    private readonly TempDirectory _root = new();
    private readonly InMemoryMessageStore _store = new();
    private readonly ScriptedRemoteDelivery _remote = new();
    private readonly ObservedTimeProvider _time = new(s_arrival.AddSeconds(5));
    private readonly LogCapture _log = new();
    private readonly ILoggerFactory _loggerFactory;
    private QueueRunner? _runner;

    public QueueRunnerTests()
    {
        _loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(_log).SetMinimumLevel(LogLevel.Debug));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_runner is not null)
        {
            await _runner.StopAsync(CancellationToken.None).WaitAsync(s_timeout);
            _runner.Dispose();
        }

        _loggerFactory.Dispose();
        _root.Dispose();
    }

    [Fact]
    public async Task Delivers_each_local_recipient_to_its_own_Maildir_and_keeps_the_message_for_its_remote_recipient()
    {
        await StartAsync();
        QueueId id = _store.Add(EnvelopeFor(Local("alice"), Local("bob"), Remote("carol@example.org")), s_content);

        _runner!.Enqueue(id);

        (QueueId recordedId, RecipientUpdate[] updates) = await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal(id, recordedId);
        Assert.Equal([(0, RecipientStatus.Delivered), (1, RecipientStatus.Delivered)], Statuses(updates));
        await _log.WaitForLineAsync($"{id}: 1 recipients deferred, next attempt in 00:05:00");
        (QueueId calledFor, string domain, int[] indexes) = await _remote.Calls.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal((id, "example.org"), (calledFor, domain));
        Assert.Equal([2], indexes);

        Assert.True(_store.Contains(id));
        Assert.False(_store.Removals.Reader.TryRead(out _));
        Assert.Equal([RecipientStatus.Delivered, RecipientStatus.Delivered, RecipientStatus.Pending], _store.StatesOf(id));
        AssertOneMessageIn("alice", expectedDeliveredTo: "alice@example.com");
        AssertOneMessageIn("bob", expectedDeliveredTo: "bob@example.com");
    }

    [Fact]
    public async Task Removes_a_message_whose_recipients_are_all_local_and_logs_like_Postfix()
    {
        await StartAsync();
        QueueId id = _store.Add(EnvelopeFor(Local("alice"), Local("bob")), s_content);

        _runner!.Enqueue(id);

        Assert.Equal(id, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        await _log.WaitForLineAsync($"{id}: removed");
        Assert.Contains($"{id}: to=<alice@example.com>, relay=local, delay=5.0, status=sent (delivered to maildir)", _log.All);
        Assert.Contains($"{id}: to=<bob@example.com>, relay=local, delay=5.0, status=sent (delivered to maildir)", _log.All);
        AssertOneMessageIn("alice", expectedDeliveredTo: "alice@example.com");
        AssertOneMessageIn("bob", expectedDeliveredTo: "bob@example.com");
    }

    [Fact]
    public async Task Two_recipients_of_the_same_mailbox_get_one_copy()
    {
        await StartAsync();
        var alias = new EnvelopeRecipient { Address = "postmaster@example.com", LocalMailbox = "example.com/alice" };
        QueueId id = _store.Add(EnvelopeFor(Local("alice"), alias), s_content);

        _runner!.Enqueue(id);

        (_, RecipientUpdate[] updates) = await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal([0, 1], updates.Select(update => update.Index));
        Assert.Equal(id, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        AssertOneMessageIn("alice", expectedDeliveredTo: "alice@example.com");
    }

    [Fact]
    public async Task Delivers_recovered_messages_at_start_and_skips_recipients_already_delivered()
    {
        QueueId partly = _store.Add(EnvelopeFor(Local("alice"), Local("bob")), s_content, RecipientStatus.Delivered, RecipientStatus.Pending);
        QueueId untouched = _store.Add(EnvelopeFor(Local("carol")), s_content);

        await StartAsync();

        var removed = new HashSet<QueueId>
        {
            await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout),
            await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout),
        };
        Assert.Equal(new HashSet<QueueId> { partly, untouched }, removed);
        var records = new[]
        {
            await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout),
            await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout),
        }.ToDictionary(record => record.Id, record => record.Updates);
        Assert.Equal([(1, RecipientStatus.Delivered)], Statuses(records[partly]));
        Assert.Equal([(0, RecipientStatus.Delivered)], Statuses(records[untouched]));
        Assert.False(Directory.Exists(MaildirOf("alice")));
        AssertOneMessageIn("bob", expectedDeliveredTo: "bob@example.com");
        AssertOneMessageIn("carol", expectedDeliveredTo: "carol@example.com");
        Assert.Contains("recovered 2 messages from the queue", _log.All);
    }

    [Fact]
    public async Task A_recovered_message_already_in_the_Maildir_from_before_a_crash_is_recorded_without_a_second_copy()
    {
        QueueId id = _store.Add(EnvelopeFor(Local("alice")), s_content);

        // The earlier process renamed the file into new/ and was killed before recording it; the user has read it since.
        var writer = new MaildirWriter(_root.Path, "mx1.example.com");
        string name = writer.FileNameFor(id, 0, s_arrival);
        Directory.CreateDirectory(Path.Combine(MaildirOf("alice"), "new"));
        Directory.CreateDirectory(Path.Combine(MaildirOf("alice"), "tmp"));
        Directory.CreateDirectory(Path.Combine(MaildirOf("alice"), "cur"));
        await File.WriteAllTextAsync(Path.Combine(MaildirOf("alice"), "cur", name + ":2,S"), "the earlier copy");

        await StartAsync();

        (_, RecipientUpdate[] updates) = await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal([(0, RecipientStatus.Delivered)], Statuses(updates));
        Assert.Equal(id, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        Assert.Empty(Directory.GetFiles(Path.Combine(MaildirOf("alice"), "new")));
        Assert.Single(Directory.GetFiles(Path.Combine(MaildirOf("alice"), "cur")));
    }

    [Fact]
    public async Task A_temporary_failure_keeps_the_message_and_retries_it_with_a_growing_backoff()
    {
        // The domain folder is a regular file, so the Maildir cannot be created: a disk failure.
        string blocker = Path.Combine(_root.Path, "example.com");
        await File.WriteAllTextAsync(blocker, "not a folder");
        await StartAsync();
        QueueId id = _store.Add(EnvelopeFor(Local("alice")), s_content);

        _runner!.Enqueue(id);

        Assert.Equal(TimeSpan.FromMinutes(5), await _time.TimersCreated.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        Assert.False(_store.Records.Reader.TryRead(out _));
        Assert.Equal([RecipientStatus.Pending], _store.StatesOf(id));
        Assert.Contains(_log.All, line => line.StartsWith($"{id}: to=<alice@example.com>, relay=local, delay=5.0, status=deferred (", StringComparison.Ordinal));

        // Still failing after five minutes: the next wait is twice as long.
        _time.Fake.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromMinutes(10), await _time.TimersCreated.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        Assert.False(_store.Records.Reader.TryRead(out _));

        // The disk is fixed; the retry after the backoff delivers.
        File.Delete(blocker);
        _time.Fake.Advance(TimeSpan.FromMinutes(10));

        (_, RecipientUpdate[] updates) = await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal([(0, RecipientStatus.Delivered)], Statuses(updates));
        Assert.Equal(id, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        AssertOneMessageIn("alice", expectedDeliveredTo: "alice@example.com");
    }

    [Fact]
    public async Task A_message_named_again_while_it_is_being_delivered_is_not_taken_a_second_time()
    {
        await StartAsync(concurrency: 1);
        QueueId id = _store.Add(EnvelopeFor(Local("alice")), s_content);
        QueueId next = _store.Add(EnvelopeFor(Local("bob")), s_content);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _store.ReadGate = gate;

        _runner!.Enqueue(id);
        Assert.Equal(id, await _store.ReadsStarted.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        _runner.Enqueue(id);
        gate.SetResult();

        Assert.Equal(id, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        _runner.Enqueue(next);
        Assert.Equal(next, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));

        // One worker takes messages in order: a second copy of the first would have been read before the next.
        Assert.Equal(1, _store.ReadCount(id));
        AssertOneMessageIn("alice", expectedDeliveredTo: "alice@example.com");
    }

    [Fact]
    public async Task A_permanent_remote_failure_is_recorded_and_reported_to_the_sender_then_the_message_leaves()
    {
        _remote.Answer = address => address.StartsWith("bad", StringComparison.Ordinal) ? RecipientOutcomeTemplate.Failed : RecipientOutcomeTemplate.Delivered;
        await StartAsync();
        QueueId id = _store.Add(EnvelopeFor(Remote("bad@example.org"), Remote("good@example.org")) with { ReversePath = "alice@example.com" }, s_content);

        _runner!.Enqueue(id);

        (_, RecipientUpdate[] updates) = await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal([(0, RecipientStatus.Failed), (1, RecipientStatus.Delivered)], Statuses(updates));
        Assert.Equal("smtp; 550 5.1.1 <x>: user unknown", updates[0].Diagnostic);
        CreatedMessage report = await _store.Created.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);

        // The report goes from <> to the sender's mailbox, and names only the failed recipient.
        Envelope envelope = report.Envelope;
        Assert.Equal(string.Empty, envelope.ReversePath);
        Assert.Equal("example.com/alice", Assert.Single(envelope.Recipients).LocalMailbox);
        string text = report.Text;
        Assert.Contains("Final-Recipient: rfc822; bad@example.org", text, StringComparison.Ordinal);
        Assert.Contains("Status: 5.1.1", text, StringComparison.Ordinal);
        Assert.Contains("Remote-MTA: dns; mx.example.org", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Final-Recipient: rfc822; good@example.org", text, StringComparison.Ordinal);

        // The original leaves the queue; the report, delivered to alice's Maildir, too.
        var removed = new[]
        {
            await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout),
            await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout),
        };
        Assert.Equal(new HashSet<QueueId> { id, report.Id }, removed.ToHashSet());
    }

    [Theory]
    [InlineData("", DsnNotify.None)]                        // never a report to <>
    [InlineData("alice@example.com", DsnNotify.Never)]      // NOTIFY=NEVER
    [InlineData("alice@example.com", DsnNotify.Success)]    // asked only for success reports
    [InlineData("ghost@example.com", DsnNotify.None)]       // an unknown local sender: logged, not reported
    public async Task No_report_is_sent_when_none_may_or_can_be(string sender, DsnNotify notify)
    {
        _remote.Answer = _ => RecipientOutcomeTemplate.Failed;
        await StartAsync();
        QueueId id = _store.Add(EnvelopeFor(Remote("bad@example.org") with { Notify = notify }) with { ReversePath = sender }, s_content);

        _runner!.Enqueue(id);

        Assert.Equal(id, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        Assert.False(_store.Created.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_recipient_still_deferred_when_the_queue_lifetime_runs_out_fails_with_4_4_7_and_is_reported()
    {
        await StartAsync();
        QueueId id = _store.Add(EnvelopeFor(Remote("slow@example.org")) with { ArrivalTime = _time.Fake.GetUtcNow() - TimeSpan.FromDays(5) }, s_content);

        _runner!.Enqueue(id);

        (_, RecipientUpdate[] updates) = await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal([(0, RecipientStatus.Failed)], Statuses(updates));
        CreatedMessage report = await _store.Created.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Contains("Status: 4.4.7", report.Text, StringComparison.Ordinal);
        Assert.Equal(id, await _store.Removals.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        await _log.WaitForLineAsync($"{id}: to=<slow@example.org>, status=expired (delivery time expired, returned to sender)");
    }

    [Fact]
    public async Task The_sender_is_warned_once_when_delivery_is_delayed_past_the_warning_time()
    {
        await StartAsync();
        // The sender is local, so the warning itself is delivered at once and sets no timer of its own.
        QueueId id = _store.Add(EnvelopeFor(Remote("slow@example.org")) with { ReversePath = "alice@example.com", ArrivalTime = _time.Fake.GetUtcNow() - TimeSpan.FromHours(4) }, s_content);

        _runner!.Enqueue(id);

        string text = (await _store.Created.Reader.ReadAsync().AsTask().WaitAsync(s_timeout)).Text;
        Assert.Contains("Action: delayed", text, StringComparison.Ordinal);
        Assert.Contains("Will-Retry-Until: ", text, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromMinutes(5), await _time.TimersCreated.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        Assert.True(_store.Snapshot(id)!.Schedule!.DelayNotified);

        // The next deferral does not warn again.
        _time.Fake.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSpan.FromMinutes(10), await _time.TimersCreated.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        Assert.Equal(2, _store.Snapshot(id)!.Schedule!.Attempts);
        Assert.False(_store.Created.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_recovered_message_waits_for_its_recorded_next_attempt()
    {
        QueueId id = _store.Add(EnvelopeFor(Remote("slow@example.org")), s_content);
        await _store.ScheduleAsync(id, new DeliverySchedule(3, _time.Fake.GetUtcNow() + TimeSpan.FromMinutes(17), DelayNotified: false), CancellationToken.None);

        await StartAsync();

        Assert.Equal(TimeSpan.FromMinutes(17), await _time.TimersCreated.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
        Assert.False(_remote.Calls.Reader.TryRead(out _));
        _time.Fake.Advance(TimeSpan.FromMinutes(17));
        Assert.Equal(id, (await _remote.Calls.Reader.ReadAsync().AsTask().WaitAsync(s_timeout)).Id);

        // The fourth failure waits 5 min * 2^3.
        Assert.Equal(TimeSpan.FromMinutes(40), await _time.TimersCreated.Reader.ReadAsync().AsTask().WaitAsync(s_timeout));
    }

    [Fact]
    public async Task A_message_with_more_than_100_Received_headers_fails_with_5_4_6_as_a_loop()
    {
        await StartAsync();
        var looping = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("Received: from a by b; Mon, 30 Nov 2026 00:00:00 +0000\r\n", 101)) + "Subject: loop\r\n\r\nbody\r\n");
        QueueId id = _store.Add(EnvelopeFor(Local("alice"), Remote("carol@example.org")) with { ReversePath = "alice@example.com" }, looping);

        _runner!.Enqueue(id);

        (_, RecipientUpdate[] updates) = await _store.Records.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);
        Assert.Equal([(0, RecipientStatus.Failed), (1, RecipientStatus.Failed)], Statuses(updates));
        Assert.Contains("Status: 5.4.6", (await _store.Created.Reader.ReadAsync().AsTask().WaitAsync(s_timeout)).Text, StringComparison.Ordinal);
        Assert.False(_remote.Calls.Reader.TryRead(out _));
    }

    [Fact]
    public void Exactly_100_Received_headers_are_still_fine_and_the_body_is_not_counted()
    {
        var message = string.Concat(Enumerable.Repeat("Received: x\r\n", 100)) + "Subject: s\r\n\r\nReceived: in the body\r\n";

        Assert.Equal(100, HopCount.CountReceived(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(message))));
    }

    [Fact]
    public void Received_headers_split_across_reads_are_counted_once_each()
    {
        // 20 KiB of headers (more than one read), then a body with Received lines that do not count.
        var filler = "X-Filler: " + new string('a', 20 * 1024) + "\r\n";
        var message = "Received: a\r\nreceived: b\r\n" + filler + "RECEIVED: c\r\nReceived:d\r\n\r\nReceived: body\r\n";
        var bytes = System.Text.Encoding.ASCII.GetBytes(message);

        Assert.Equal(4, HopCount.CountReceived(new MemoryStream(bytes)));
        Assert.Equal(4, HopCount.CountReceived(new OneByteStream(bytes)));
        Assert.Equal(1, HopCount.CountReceived(new OneByteStream("Received:"u8.ToArray())));
        Assert.Equal(0, HopCount.CountReceived(new OneByteStream("Received"u8.ToArray())));
    }

    /// <summary>Returns one byte per read, as a slow peer or a split read would.</summary>
    private sealed class OneByteStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1));
    }

    private async Task StartAsync(int concurrency = 4)
    {
        var local = Options.Create(new LocalDeliveryOptions { MailRoot = _root.Path, Hostname = "mx1.example.com" });
        var delivery = Options.Create(new DeliveryOptions { Hostname = "mx1.example.com", Concurrency = concurrency });
        _runner = new QueueRunner(_store, _remote, new FakeSenderResolver(), local, delivery, _time, _loggerFactory);
        await _runner.StartAsync(CancellationToken.None);
        await _store.RecoveryCompleted.WaitAsync(s_timeout);
    }

    private static (int Index, RecipientStatus Status)[] Statuses(IEnumerable<RecipientUpdate> updates) =>
        [.. updates.Select(update => (update.Index, update.Status))];

    private string MaildirOf(string user) => Path.Combine(_root.Path, "example.com", user);

    private void AssertOneMessageIn(string user, string expectedDeliveredTo)
    {
        string file = Assert.Single(Directory.GetFiles(Path.Combine(MaildirOf(user), "new")));
        byte[] expected = [.. System.Text.Encoding.UTF8.GetBytes($"Return-Path: <sender@example.org>\r\nDelivered-To: {expectedDeliveredTo}\r\n"), .. s_content];
        Assert.Equal(expected, File.ReadAllBytes(file));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(MaildirOf(user), "tmp")));
    }

    private static EnvelopeRecipient Local(string user) => new() { Address = $"{user}@example.com", LocalMailbox = $"example.com/{user}" };

    private static EnvelopeRecipient Remote(string address) => new() { Address = address };

    private static Envelope EnvelopeFor(params EnvelopeRecipient[] recipients) => new()
    {
        ReversePath = "sender@example.org",
        Recipients = recipients,
        ArrivalTime = s_arrival,
    };
}

using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Mailroom.Queue;

namespace Mailroom.Delivery.Tests.Fakes;

/// <summary>
/// An <see cref="IMessageStore"/> in memory, for the delivery side. Every RecordAsync and RemoveAsync
/// call is also written to <see cref="Records"/> and <see cref="Removals"/>, so a test can await them.
/// </summary>
internal sealed class InMemoryMessageStore : IMessageStore
{
    private readonly ConcurrentDictionary<QueueId, Entry> _messages = new();
    private readonly ConcurrentDictionary<QueueId, int> _reads = new();
    private readonly List<QueueId> _order = [];
    private readonly TaskCompletionSource _recoveryCompleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _nextId;

    public Channel<(QueueId Id, RecipientUpdate[] Updates)> Records { get; } = Channel.CreateUnbounded<(QueueId, RecipientUpdate[])>();

    public Channel<QueueId> Removals { get; } = Channel.CreateUnbounded<QueueId>();

    /// <summary>Every ReadAsync call, as it starts.</summary>
    public Channel<QueueId> ReadsStarted { get; } = Channel.CreateUnbounded<QueueId>();

    /// <summary>When set, ReadAsync waits for it: a test can hold a message in the middle of its delivery.</summary>
    public TaskCompletionSource? ReadGate { get; set; }

    /// <summary>Completes when a RecoverAsync enumeration has yielded its last message.</summary>
    public Task RecoveryCompleted => _recoveryCompleted.Task;

    /// <summary>Adds a committed message, optionally with recipients already final.</summary>
    public QueueId Add(Envelope envelope, byte[] content, params RecipientStatus[] states)
    {
        var id = new QueueId($"Q{Interlocked.Increment(ref _nextId):D4}");
        RecipientStatus[] initial = states.Length > 0 ? states : new RecipientStatus[envelope.Recipients.Count];
        Assert.Equal(envelope.Recipients.Count, initial.Length);
        _messages[id] = new Entry(envelope, content, initial);
        lock (_order)
        {
            _order.Add(id);
        }

        return id;
    }

    public bool Contains(QueueId id) => _messages.ContainsKey(id);

    public RecipientStatus[] StatesOf(QueueId id)
    {
        Entry entry = _messages[id];
        lock (entry)
        {
            return [.. entry.States];
        }
    }

    /// <summary>Every message delivery created (reports to senders), as it is committed; kept even after it is delivered and removed.</summary>
    public Channel<CreatedMessage> Created { get; } = Channel.CreateUnbounded<CreatedMessage>();

    public ValueTask<IncomingMessage> CreateAsync(Envelope envelope, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IncomingMessage>(new InMemoryIncoming(this, envelope));



    public async IAsyncEnumerable<QueuedMessage> RecoverAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        QueueId[] ids;
        lock (_order)
        {
            ids = [.. _order];
        }

        foreach (QueueId id in ids)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            if (Snapshot(id) is { } message)
            {
                yield return message;
            }
        }

        _recoveryCompleted.TrySetResult();
    }

    public async ValueTask<QueuedMessage?> ReadAsync(QueueId id, CancellationToken cancellationToken)
    {
        _reads.AddOrUpdate(id, 1, static (_, count) => count + 1);
        ReadsStarted.Writer.TryWrite(id);
        if (ReadGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        return Snapshot(id);
    }

    /// <summary>How many times ReadAsync was called for the message.</summary>
    public int ReadCount(QueueId id) => _reads.GetValueOrDefault(id);

    public Stream OpenContent(QueueId id) =>
        _messages.TryGetValue(id, out Entry? entry) ? new MemoryStream(entry.Content, writable: false) : throw new FileNotFoundException(id.Value);

    public ValueTask RecordAsync(QueueId id, IReadOnlyList<RecipientUpdate> updates, CancellationToken cancellationToken)
    {
        Entry entry = _messages[id];
        lock (entry)
        {
            foreach (RecipientUpdate update in updates)
            {
                Assert.Equal(RecipientStatus.Pending, entry.States[update.Index]);
                entry.States[update.Index] = update.Status;
            }
        }

        Records.Writer.TryWrite((id, updates.ToArray()));
        return ValueTask.CompletedTask;
    }

    public ValueTask ScheduleAsync(QueueId id, DeliverySchedule schedule, CancellationToken cancellationToken)
    {
        Entry entry = _messages[id];
        lock (entry)
        {
            entry.Schedule = schedule;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask RemoveAsync(QueueId id, CancellationToken cancellationToken)
    {
        Assert.True(_messages.TryRemove(id, out Entry? entry), $"{id} removed twice");
        lock (entry)
        {
            Assert.All(entry.States, state => Assert.NotEqual(RecipientStatus.Pending, state));
        }

        Removals.Writer.TryWrite(id);
        return ValueTask.CompletedTask;
    }

    public QueuedMessage? Snapshot(QueueId id)
    {
        if (!_messages.TryGetValue(id, out Entry? entry))
        {
            return null;
        }

        lock (entry)
        {
            return new QueuedMessage(id, entry.Envelope, [.. entry.States], entry.Content.Length) { Schedule = entry.Schedule };
        }
    }

    private sealed class InMemoryIncoming(InMemoryMessageStore store, Envelope envelope) : IncomingMessage
    {
        private readonly MemoryStream _content = new();
        private QueueId? _id;

        public override QueueId Id => _id ??= new QueueId($"R{Interlocked.Increment(ref store._nextId):D4}");

        public override Stream Content => _content;

        public override ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            var content = _content.ToArray();
            store._messages[Id] = new Entry(envelope, content, new RecipientStatus[envelope.Recipients.Count]);
            store.Created.Writer.TryWrite(new CreatedMessage(Id, envelope, System.Text.Encoding.UTF8.GetString(content)));
            return ValueTask.CompletedTask;
        }

        public override ValueTask<Stream> OpenWrittenContentAsync(CancellationToken cancellationToken) =>
            ValueTask.FromResult<Stream>(new MemoryStream(_content.ToArray(), writable: false));

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed record Entry(Envelope Envelope, byte[] Content, RecipientStatus[] States)
    {
        public DeliverySchedule? Schedule { get; set; }
    }
}

internal sealed record CreatedMessage(QueueId Id, Envelope Envelope, string Text);

namespace Mailroom.Queue;

/// <summary>
/// Group commit for one directory's fsync: many commits that wait at once share one sync.
/// </summary>
/// <remarks>
/// The rule that keeps it correct: a caller has finished its rename (or unlink, or file creation)
/// before it calls <see cref="SyncAsync"/>, and its task completes only after a sync that
/// <em>started</em> after that call. So a caller that arrives while a sync runs does not join it
/// (the running sync may have read the directory before the caller's rename); it waits for the
/// next sync, which starts as soon as the running one ends and covers every caller that arrived
/// meanwhile. At most one sync runs at a time, and at most one more is pending.
/// </remarks>
internal sealed class GroupCommitter(Action sync)
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _running;
    private TaskCompletionSource? _next;

    /// <summary>Completes after a sync that started after this call; faults with the sync's exception (e.g. an IOException).</summary>
    public Task SyncAsync()
    {
        TaskCompletionSource batch;
        lock (_lock)
        {
            if (_running is not null)
            {
                _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _next.Task;
            }

            _running = batch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // fsync blocks; run the batches on a pool thread so the caller's thread is not held.
        _ = Task.Run(() => RunBatches(batch));
        return batch.Task;
    }

    private void RunBatches(TaskCompletionSource batch)
    {
        while (true)
        {
            try
            {
                sync();
                batch.SetResult();
            }
            catch (Exception e)
            {
                batch.SetException(e);
            }

            lock (_lock)
            {
                if (_next is null)
                {
                    _running = null;
                    return;
                }

                _running = batch = _next;
                _next = null;
            }
        }
    }
}

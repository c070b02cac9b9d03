namespace Mailroom.Queue;

/// <summary>
/// Group commit: many callers that wait at once share one sync (a directory fsync, or a syncfs of
/// the spool's file system). The syncs run on a dedicated thread, never on the thread pool that
/// serves the sessions: a sync blocks for milliseconds, and a pool thread held that long starves
/// the sessions (the pool grows only slowly).
/// </summary>
/// <remarks>
/// The rule that keeps it correct: a caller has finished its write, rename, unlink or file
/// creation before it calls <see cref="SyncAsync"/>, and its task completes only after a sync that
/// <em>started</em> after that call. So a caller that arrives while a sync runs does not join it
/// (the running sync may have passed the caller's data already); it waits for the next sync, which
/// starts as soon as the running one ends and covers every caller that arrived meanwhile. At most
/// one sync runs at a time, and at most one more batch is pending. The thread ends after a few
/// seconds without callers and starts again with the next one.
/// <see cref="SyncSoon"/> asks for a sync nobody waits for (a removal): it rides on the next
/// caller's sync, or runs by itself after <see cref="SoonMilliseconds"/> when no caller comes, so
/// under load it costs no fsync of its own.
/// </remarks>
internal sealed class GroupCommitter(Action sync, string threadName = "mailroom-sync")
{
    // Bounded idle wait (not a sleep): the thread leaves when nothing arrived for this long.
    private const int IdleMilliseconds = 5000;

    /// <summary>The longest a <see cref="SyncSoon"/> request waits for a caller's sync to share.</summary>
    public const int SoonMilliseconds = 50;

    private readonly object _gate = new();
    private TaskCompletionSource? _next;
    private bool _soonPending;
    private bool _threadRunning;

    /// <summary>Completes after a sync that started after this call; faults with the sync's exception (e.g. an IOException).</summary>
    public Task SyncAsync()
    {
        lock (_gate)
        {
            var next = _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_threadRunning)
            {
                Monitor.Pulse(_gate);
            }
            else
            {
                _threadRunning = true;
                new Thread(Run) { IsBackground = true, Name = threadName }.Start();
            }

            return next.Task;
        }
    }

    /// <summary>Makes what was written before this call durable within <see cref="SoonMilliseconds"/>, without waiting for it; a failure is left to the next <see cref="SyncAsync"/>.</summary>
    public void SyncSoon()
    {
        lock (_gate)
        {
            if (_next is not null || _soonPending)
            {
                return; // a sync that starts after this call is coming anyway
            }

            _soonPending = true;
            if (_threadRunning)
            {
                Monitor.Pulse(_gate);
            }
            else
            {
                _threadRunning = true;
                new Thread(Run) { IsBackground = true, Name = threadName }.Start();
            }
        }
    }

    private void Run()
    {
        while (true)
        {
            TaskCompletionSource? batch;
            lock (_gate)
            {
                while (_next is null)
                {
                    if (_soonPending)
                    {
                        if (!Monitor.Wait(_gate, SoonMilliseconds) && _next is null)
                        {
                            break; // no caller came: sync for the SyncSoon requests alone
                        }
                    }
                    else if (!Monitor.Wait(_gate, IdleMilliseconds) && _next is null && !_soonPending)
                    {
                        _threadRunning = false;
                        return;
                    }
                }

                // Taken before the sync starts: every caller in this batch called before it.
                batch = _next;
                _next = null;
                _soonPending = false;
            }

            try
            {
                sync();
                batch?.SetResult();
            }
            catch (Exception e)
            {
                batch?.SetException(e);
            }
        }
    }
}

namespace Mailroom.Queue.Tests;

public sealed class GroupCommitterTests
{
    [Fact]
    public async Task CallersArrivingDuringASyncShareTheNextOne()
    {
        using var held = new FirstSyncHeld();
        Task first = held.Committer.SyncAsync();
        held.WaitUntilFirstSyncRuns();
        Task[] waiting = Enumerable.Range(0, 10).Select(_ => held.Committer.SyncAsync()).ToArray();
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        held.ReleaseFirstSync();
        await first;
        await Task.WhenAll(waiting);
        Assert.Equal(2, held.Syncs);

        await held.Committer.SyncAsync();
        Assert.Equal(3, held.Syncs);
    }

    [Fact]
    public async Task ASyncErrorReachesItsCallersAndTheNextSyncRunsAgain()
    {
        bool fail = true;
        var committer = new GroupCommitter(() =>
        {
            if (fail)
            {
                throw new IOException("EIO");
            }
        });

        await Assert.ThrowsAsync<IOException>(committer.SyncAsync);
        fail = false;
        await committer.SyncAsync();
    }

    [Fact]
    public async Task SyncSoon_WithNoCallerToShareWith_SyncsByItself()
    {
        var synced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var committer = new GroupCommitter(() => synced.TrySetResult());

        committer.SyncSoon();

        await synced.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task SyncSoon_RidesOnTheNextCallersSync()
    {
        using var held = new FirstSyncHeld();
        Task first = held.Committer.SyncAsync();
        held.WaitUntilFirstSyncRuns();

        // Both arrive while the first sync runs: one sync after it serves the two.
        held.Committer.SyncSoon();
        Task caller = held.Committer.SyncAsync();
        held.ReleaseFirstSync();
        await first;
        await caller;

        Assert.Equal(2, held.Syncs);
    }

    /// <summary>A committer whose first sync blocks until released, and the count of its syncs.</summary>
    private sealed class FirstSyncHeld : IDisposable
    {
        private readonly ManualResetEventSlim _firstStarted = new();
        private readonly ManualResetEventSlim _releaseFirst = new();
        private int _syncs;

        public FirstSyncHeld()
        {
            Committer = new GroupCommitter(() =>
            {
                if (Interlocked.Increment(ref _syncs) == 1)
                {
                    _firstStarted.Set();
                    _releaseFirst.Wait();
                }
            });
        }

        public GroupCommitter Committer { get; }

        public int Syncs => Volatile.Read(ref _syncs);

        public void WaitUntilFirstSyncRuns() => _firstStarted.Wait();

        public void ReleaseFirstSync() => _releaseFirst.Set();

        public void Dispose()
        {
            _releaseFirst.Set();
            _firstStarted.Dispose();
            _releaseFirst.Dispose();
        }
    }
}

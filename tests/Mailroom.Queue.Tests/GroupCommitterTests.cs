namespace Mailroom.Queue.Tests;

public sealed class GroupCommitterTests
{
    [Fact]
    public async Task CallersArrivingDuringASyncShareTheNextOne()
    {
        int syncs = 0;
        using var firstStarted = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        var committer = new GroupCommitter(() =>
        {
            if (Interlocked.Increment(ref syncs) == 1)
            {
                firstStarted.Set();
                releaseFirst.Wait();
            }
        });

        Task first = committer.SyncAsync();
        firstStarted.Wait();
        Task[] waiting = Enumerable.Range(0, 10).Select(_ => committer.SyncAsync()).ToArray();
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        releaseFirst.Set();
        await first;
        await Task.WhenAll(waiting);
        Assert.Equal(2, syncs);

        await committer.SyncAsync();
        Assert.Equal(3, syncs);
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
        int syncs = 0;
        using var firstStarted = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        var committer = new GroupCommitter(() =>
        {
            if (Interlocked.Increment(ref syncs) == 1)
            {
                firstStarted.Set();
                releaseFirst.Wait();
            }
        });
        Task first = committer.SyncAsync();
        firstStarted.Wait();

        // Both arrive while the first sync runs: one sync after it serves the two.
        committer.SyncSoon();
        Task caller = committer.SyncAsync();
        releaseFirst.Set();
        await first;
        await caller;

        Assert.Equal(2, syncs);
    }
}

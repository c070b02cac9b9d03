using Mailroom.Delivery.Remote;
using Mailroom.Delivery.Tests.Fakes;
using Mailroom.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>
/// The lane to one server: messages wait behind a busy connection and go out pipelined over it,
/// an idle connection is closed with QUIT, a failed connect answers every waiting message, and a
/// message whose commands followed a broken transaction goes again on a new connection. The
/// server's greeting waits until the test has queued its messages, so that they meet one busy connection.
/// </summary>
public sealed class ConnectionLaneTests
{
    private const string Ehlo = "250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n";

    [Fact]
    public async Task MessagesWaitingBehindTheBusyConnectionArePipelinedOverIt()
    {
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeSmtpServer(async peer =>
        {
            await queued.Task;
            await SmtpClientSessionTests.GreetAsync(peer, Ehlo);
            await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, "a@example.org");
            await peer.SendAsync("250 Ok\r\n250 Ok\r\n354 go\r\n");
            await peer.ReadDataAsync();
            await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, "b@example.org"); // before the dot's reply, and without RSET
            await peer.SendAsync("250 2.0.0 Ok: queued\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
            await peer.ReadDataAsync();
            await peer.SendAsync("250 2.0.0 Ok: queued\r\n");
            await SmtpClientSessionTests.QuitAsync(peer);
        });
        var lane = Lane(server.EndPoint, TimeProvider.System);

        var first = lane.TrySendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), CancellationToken.None);
        var second = lane.TrySendAsync(SmtpClientSessionTests.Message("two\r\n", "b@example.org"), CancellationToken.None);
        queued.SetResult();

        var a = (await first.WaitAsync(TimeSpan.FromSeconds(10)))!;
        var b = (await second.WaitAsync(TimeSpan.FromSeconds(10)))!;
        Assert.Equal(DeliveryOutcome.Delivered, Assert.Single(a.Transaction!.Recipients).Outcome);
        Assert.Equal(DeliveryOutcome.Delivered, Assert.Single(b.Transaction!.Recipients).Outcome);
        Assert.True(a.NewConnection);
        Assert.False(b.NewConnection);

        await lane.DisposeAsync();
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AConnectionWithNothingToSendIsClosedWithQuitAfterTheIdleTimeAndTheLaneRetires()
    {
        var idleTime = TimeSpan.FromSeconds(7);
        var time = new ObservedTimeProvider(DateTimeOffset.UnixEpoch);
        var quit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeSmtpServer(async peer =>
        {
            await SmtpClientSessionTests.GreetAsync(peer, Ehlo);
            await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, "a@example.org");
            await peer.SendAsync("250 Ok\r\n250 Ok\r\n354 go\r\n");
            await peer.ReadDataAsync();
            await peer.SendAsync("250 2.0.0 Ok: queued\r\n");
            await SmtpClientSessionTests.QuitAsync(peer);
            quit.SetResult();
        });
        var retired = new TaskCompletionSource<ConnectionLane>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lane = Lane(server.EndPoint, time, idleTime: idleTime, emptied: retired.SetResult);

        var sent = await lane.TrySendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DeliveryOutcome.Delivered, Assert.Single(sent!.Transaction!.Recipients).Outcome);

        await WaitForTimerAsync(time, idleTime);
        Assert.False(quit.Task.IsCompleted);
        time.Fake.Advance(idleTime);
        await quit.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Same(lane, await retired.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Null(await lane.TrySendAsync(SmtpClientSessionTests.Message("two\r\n", "b@example.org"), CancellationToken.None));
        await lane.DisposeAsync();
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task WhenNoConnectionCanBeMadeEveryWaitingMessageGetsTheFailure()
    {
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failure = SmtpReplyInfo.Local(421, new EnhancedStatusCode(4, 4, 1), "connect failed: Connection refused");
        var connects = 0;
        var lane = FailingLane(queued.Task, failure, maxConnections: 1, () => Interlocked.Increment(ref connects));

        var first = lane.TrySendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), CancellationToken.None);
        var second = lane.TrySendAsync(SmtpClientSessionTests.Message("two\r\n", "b@example.org"), CancellationToken.None);
        queued.SetResult();

        foreach (var result in new[] { await first.WaitAsync(TimeSpan.FromSeconds(10)), await second.WaitAsync(TimeSpan.FromSeconds(10)) })
        {
            Assert.Null(result!.Transaction);
            Assert.Same(failure, result.ConnectFailure);
            Assert.True(result.NewConnection);
        }

        Assert.Equal(1, connects);
        await lane.DisposeAsync();
    }

    [Fact]
    public async Task WhenSeveralConnectsFailTogetherTheWaitingMessagesStillGetTheFailure()
    {
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failure = SmtpReplyInfo.Local(421, new EnhancedStatusCode(4, 4, 1), "connect failed: Connection refused");
        var lane = FailingLane(queued.Task, failure, maxConnections: 2);

        // Three messages open two connections, which fail at the same moment: whichever fails first
        // leaves the messages to the other, and the last one (or a new one) answers them all.
        var sends = Enumerable.Range(0, 3)
            .Select(i => lane.TrySendAsync(SmtpClientSessionTests.Message("x\r\n", $"r{i}@example.org"), CancellationToken.None))
            .ToList();
        queued.SetResult();

        foreach (var send in sends)
        {
            Assert.Same(failure, (await send.WaitAsync(TimeSpan.FromSeconds(10)))!.ConnectFailure);
        }

        await lane.DisposeAsync();
    }

    [Fact]
    public async Task AMessageWhoseCommandsFollowedABrokenTransactionIsSentAgainOnANewConnection()
    {
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeSmtpServer(
            async first =>
            {
                await queued.Task;
                await SmtpClientSessionTests.GreetAsync(first, Ehlo);
                await SmtpClientSessionTests.ExpectCommandGroupAsync(first, "a@example.org");
                await first.SendAsync("250 Ok\r\n250 Ok\r\n354 go\r\n");
                await first.ReadDataAsync();
                await SmtpClientSessionTests.ExpectCommandGroupAsync(first, "b@example.org");
                first.Close(); // no reply to the first message's dot
            },
            async second =>
            {
                await SmtpClientSessionTests.GreetAsync(second, Ehlo);
                await SmtpClientSessionTests.ExpectCommandGroupAsync(second, "b@example.org");
                await second.SendAsync("250 Ok\r\n250 Ok\r\n354 go\r\n");
                await second.ReadDataAsync();
                await second.SendAsync("250 2.0.0 Ok: queued\r\n");
                await SmtpClientSessionTests.QuitAsync(second);
            });
        var lane = Lane(server.EndPoint, TimeProvider.System);

        var first = lane.TrySendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), CancellationToken.None);
        var second = lane.TrySendAsync(SmtpClientSessionTests.Message("two\r\n", "b@example.org"), CancellationToken.None);
        queued.SetResult();

        // The first message's dot went out, so it may have arrived: deferred, never sent twice at once.
        var a = (await first.WaitAsync(TimeSpan.FromSeconds(10)))!;
        Assert.Equal(DeliveryOutcome.Deferred, Assert.Single(a.Transaction!.Recipients).Outcome);
        Assert.NotNull(a.Transaction.TransactionFailure);

        var b = (await second.WaitAsync(TimeSpan.FromSeconds(10)))!;
        Assert.Equal(DeliveryOutcome.Delivered, Assert.Single(b.Transaction!.Recipients).Outcome);
        Assert.True(b.NewConnection);

        await lane.DisposeAsync();
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AWaitingMessageTheServerCannotTakeIsAnsweredWithoutBeingSent()
    {
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeSmtpServer(async peer =>
        {
            await queued.Task;
            await SmtpClientSessionTests.GreetAsync(peer, "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n");
            await peer.ExpectAsync("MAIL FROM:<sender@example.com> SIZE=5");
            await peer.ExpectAsync("RCPT TO:<a@example.org>");
            await peer.ExpectAsync("DATA");
            await peer.SendAsync("250 Ok\r\n250 Ok\r\n354 go\r\n");
            await peer.ReadDataAsync();
            await peer.SendAsync("250 2.0.0 Ok: queued\r\n");
            await SmtpClientSessionTests.QuitAsync(peer); // nothing of the large message
        });
        var lane = Lane(server.EndPoint, TimeProvider.System);

        var small = lane.TrySendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), CancellationToken.None);
        var large = lane.TrySendAsync(SmtpClientSessionTests.Message(new string('x', 200), "b@example.org"), CancellationToken.None);
        queued.SetResult();

        Assert.Equal(DeliveryOutcome.Delivered, Assert.Single((await small.WaitAsync(TimeSpan.FromSeconds(10)))!.Transaction!.Recipients).Outcome);
        var refused = (await large.WaitAsync(TimeSpan.FromSeconds(10)))!.Transaction!;
        Assert.Equal(552, Assert.Single(refused.Recipients).Code);
        Assert.Null(refused.DataReply);

        await lane.DisposeAsync();
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static ConnectionLane Lane(System.Net.IPEndPoint server, TimeProvider time, TimeSpan? idleTime = null, Action<ConnectionLane>? emptied = null) => new(
        Key(server),
        cancellationToken => SmtpClientSession.ConnectAsync(server, "mx.test", new SmtpClientOptions { HeloName = "client.test" }, time, NullLogger.Instance, cancellationToken),
        new SemaphoreSlim(1),
        maxConnections: 1,
        idleTime ?? TimeSpan.FromSeconds(30),
        time,
        NullLogger.Instance,
        emptied ?? (_ => { }));

    /// <summary>A lane whose every connect fails with <paramref name="failure"/> once <paramref name="queued"/> completes.</summary>
    private static ConnectionLane FailingLane(Task queued, SmtpReplyInfo failure, int maxConnections, Action? connecting = null) => new(
        Key(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 9)),
        async _ =>
        {
            connecting?.Invoke();
            await queued;
            return SmtpConnectResult.Failed(failure);
        },
        new SemaphoreSlim(maxConnections),
        maxConnections,
        TimeSpan.FromSeconds(2),
        TimeProvider.System,
        NullLogger.Instance,
        emptied: _ => { });

    private static ConnectionKey Key(System.Net.IPEndPoint server) => new("example.org", "mx.test", server);

    private static async Task WaitForTimerAsync(ObservedTimeProvider time, TimeSpan dueTime)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await time.TimersCreated.Reader.ReadAsync(timeout.Token) != dueTime)
        {
        }
    }
}

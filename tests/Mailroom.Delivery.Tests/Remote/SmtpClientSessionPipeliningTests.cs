using System.Text;
using Mailroom.Delivery.Remote;
using Mailroom.Delivery.Tests.Fakes;
using Mailroom.Protocol;

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>
/// Pipelining across transactions (RFC 2920 §3.1): the next message's MAIL, RCPT and DATA go out in
/// the same write as the previous message's final dot. The fake server reads the next commands
/// before it answers the dot, which only works when the client sent them without waiting.
/// </summary>
public sealed class SmtpClientSessionPipeliningTests
{
    private const string PipeliningEhlo = "250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n";

    [Fact]
    public async Task TheNextMessagesCommandsFollowTheFinalDotWithoutWaitingForItsReply()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await SmtpClientSessionTests.GreetAsync(peer, PipeliningEhlo);
            await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, "a@example.org");
            await peer.SendAsync("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n");
            Assert.Equal("one\r\n.\r\n", Encoding.ASCII.GetString(await peer.ReadDataAsync()));

            // Still no reply to the dot, and the second message's commands are here: no RSET before them.
            await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, "b@example.org");
            await peer.SendAsync("250 2.0.0 Ok: queued as ONE\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n");
            Assert.Equal("two\r\n.\r\n", Encoding.ASCII.GetString(await peer.ReadDataAsync()));
            await peer.SendAsync("250 2.0.0 Ok: queued as TWO\r\n");
            await SmtpClientSessionTests.QuitAsync(peer);
        });
        var second = SmtpClientSessionTests.Message("two\r\n", "b@example.org");
        var taken = 0;
        OutboundMessage? TakeFollowing() => taken++ == 0 ? second : null;

        var connect = await ConnectAsync(server);
        Assert.True(connect.Connected);
        await using (var session = connect.Session)
        {
            var first = await session.SendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), TakeFollowing, CancellationToken.None);
            Assert.Equal("250 2.0.0 Ok: queued as ONE", Assert.Single(first.Recipients).Reply.ToString());

            var next = await session.SendAsync(second, TakeFollowing, CancellationToken.None);
            Assert.Equal("250 2.0.0 Ok: queued as TWO", Assert.Single(next.Recipients).Reply.ToString());
        }

        Assert.Equal(2, taken); // asked once per message's data
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task WithoutPipeliningNoFollowingMessageIsTaken()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await SmtpClientSessionTests.GreetAsync(peer, "250-mx.test\r\n250 8BITMIME\r\n");
            await peer.ExpectAsync("MAIL FROM:<sender@example.com>");
            await peer.SendAsync("250 2.1.0 Ok\r\n");
            await peer.ExpectAsync("RCPT TO:<a@example.org>");
            await peer.SendAsync("250 2.1.5 Ok\r\n");
            await peer.ExpectAsync("DATA");
            await peer.SendAsync("354 go ahead\r\n");
            await peer.ReadDataAsync();
            await peer.SendAsync("250 2.0.0 Ok\r\n");
            await SmtpClientSessionTests.QuitAsync(peer);
        });
        var asked = false;

        var connect = await ConnectAsync(server);
        Assert.True(connect.Connected);
        await using (var session = connect.Session)
        {
            var result = await session.SendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), () =>
            {
                asked = true;
                return null;
            }, CancellationToken.None);
            Assert.Equal(DeliveryOutcome.Delivered, Assert.Single(result.Recipients).Outcome);
        }

        Assert.False(asked);
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task WhenTheConnectionBreaksBeforeTheDotsReplyTheFollowingMessageWasNeverBegun()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await SmtpClientSessionTests.GreetAsync(peer, PipeliningEhlo);
            await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, "a@example.org");
            await peer.SendAsync("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n");
            await peer.ReadDataAsync();
            await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, "b@example.org");
            peer.Close();
        });
        var second = SmtpClientSessionTests.Message("two\r\n", "b@example.org");

        var connect = await ConnectAsync(server);
        Assert.True(connect.Connected);
        await using var session = connect.Session;
        var first = await session.SendAsync(SmtpClientSessionTests.Message("one\r\n", "a@example.org"), () => second, CancellationToken.None);

        // The first message's dot went out: it may have been delivered, so it is deferred, not sent again.
        Assert.Equal(DeliveryOutcome.Deferred, Assert.Single(first.Recipients).Outcome);
        Assert.False(session.ClosedBeforeTransaction);

        // Nothing of the second one's content was sent: safe to send again on another connection.
        var next = await session.SendAsync(second, () => null, CancellationToken.None);
        Assert.Equal(DeliveryOutcome.Deferred, Assert.Single(next.Recipients).Outcome);
        Assert.True(session.ClosedBeforeTransaction);
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static Task<SmtpConnectResult> ConnectAsync(FakeSmtpServer server) =>
        SmtpClientSession.ConnectAsync(server.EndPoint, "mx.test", new SmtpClientOptions { HeloName = "client.test" }, TimeProvider.System, new LogCapture().CreateLogger("smtp"), CancellationToken.None);
}

using System.Text;
using Mailroom.Delivery.Tests.Fakes;
using Mailroom.Delivery.Remote;
using Mailroom.Delivery.Routing;
using Mailroom.Queue;
using Mailroom.Tests.Shared.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>Connection reuse in the agent: a kept connection carries the next message after a pipelined RSET; one the server closed is replaced at once.</summary>
public sealed class RemoteDeliveryAgentTests
{
    private const string Ehlo = "250-mx.test\r\n250 PIPELINING\r\n";

    [Fact]
    public async Task TheNextMessageGoesOverTheKeptConnectionAfterAPipelinedRset()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer);
            await AcceptMessageAsync(peer, "a@example.org");
            await peer.ExpectAsync("RSET");
            await AcceptMessageAsync(peer, "b@example.org", rset: true);
        });
        var store = new InMemoryMessageStore();
        await using var agent = Agent(server, store);

        Assert.Equal(OutcomeKind.Delivered, await DeliverAsync(agent, store, "a@example.org"));
        Assert.Equal(OutcomeKind.Delivered, await DeliverAsync(agent, store, "b@example.org"));
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task AKeptConnectionTheServerClosedIsReplacedByANewOneInTheSameAttempt()
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new FakeSmtpServer(
            async first =>
            {
                await GreetAsync(first);
                await AcceptMessageAsync(first, "a@example.org");
                first.Close(); // the server's idle timeout, while the client keeps the connection cached
                closed.SetResult();
            },
            async second =>
            {
                await GreetAsync(second);
                await AcceptMessageAsync(second, "b@example.org"); // a new connection: no RSET first
            });
        var store = new InMemoryMessageStore();
        await using var agent = Agent(server, store);

        Assert.Equal(OutcomeKind.Delivered, await DeliverAsync(agent, store, "a@example.org"));
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(OutcomeKind.Delivered, await DeliverAsync(agent, store, "b@example.org"));
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static RemoteDeliveryAgent Agent(FakeSmtpServer server, InMemoryMessageStore store)
    {
        var routing = new RoutingOptions
        {
            Hostname = "client.test",
            Routes = new Dictionary<string, NextHop> { ["example.org"] = NextHop.Parse($"[127.0.0.1]:{server.EndPoint.Port}") },
        };
        var router = new MxRouter(routing, new FakeDnsResolver(), new Random(1), NullLogger<MxRouter>.Instance);
        var options = new RemoteDeliveryOptions { Client = new SmtpClientOptions { HeloName = "client.test" } };
        return new RemoteDeliveryAgent(router, viaRelayHost: false, store, options, TimeProvider.System, NullLoggerFactory.Instance);
    }

    private static async Task<OutcomeKind> DeliverAsync(RemoteDeliveryAgent agent, InMemoryMessageStore store, string recipient)
    {
        var envelope = new Envelope
        {
            ReversePath = "sender@example.com",
            Recipients = [new EnvelopeRecipient { Address = recipient }],
            ArrivalTime = DateTimeOffset.UnixEpoch,
        };
        var id = store.Add(envelope, Encoding.ASCII.GetBytes($"Subject: to {recipient}\r\n\r\nbody\r\n"));
        var message = (await store.ReadAsync(id, CancellationToken.None))!;
        var outcome = Assert.Single(await agent.DeliverAsync(message, "example.org", [0], CancellationToken.None));
        return outcome.Kind;
    }

    private static Task GreetAsync(FakePeer peer) => SmtpClientSessionTests.GreetAsync(peer, Ehlo);

    /// <summary>The pipelined MAIL, RCPT and DATA of one message (after an RSET the test read already), its data and 250.</summary>
    private static async Task AcceptMessageAsync(FakePeer peer, string recipient, bool rset = false)
    {
        await SmtpClientSessionTests.ExpectCommandGroupAsync(peer, recipient);
        await peer.SendAsync((rset ? "250 2.0.0 Ok\r\n" : string.Empty) + "250 Ok\r\n250 Ok\r\n354 go\r\n");
        var data = Encoding.ASCII.GetString(await peer.ReadDataAsync());
        Assert.StartsWith($"Subject: to {recipient}", data, StringComparison.Ordinal);
        await peer.SendAsync("250 2.0.0 Ok: queued\r\n");
    }
}

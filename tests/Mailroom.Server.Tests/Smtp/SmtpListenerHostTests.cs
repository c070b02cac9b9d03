using System.Net;
using System.Net.Sockets;
using Mailroom.Server.Smtp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mailroom.Server.Tests.Smtp;

public sealed class SmtpListenerHostTests
{
    [Fact]
    public async Task Stop_AnswersOpenSessions421_ThenRefusesNewConnections()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        var port = server.Port(SmtpListenerRole.Smtp);

        var stopping = server.StopAsync();

        var reply = await client.ReadReplyAsync();
        Assert.Equal("421 4.3.0", reply.CodeAndStatus);
        Assert.True(await client.IsClosedByServerAsync());
        await stopping.WaitAsync(SmtpServerFixture.WaitLimit);
        var refused = await Assert.ThrowsAsync<SocketException>(() => RawSmtpClient.ConnectAsync(port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task Stop_OutOfTime_ClosesTheConnectionsStillOpen()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();

        // The sessions were not told to stop, and the host has no time left to wait for them.
        await server.Listeners.StopAsync(new CancellationToken(canceled: true));

        Assert.True(await client.IsClosedByServerAsync());
    }

    [Fact]
    public async Task Start_OnAPortInUse_FailsNamingTheAddress()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        var taken = new IPEndPoint(IPAddress.Loopback, server.Port(SmtpListenerRole.Smtp));
        await using var host = new SmtpListenerHost(
            server.Handler,
            [new SmtpListener(SmtpListenerRole.Smtp, new IPEndPoint(IPAddress.Loopback, 0)), new SmtpListener(SmtpListenerRole.Smtp, taken)],
            TimeProvider.System,
            NullLogger.Instance);

        var error = await Assert.ThrowsAsync<IOException>(() => host.StartAsync(CancellationToken.None));

        Assert.StartsWith($"cannot listen on {taken}: ", error.Message, StringComparison.Ordinal);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.IsType<SocketException>(error.InnerException).SocketErrorCode);
        Assert.Empty(host.EndPoints);
    }

    [Fact]
    public async Task TheIPv6AnyAddress_AcceptsIPv4ClientsToo()
    {
        await using var server = await SmtpServerFixture.StartAsync(options => options with
        {
            Listeners = [new SmtpListener(SmtpListenerRole.Smtp, new IPEndPoint(IPAddress.IPv6Any, 0))],
        });

        // Connects to 127.0.0.1 (RawSmtpClient's address) on the port bound for [::].
        await using var client = await server.ConnectAsync();

        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
    }
}

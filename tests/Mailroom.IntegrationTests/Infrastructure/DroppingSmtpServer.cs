using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>
/// A scripted SMTP peer that accepts the envelope, answers DATA with 354, reads the first chunk of
/// the message and then resets the connection (RST) without a reply: a remote that dies mid-DATA.
/// No PIPELINING, so the client sends one command at a time. Counts connections and keeps what it read.
/// </summary>
internal sealed class DroppingSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptor;
    private readonly TaskCompletionSource _dropped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _drops;

    public DroppingSmtpServer(IPEndPoint endPoint)
    {
        _listener = new TcpListener(endPoint);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        _acceptor = Task.Run(AcceptAsync);
    }

    /// <summary>How many connections were dropped in the middle of the data.</summary>
    public int Drops => Volatile.Read(ref _drops);

    /// <summary>Completes at the first drop.</summary>
    public Task FirstDrop => _dropped.Task;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptor.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception error) when (error is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var connection = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.Latin1, leaveOpen: true);
            async Task Reply(string text) => await stream.WriteAsync(Encoding.ASCII.GetBytes(text + "\r\n"), timeout.Token);
            await Reply("220 drop.test ESMTP scripted");
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                var verb = line.Length >= 4 ? line[..4].ToUpperInvariant() : line.ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await Reply("250-drop.test\r\n250 8BITMIME");
                        break;
                    case "DATA":
                        await Reply("354 go ahead");

                        // Read the first line of the content, then vanish without a reply.
                        _ = await reader.ReadLineAsync(timeout.Token);
                        client.Client.LingerState = new LingerOption(true, 0);
                        Interlocked.Increment(ref _drops);
                        _dropped.TrySetResult();
                        return;
                    case "QUIT":
                        await Reply("221 bye");
                        return;
                    default:
                        await Reply("250 ok");
                        break;
                }
            }
        }
        catch (Exception error) when (error is IOException or OperationCanceledException or SocketException)
        {
            // The client went away, or the test ended.
        }
    }
}

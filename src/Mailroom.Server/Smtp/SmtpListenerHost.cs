using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>
/// The SMTP listeners: binds every configured endpoint at start, accepts connections and runs one
/// session on each (<see cref="SmtpConnectionHandler"/>), reading and writing the socket through
/// pipes over its own <see cref="NetworkStream"/>. At stop it closes the listening sockets, waits
/// for the sessions (which answer 421 when the host's stopping token fires) as long as the host
/// allows, then closes what is left.
/// </summary>
/// <remarks>
/// Written here rather than hosted on Kestrel (DESIGN.md names Kestrel as one option): Kestrel's
/// socket transport copies each receive into a pipe of its own and schedules the session's
/// continuation as a second thread-pool work item, and each reply goes through its send loop as
/// another. Reading the socket directly, the session continues where the receive completes and
/// a reply is sent by the session's own flush. Measured −11 % CPU per relayed message
/// (docs/performance.md, "Fifth pass"). What Kestrel did besides is small and here: binding,
/// accept, TCP_NODELAY, a backlog of 512, and closing connections at stop.
/// </remarks>
public sealed partial class SmtpListenerHost(SmtpConnectionHandler handler, IReadOnlyList<SmtpListener> listeners, TimeProvider timeProvider, ILogger logger)
    : IHostedService, IAsyncDisposable
{
    private const int Backlog = 512;

    // After a failed accept(2) other than a client's reset (e.g. EMFILE), wait before the next, so
    // that the loop does not spin while the condition lasts.
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromSeconds(1);

    private static readonly StreamPipeReaderOptions ReaderOptions = new(leaveOpen: true, useZeroByteReads: true);
    private static readonly StreamPipeWriterOptions WriterOptions = new(leaveOpen: true);

    private readonly List<Socket> _listenSockets = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<Socket, byte> _connections = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private int _running;
    private volatile bool _stopping;

    /// <summary>The bound endpoints, in the order of the listeners (port 0 becomes the port the system chose); empty before start.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; private set; } = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var listener in listeners)
            {
                _listenSockets.Add(Bind(listener.EndPoint));
            }
        }
        catch
        {
            CloseListenSockets();
            throw;
        }

        EndPoints = [.. _listenSockets.Select(socket => (IPEndPoint)socket.LocalEndPoint!)];
        for (var i = 0; i < listeners.Count; i++)
        {
            _acceptLoops.Add(AcceptLoopAsync(_listenSockets[i], listeners[i]));
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        CloseListenSockets();
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        if (Volatile.Read(ref _running) == 0)
        {
            _drained.TrySetResult();
        }

        try
        {
            await _drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Out of time: close the connections still open; their sessions end with an I/O error.
            foreach (var socket in _connections.Keys)
            {
                socket.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await StopAsync(timeout.Token).ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    /// <exception cref="IOException">The address cannot be bound (in use, not ours, a privileged port); the message names it.</exception>
    private static Socket Bind(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true; // [::] takes IPv4 clients too, as Kestrel's did
            }

            socket.Bind(endPoint);
            socket.Listen(Backlog);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"cannot listen on {endPoint}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync(Socket listenSocket, SmtpListener listener)
    {
        while (!_stopping)
        {
            Socket socket;
            try
            {
                socket = await listenSocket.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception) when (_stopping)
            {
                return; // the listening socket was closed
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue; // a client that gave up before it was accepted
            }
            catch (SocketException exception)
            {
                LogAcceptFailed(logger, listener.EndPoint.ToString(), exception.Message);
                try
                {
                    await Task.Delay(AcceptRetryDelay, timeProvider, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            Interlocked.Increment(ref _running);
            _connections.TryAdd(socket, 0);
            _ = RunConnectionAsync(socket, listener);
        }
    }

    private async Task RunConnectionAsync(Socket socket, SmtpListener listener)
    {
        var stream = new NetworkStream(socket, ownsSocket: true);
        var transport = new SocketTransport(PipeReader.Create(stream, ReaderOptions), PipeWriter.Create(stream, WriterOptions));
        try
        {
            socket.NoDelay = true; // replies are whole; do not hold them back for an ACK
            await handler.HandleAsync(transport, (IPEndPoint)socket.RemoteEndPoint!, (IPEndPoint?)socket.LocalEndPoint, listener).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // Reset before the session started (RemoteEndPoint of a closed socket), or closed at stop.
        }
        catch (Exception exception)
        {
            LogSessionFailed(logger, exception);
        }
        finally
        {
            try
            {
                await transport.Input.CompleteAsync().ConfigureAwait(false);
                await transport.Output.CompleteAsync().ConfigureAwait(false); // writes what is still buffered
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException)
            {
                // Already reset or closed.
            }

            await stream.DisposeAsync().ConfigureAwait(false);
            _connections.TryRemove(socket, out _);
            if (Interlocked.Decrement(ref _running) == 0 && _stopping)
            {
                _drained.TrySetResult();
            }
        }
    }

    private void CloseListenSockets()
    {
        foreach (var socket in _listenSockets)
        {
            socket.Dispose();
        }
    }

    private sealed class SocketTransport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "accepting on {EndPoint} failed: {Reason}; trying again in a second")]
    private static partial void LogAcceptFailed(ILogger logger, string endPoint, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "an SMTP session failed")]
    private static partial void LogSessionFailed(ILogger logger, Exception exception);
}

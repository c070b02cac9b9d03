using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>
/// Runs one SMTP session per accepted connection (accepted by <see cref="SmtpListenerHost"/>), and
/// refuses connections over the limit with 421.
/// </summary>
public sealed partial class SmtpConnectionHandler(SmtpServerContext server, CancellationToken shutdown)
{
    private int _active;

    /// <param name="transport">The connection's byte streams.</param>
    /// <param name="remote">The client's address and port.</param>
    /// <param name="local">The address the client connected to, when known.</param>
    /// <param name="listener">The listener that accepted the connection.</param>
    public async Task HandleAsync(IDuplexPipe transport, IPEndPoint remote, IPEndPoint? local, SmtpListener listener)
    {
        var client = Normalize(remote);
        if (Interlocked.Increment(ref _active) > server.Options.Limits.Connections)
        {
            try
            {
                LogTooManyConnections(server.Logger, client.ToString(), server.Options.Limits.Connections);
                await transport.Output.WriteAsync(Protocol.SmtpReplies.TooManyConnections.Wire.ToArray());
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }

            return;
        }

        try
        {
            await using var session = new SmtpSession(server, listener, transport, client, shutdown, local?.Address);
            await session.RunAsync();
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    /// <summary>An IPv4 client on a dual-stack socket appears as ::ffff:a.b.c.d; trusted networks and logs want a.b.c.d.</summary>
    private static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    [LoggerMessage(Level = LogLevel.Warning, Message = "connection from {Client} refused: more than {Limit} connections")]
    private static partial void LogTooManyConnections(ILogger logger, string client, int limit);
}

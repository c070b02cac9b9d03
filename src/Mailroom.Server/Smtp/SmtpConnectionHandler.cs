using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>
/// Runs one SMTP session per accepted connection (hosted on Kestrel's socket transport, see
/// <see cref="SmtpKestrelExtensions"/>), and refuses connections over the limit with 421.
/// </summary>
public sealed partial class SmtpConnectionHandler(SmtpServerContext server, CancellationToken shutdown)
{
    private int _active;

    public async Task HandleAsync(ConnectionContext connection, SmtpListener listener)
    {
        var client = Normalize(connection.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0));
        if (Interlocked.Increment(ref _active) > server.Options.Limits.Connections)
        {
            try
            {
                LogTooManyConnections(server.Logger, client.ToString(), server.Options.Limits.Connections);
                await connection.Transport.Output.WriteAsync(Protocol.SmtpReplies.TooManyConnections.Wire.ToArray());
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }

            return;
        }

        try
        {
            await using var session = new SmtpSession(server, listener, connection.Transport, client, shutdown, (connection.LocalEndPoint as IPEndPoint)?.Address);
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

using System.Net.Sockets;
using System.Security.Cryptography;
using Mailroom.Configuration;
using Mailroom.Hosting;

namespace Mailroom;

/// <summary>`mailroom serve`: runs the server until Ctrl+C or SIGTERM.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(MailroomConfiguration configuration, string? configPath, CancellationToken cancellationToken)
    {
        await using var server = MailroomServer.Create(configuration, configPath, Console.Out);
        try
        {
            await server.StartAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or SocketException or UnauthorizedAccessException or CryptographicException or InvalidOperationException)
        {
            // A port in use, a data_dir we may not write, an unreadable key: say so plainly and stop.
            await Console.Error.WriteLineAsync($"mailroom: cannot start: {exception.Message}");
            return 1;
        }

        await server.WaitForShutdownAsync(cancellationToken);
        return 0;
    }
}

using Mailroom.Configuration;
using Mailroom.Hosting;

namespace Mailroom;

/// <summary>`mailroom serve`: runs the server until Ctrl+C or SIGTERM.</summary>
internal static class ServeCommand
{
    public static async Task<int> RunAsync(MailroomConfiguration configuration, string? configPath, CancellationToken cancellationToken)
    {
        await using var server = MailroomServer.Create(configuration, configPath, Console.Out);
        await server.StartAsync(cancellationToken);
        await server.WaitForShutdownAsync(cancellationToken);
        return 0;
    }
}

using Mailroom.Configuration;

namespace Mailroom;

// Placeholder: replaced by the hosting work.
internal static class ServeCommand
{
    public static Task<int> RunAsync(MailroomConfiguration configuration, string? configPath, CancellationToken cancellationToken)
    {
        Console.Error.WriteLine("serve: not wired yet");
        return Task.FromResult(1);
    }
}

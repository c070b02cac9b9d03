using Mailroom.Cli;

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // First Ctrl+C asks for a graceful stop; the process ends when the command returns.
    e.Cancel = true;
    stopping.Cancel();
};

return await CommandLine.RunAsync(args, Console.In, Console.Out, Console.Error, cancellationToken: stopping.Token);

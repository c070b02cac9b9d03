using System.Reflection;
using System.Text;
using Mailroom.Configuration;
using Mailroom.Server.Users;

namespace Mailroom.Cli;

/// <summary>The `mailroom` commands. Exit codes: 0 done, 1 failed, 2 bad usage.</summary>
internal static class CommandLine
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int Usage = 2;

    private const string ConfigEnvironmentVariable = "MAILROOM_CONFIG";

    public const string UsageText = """
        usage: mailroom COMMAND [--config FILE]

        commands:
          serve                               run the mail server
          config check                        check the configuration file, report every error
          users add ADDRESS [--password-stdin] add a user or change a password
          users passwd ADDRESS [--password-stdin]
                                              change the password of an existing user
          users remove ADDRESS                remove a user
          users list                          list the users
          sendmail [-t] [-i] [-f SENDER] [-F NAME] [RECIPIENT...]
                                              send a message read on standard input
                                              through the running server (sendmail(8))
          dkim keygen --domain D --selector S [--algorithm rsa|ed25519]
                                              make a DKIM key, print its DNS record
          version                             print the version
          help                                print this text

        --config FILE   the configuration file (default: $MAILROOM_CONFIG; neither: built-in defaults)
        """;

    /// <summary>Runs one command.</summary>
    /// <param name="promptPassword">Reads a password without echo, given the prompt; null when there is no terminal.
    /// Defaults to the console.</param>
    public static async Task<int> RunAsync(
        string[] args,
        TextReader stdin,
        TextWriter stdout,
        TextWriter stderr,
        Func<string, string?>? promptPassword = null,
        CancellationToken cancellationToken = default)
    {
        if (args is ["sendmail", ..])
        {
            // sendmail's own option syntax (-t, -f addr, -oi, ...): parsed by the command itself.
            return await SendmailCommand.RunAsync(args[1..], stdin, stdout, stderr, cancellationToken);
        }

        if (args is ["dkim", ..])
        {
            return await DkimCommand.RunAsync(args[1..], stdout, stderr, cancellationToken);
        }

        var words = new List<string>();
        string? configPath = null;
        var passwordStdin = false;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--config")
            {
                if (i + 1 >= args.Length)
                {
                    return UsageError(stderr, "--config needs a file");
                }

                configPath = args[++i];
            }
            else if (arg.StartsWith("--config=", StringComparison.Ordinal))
            {
                configPath = arg["--config=".Length..];
            }
            else if (arg == "--password-stdin")
            {
                passwordStdin = true;
            }
            else if (arg is "--help" or "-h")
            {
                words.Insert(0, "help");
            }
            else if (arg.StartsWith('-') && arg.Length > 1)
            {
                return UsageError(stderr, $"unknown option {arg}");
            }
            else
            {
                words.Add(arg);
            }
        }

        if (configPath is null && Environment.GetEnvironmentVariable(ConfigEnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            configPath = fromEnvironment;
        }

        if (passwordStdin && words is not ["users", "add" or "passwd", _])
        {
            return UsageError(stderr, "--password-stdin goes with users add or users passwd");
        }

        switch (words)
        {
            case ["help", ..]:
                await stdout.WriteLineAsync(UsageText.AsMemory(), cancellationToken);
                return Success;
            case ["version"]:
                await stdout.WriteLineAsync($"mailroom {Version()}".AsMemory(), cancellationToken);
                return Success;
            case ["serve"]:
                return Load(configPath, stderr) is { } configuration
                    ? await ServeCommand.RunAsync(configuration, configPath, cancellationToken)
                    : Failure;
            case ["config", "check"]:
                return await CheckAsync(configPath, stdout, stderr, cancellationToken);
            case ["users", "add", var address]:
                return await AddUserAsync(configPath, address, passwordStdin, mustExist: false, stdin, stdout, stderr, promptPassword ?? ConsolePassword, cancellationToken);
            case ["users", "passwd", var address]:
                return await AddUserAsync(configPath, address, passwordStdin, mustExist: true, stdin, stdout, stderr, promptPassword ?? ConsolePassword, cancellationToken);
            case ["users", "remove", var address]:
                return Users(configPath, stdout, stderr, (configuration, store) =>
                {
                    WarnIfNotLocal(configuration, address, stderr);
                    if (!store.Remove(address))
                    {
                        stderr.WriteLine($"no such user: {address}");
                        return Failure;
                    }

                    stdout.WriteLine($"removed {address}");
                    return Success;
                });
            case ["users", "list"]:
                return Users(configPath, stdout, stderr, (_, store) =>
                {
                    foreach (var user in store.List())
                    {
                        stdout.WriteLine(user);
                    }

                    return Success;
                });
            case []:
                return UsageError(stderr, "no command");
            default:
                return UsageError(stderr, $"unknown command: {string.Join(' ', words)}");
        }
    }

    private static async Task<int> CheckAsync(string? configPath, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (Load(configPath, stderr) is not { } configuration)
        {
            return Failure;
        }

        var summary = new StringBuilder()
            .AppendLine($"configuration OK: {configPath ?? "(no file, defaults)"}")
            .AppendLine($"  hostname       {configuration.Hostname}")
            .AppendLine($"  data_dir       {configuration.DataDirectory}");
        foreach (var listener in configuration.Listeners)
        {
            summary.AppendLine($"  listen         {listener.Role.ToString().ToLowerInvariant()} {listener.Address}");
        }

        summary
            .AppendLine($"  local domains  {string.Join(", ", configuration.LocalDomains)}")
            .AppendLine($"  aliases        {configuration.Aliases.Count}")
            .AppendLine($"  tls            {configuration.Tls.CertificatePath ?? "self-signed, generated in data_dir/tls"}");
        await stdout.WriteAsync(summary.ToString().AsMemory(), cancellationToken);
        return Success;
    }

    private static async Task<int> AddUserAsync(
        string? configPath,
        string address,
        bool passwordStdin,
        bool mustExist,
        TextReader stdin,
        TextWriter stdout,
        TextWriter stderr,
        Func<string, string?> promptPassword,
        CancellationToken cancellationToken)
    {
        if (Load(configPath, stderr) is not { } configuration)
        {
            return Failure;
        }

        if (!AddressSyntax.TryNormalizeAddress(address, out var normalized))
        {
            await stderr.WriteLineAsync($"not a valid address: {address}".AsMemory(), cancellationToken);
            return Failure;
        }

        WarnIfNotLocal(configuration, normalized, stderr);
        string? password;
        if (passwordStdin)
        {
            password = await stdin.ReadLineAsync(cancellationToken);
        }
        else
        {
            password = promptPassword("password: ");
            if (password is not null && promptPassword("again: ") != password)
            {
                await stderr.WriteLineAsync("the passwords differ".AsMemory(), cancellationToken);
                return Failure;
            }
        }

        if (string.IsNullOrEmpty(password))
        {
            await stderr.WriteLineAsync((password is null && !passwordStdin ? "no terminal to ask for a password: use --password-stdin" : "empty password").AsMemory(), cancellationToken);
            return Failure;
        }

        return Users(configPath, stdout, stderr, (_, store) =>
        {
            var existed = store.Contains(normalized);
            if (mustExist && !existed)
            {
                stderr.WriteLine($"no such user: {normalized} (users add creates one)");
                return Failure;
            }

            store.Add(normalized, password);
            stdout.WriteLine(existed ? $"changed the password of {normalized}" : $"added {normalized}");
            return Success;
        }, configuration);
    }

    private static int Users(
        string? configPath,
        TextWriter stdout,
        TextWriter stderr,
        Func<MailroomConfiguration, UserStore, int> action,
        MailroomConfiguration? configuration = null)
    {
        configuration ??= Load(configPath, stderr);
        if (configuration is null)
        {
            return Failure;
        }

        try
        {
            return action(configuration, new UserStore(configuration.UsersFile, TimeProvider.System));
        }
        catch (Exception error) when (error is UsersFileException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine(error.Message);
            return Failure;
        }
    }

    private static MailroomConfiguration? Load(string? configPath, TextWriter stderr)
    {
        var result = ConfigurationLoader.Load(configPath);
        foreach (var error in result.Errors)
        {
            stderr.WriteLine(error.ToString());
        }

        return result.Configuration;
    }

    private static void WarnIfNotLocal(MailroomConfiguration configuration, string address, TextWriter stderr)
    {
        if (AddressSyntax.TrySplit(address, out _, out var domain) && !configuration.LocalDomains.Contains(domain, StringComparer.OrdinalIgnoreCase))
        {
            stderr.WriteLine($"warning: {domain} is not a local domain (local domains: {string.Join(", ", configuration.LocalDomains)})");
        }
    }

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"mailroom: {message}");
        stderr.WriteLine(UsageText);
        return Usage;
    }

    private static string Version()
    {
        var version = typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        // The SDK appends "+<commit>" when it knows the source revision.
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }

    // Reads a line from the terminal without echo; null when input is not a terminal.
    private static string? ConsolePassword(string prompt)
    {
        if (Console.IsInputRedirected)
        {
            return null;
        }

        Console.Error.Write(prompt);
        var password = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return password.ToString();
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (password.Length > 0)
                {
                    password.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                password.Append(key.KeyChar);
            }
        }
    }
}

using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>
/// The real <c>mailroom</c> executable, as a user runs it: <c>dotnet mailroom.dll serve --config FILE</c>
/// with a configuration in a fresh temporary folder (hostname mx.example.test, data_dir inside the
/// folder, smtp/submission/submissions on 127.0.0.1 with ports chosen by the system, local domain
/// example.test; <see cref="MailroomProcessOptions"/> changes these). The ports are learnt from the "listening:" log lines. Dispose kills the process
/// by its PID and deletes the folder.
/// </summary>
internal sealed partial class MailroomProcess : IAsyncDisposable
{
    public const string Hostname = "mx.example.test";
    public const string LocalDomain = "example.test";

    /// <summary>The bound of every wait on the server.</summary>
    public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(30);

    private Process? _process;
    private Task _readers = Task.CompletedTask;

    private MailroomProcess(string folder)
    {
        Folder = folder;
        ConfigPath = Path.Combine(folder, "mailroom.toml");
        DataDirectory = Path.Combine(folder, "data");
    }

    public string Folder { get; }

    public string ConfigPath { get; }

    public string DataDirectory { get; }

    public string MailRoot => Path.Combine(DataDirectory, "mail");

    public string Spool => Path.Combine(DataDirectory, "queue");

    public ServerLog Log { get; } = new();

    public int SmtpPort { get; private set; }

    /// <summary>The address the listeners are bound to (127.0.0.1 unless the options chose another).</summary>
    public System.Net.IPAddress ListenAddress { get; private set; } = System.Net.IPAddress.Loopback;

    public int SubmissionPort { get; private set; }

    public int SubmissionsPort { get; private set; }

    public int ProcessId => _process?.Id ?? throw new InvalidOperationException("not started");

    /// <summary>Writes the configuration, adds the users (before the start) and starts the server.</summary>
    /// <param name="extraToml">Appended to the configuration as it is (top-level keys must come first: use tables).</param>
    public static Task<MailroomProcess> StartAsync(string extraToml = "", params string[] users) =>
        StartAsync(new MailroomProcessOptions { ExtraToml = extraToml, Users = users });

    /// <summary>Writes the configuration from <paramref name="options"/>, adds the users (before the start) and starts the server.</summary>
    public static async Task<MailroomProcess> StartAsync(MailroomProcessOptions options)
    {
        var folder = Directory.CreateTempSubdirectory("mailroom-it-").FullName;
        var server = new MailroomProcess(folder);
        try
        {
            var domains = string.Join(", ", options.LocalDomains.Select(domain => $"\"{domain}\""));
            await File.WriteAllTextAsync(server.ConfigPath, $"""
                hostname = "{options.Hostname}"
                data_dir = "{server.DataDirectory}"

                [[listen]]
                role = "smtp"
                address = "{options.ListenAddress}:{options.SmtpPort}"

                [[listen]]
                role = "submission"
                address = "{options.ListenAddress}:0"

                [[listen]]
                role = "submissions"
                address = "{options.ListenAddress}:0"

                [local]
                domains = [{domains}]

                [policy]
                {options.Policy}

                [authentication]
                {options.Authentication}

                {(options.ExtraToml.Contains("[relay]", StringComparison.Ordinal) ? "" : "[relay]\ntrusted_networks = []")}

                {options.ExtraToml}
                """);
            foreach (var user in options.Users)
            {
                await server.AddUserAsync(user);
            }

            if (options.BeforeLaunch is { } prepare)
            {
                await prepare(server);
            }

            await server.LaunchAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs another <c>mailroom</c> command with this configuration (a separate process, with a timeout).</summary>
    public Task<ProcessResult> RunCommandAsync(string? standardInput, params string[] arguments) =>
        RunMailroomAsync(standardInput, [.. arguments, "--config", ConfigPath]);

    /// <summary><c>mailroom users add ADDRESS --password-stdin</c>; fails unless it exits 0.</summary>
    public async Task AddUserAsync(string address, string password = "correct horse battery staple")
    {
        var result = await RunCommandAsync(password + "\n", "users", "add", address, "--password-stdin");
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"users add {address} failed\n{result}");
        }
    }

    /// <summary>Runs <c>dotnet mailroom.dll ARGS</c> with no configuration implied.</summary>
    public static Task<ProcessResult> RunMailroomAsync(string? standardInput, params string[] arguments) =>
        ProcessRunner.RunAsync("dotnet", [Paths.MailroomDll, .. arguments], standardInput);

    /// <summary>SIGKILL, as a crash or power cut looks to the process: no shutdown code runs.</summary>
    public async Task Kill9Async()
    {
        var process = _process ?? throw new InvalidOperationException("not started");
        process.Kill(); // On Unix Process.Kill sends SIGKILL.
        await StopReadingAsync(process);
    }

    /// <summary>Starts a new server process on the same configuration and data_dir; the ports are learnt again.</summary>
    public async Task RestartAsync()
    {
        if (_process is { } previous)
        {
            if (!previous.HasExited)
            {
                ProcessRunner.Kill(previous);
            }

            await StopReadingAsync(previous);
        }

        await LaunchAsync();
    }

    /// <summary>The Maildir of a local address: {data_dir}/mail/{domain}/{local-part}.</summary>
    public string MaildirOf(string address)
    {
        var at = address.LastIndexOf('@');
        return Path.Combine(MailRoot, address[(at + 1)..].ToLowerInvariant(), address[..at]);
    }

    /// <summary>The delivered files of a mailbox (new/ and cur/), sorted by name; none when the Maildir does not exist yet.</summary>
    public IReadOnlyList<string> MaildirFiles(string address)
    {
        var maildir = MaildirOf(address);
        return [.. new[] { "new", "cur" }
            .Select(sub => Path.Combine(maildir, sub))
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFiles)
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>Waits until the mailbox holds at least <paramref name="count"/> files, re-checking at each "status=sent" log line.</summary>
    public async Task<IReadOnlyList<string>> WaitForMaildirFilesAsync(string address, int count, TimeSpan? timeout = null)
    {
        await Log.WaitUntilAsync(
            () => MaildirFiles(address).Count >= count,
            line => line.Contains("status=sent", StringComparison.Ordinal),
            $"{count} file(s) in the Maildir of {address} (have {MaildirFiles(address).Count})",
            timeout);
        return MaildirFiles(address);
    }

    /// <summary>Waits for the local delivery of a queued message to a recipient ("ID: to=&lt;addr&gt;, ... status=sent").</summary>
    public Task<string> WaitForDeliveryAsync(string queueId, string address, TimeSpan? timeout = null) =>
        Log.WaitForAsync(
            line => line.Contains($"{queueId}: to=<{address}>", StringComparison.Ordinal) && line.Contains("status=sent", StringComparison.Ordinal),
            $"\"{queueId}: to=<{address}> ... status=sent\"",
            timeout: timeout);

    /// <summary>The Maildir file of a delivered message (named after its queue ID).</summary>
    public async Task<string> WaitForMaildirFileAsync(string queueId, string address)
    {
        await WaitForDeliveryAsync(queueId, address);
        var files = MaildirFiles(address).Where(file => Path.GetFileName(file).Contains($".M{queueId}R", StringComparison.Ordinal)).ToList();
        return files.Count == 1
            ? files[0]
            : throw new InvalidOperationException($"expected one Maildir file for {queueId} in {MaildirOf(address)}, found {files.Count}\n--- mailroom log ---\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            ProcessRunner.Kill(process);
            await StopReadingAsync(process);
            process.Dispose();
            _process = null;
        }

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // A leftover temp folder is not worth failing a test for.
        }
    }

    private async Task LaunchAsync()
    {
        var from = Log.Count;
        var startInfo = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Folder,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in new[] { Paths.MailroomDll, "serve", "--config", ConfigPath })
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment.Remove("MAILROOM_CONFIG");
        Log.Add($"=== test: starting {startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}");
        Log.Started();
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start mailroom");
        _process = process;
        _readers = Task.WhenAll(ReadLinesAsync(process.StandardOutput, ""), ReadLinesAsync(process.StandardError, "stderr: "))
            .ContinueWith(_ => Log.Ended($"the server (pid {process.Id}) ended its output"), TaskScheduler.Default);

        var ports = new Dictionary<string, int>();
        foreach (var role in new[] { "smtp", "submission", "submissions" })
        {
            var line = await Log.WaitForAsync(line => ListeningLine().Match(line) is { Success: true } match && match.Groups["role"].Value == role, $"\"listening: {role} on ADDRESS:PORT\"", from);
            var listening = ListeningLine().Match(line);
            ports[role] = int.Parse(listening.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture);
            ListenAddress = System.Net.IPAddress.Parse(listening.Groups["address"].Value);
        }

        (SmtpPort, SubmissionPort, SubmissionsPort) = (ports["smtp"], ports["submission"], ports["submissions"]);
    }

    private async Task ReadLinesAsync(StreamReader reader, string prefix)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            Log.Add(prefix + line);
        }
    }

    private async Task StopReadingAsync(Process process)
    {
        try
        {
            await process.WaitForExitAsync().WaitAsync(WaitTimeout);
            await _readers.WaitAsync(WaitTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"mailroom (pid {process.Id}) did not exit within {WaitTimeout.TotalSeconds} s after the kill\n--- mailroom log ---\n{Log}");
        }

        Log.Add($"=== test: pid {process.Id} exited with {process.ExitCode}");
    }

    [GeneratedRegex(@"listening: (?<role>smtp|submission|submissions) on (?<address>[0-9.]+):(?<port>\d+)$")]
    private static partial Regex ListeningLine();
}

/// <summary>How a <see cref="MailroomProcess"/> is configured; the defaults are the single server most tests use.</summary>
internal sealed record MailroomProcessOptions
{
    public string Hostname { get; init; } = MailroomProcess.Hostname;

    public IReadOnlyList<string> LocalDomains { get; init; } = [MailroomProcess.LocalDomain];

    /// <summary>The IPv4 address every listener binds to (any 127.0.0.x works on Linux without configuration).</summary>
    public string ListenAddress { get; init; } = "127.0.0.1";

    /// <summary>The smtp listener's port; 0 lets the system choose (submission and submissions always do).</summary>
    public int SmtpPort { get; init; }

    /// <summary>Appended to the configuration as it is (use tables: top-level keys are written already).</summary>
    public string ExtraToml { get; init; } = "";

    /// <summary>
    /// The body of the [policy] table. The default turns the checks off (no listener role): the
    /// tests that are not about policy run no DNS server, and the checks would ask the machine's
    /// resolver at every connection. PolicyTests set their own.
    /// </summary>
    public string Policy { get; init; } = "listeners = []";

    /// <summary>
    /// The body of the [authentication] table. The default turns SPF, DKIM and DMARC off, for the
    /// same reason: without a test DNS server they would ask the machine's resolver. The
    /// authentication tests set their own, with dnsmasq.
    /// </summary>
    public string Authentication { get; init; } = "spf_fail = \"off\"\nverify_inbound = false";

    /// <summary>Added with <c>mailroom users add</c> before the start.</summary>
    public IReadOnlyList<string> Users { get; init; } = [];

    /// <summary>
    /// Runs after the configuration is written and the users are added, before the server starts:
    /// for commands that need the configuration (e.g. <c>mailroom dkim keygen</c>) and for lines
    /// appended to it from their output.
    /// </summary>
    public Func<MailroomProcess, Task>? BeforeLaunch { get; init; }
}

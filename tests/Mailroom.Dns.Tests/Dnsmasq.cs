using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Mailroom.Testing;

/// <summary>
/// A real DNS server for tests: Debian's dnsmasq in the foreground on 127.0.0.1 and a free high
/// port (UDP and TCP), answering only from the record arguments it is given (no resolv.conf, no
/// /etc/hosts, no configuration file, no upstream unless an argument names one). Every query is
/// logged to its standard error, which this class reads line by line so a test can wait for a
/// query to have reached the server, or count them. Disposing kills the process by its PID.
/// Integration tests may link this file; it depends on nothing but the BCL.
/// </summary>
/// <example>
/// await using var dns = await Dnsmasq.StartAsync(["--mx-host=example.test,mx1.example.test,10"]);
/// // point the resolver at dns.EndPoint
/// </example>
internal sealed class Dnsmasq : IAsyncDisposable
{
    // How long start-up and a wait for a query may take before the test fails.
    private static readonly TimeSpan s_waitLimit = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Channel<string> _newLines = Channel.CreateUnbounded<string>();
    private readonly Task _reader;

    private Dnsmasq(Process process, int port)
    {
        _process = process;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        _reader = Task.Run(ReadLogAsync);
    }

    /// <summary>Where the server listens: 127.0.0.1 and its port, UDP and TCP.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The dnsmasq process's ID.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Every log line so far.</summary>
    public IReadOnlyList<string> Log
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>
    /// Starts dnsmasq with <paramref name="recordArguments"/> (e.g. <c>--mx-host=…</c>,
    /// <c>--host-record=…</c>, <c>--auth-zone=…</c>) and returns once it has bound its sockets.
    /// </summary>
    public static async Task<Dnsmasq> StartAsync(IEnumerable<string> recordArguments, CancellationToken cancellationToken = default)
    {
        string[] records = [.. recordArguments];
        string lastError = "";

        // A port found free can be taken before dnsmasq binds it: try a few.
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = FreePort();
            Process process = Launch(port, records);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(s_waitLimit);
            var startup = new List<string>();
            try
            {
                while (await process.StandardError.ReadLineAsync(deadline.Token).ConfigureAwait(false) is { } line)
                {
                    startup.Add(line);

                    // dnsmasq creates its listening sockets before it logs "started".
                    if (line.Contains("started, version", StringComparison.Ordinal))
                    {
                        var server = new Dnsmasq(process, port);
                        lock (server._lines)
                        {
                            server._lines.AddRange(startup);
                        }

                        return server;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                Stop(process);
                throw new TimeoutException($"dnsmasq did not start within {s_waitLimit}: {string.Join(" / ", startup)}");
            }

            // Standard error closed: dnsmasq exited (a bad argument, or the port was taken).
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            lastError = $"exit {process.ExitCode}: {string.Join(" / ", startup)}";
            process.Dispose();
            if (!lastError.Contains("in use", StringComparison.OrdinalIgnoreCase))
            {
                break;
            }
        }

        throw new InvalidOperationException($"dnsmasq failed to start: {lastError}");
    }

    /// <summary>How many queries for <paramref name="name"/> of <paramref name="type"/> (e.g. "MX") the server has logged so far.</summary>
    public int CountQueries(string type, string name)
    {
        lock (_lines)
        {
            return _lines.Count(line => IsQuery(line, type, name));
        }
    }

    /// <summary>
    /// Waits until the server has logged at least <paramref name="count"/> queries for
    /// <paramref name="name"/> of <paramref name="type"/>. dnsmasq answers and logs one query at a
    /// time, so once a query's line is seen, the lines of every query answered before it are too.
    /// </summary>
    public async Task WaitForQueriesAsync(string type, string name, int count = 1)
    {
        using var deadline = new CancellationTokenSource(s_waitLimit);
        try
        {
            while (CountQueries(type, name) < count)
            {
                await _newLines.Reader.ReadAsync(deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"dnsmasq logged {CountQueries(type, name)} of {count} {type} queries for {name} within {s_waitLimit}.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"dnsmasq exited after {CountQueries(type, name)} of {count} {type} queries for {name}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop(_process);
        await _process.WaitForExitAsync().ConfigureAwait(false);
        await _reader.ConfigureAwait(false);
        _process.Dispose();
    }

    // "query[MX] example.test from 127.0.0.1", or "auth[MX] …" for a name in an --auth-zone.
    private static bool IsQuery(string line, string type, string name)
        => line.Contains($"query[{type}] {name} from ", StringComparison.OrdinalIgnoreCase)
        || line.Contains($"auth[{type}] {name} from ", StringComparison.OrdinalIgnoreCase);

    private async Task ReadLogAsync()
    {
        while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (_lines)
            {
                _lines.Add(line);
            }

            _newLines.Writer.TryWrite(line);
        }

        _newLines.Writer.TryComplete();
    }

    private static Process Launch(int port, string[] records)
    {
        var start = new ProcessStartInfo(File.Exists("/usr/sbin/dnsmasq") ? "/usr/sbin/dnsmasq" : "dnsmasq")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--pid-file",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            $"--port={port}",
            "--log-queries",
            "--log-facility=-",
        ])
        {
            start.ArgumentList.Add(argument);
        }

        // As root dnsmasq would switch to "nobody"; staying root keeps it simple to kill and log.
        if (Environment.UserName == "root")
        {
            start.ArgumentList.Add("--user=root");
        }

        foreach (string record in records)
        {
            start.ArgumentList.Add(record);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("dnsmasq did not start.");
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            // Process.Kill signals this process's PID only (SIGKILL), never a name.
            process.Kill(entireProcessTree: false);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Mailroom.Tests.Shared;

/// <summary>
/// Postfix's smtp-sink(1) on a loopback address and port of the test's choosing (127.0.0.x, so that
/// several sinks share the one port a sending Mailroom's <c>[delivery] remote_port</c> names),
/// dumping each transaction to a file (-d). Started with the test's options; stopped by its PID on
/// dispose. Shared by the Delivery and integration tests.
/// </summary>
internal sealed class SmtpSink : IAsyncDisposable
{
    private const string Program = "/usr/sbin/smtp-sink";
    private readonly Process _process;
    private readonly bool _ownsDumps;

    private SmtpSink(Process process, IPEndPoint endPoint, string dumpDirectory, bool ownsDumps)
    {
        _process = process;
        EndPoint = endPoint;
        DumpDirectory = dumpDirectory;
        _ownsDumps = ownsDumps;
    }

    public IPEndPoint EndPoint { get; }

    public string DumpDirectory { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts smtp-sink on a free port of 127.0.0.1, dumping into a folder of its own.</summary>
    public static Task<SmtpSink> StartAsync(params string[] options) => StartAsync(new IPEndPoint(IPAddress.Loopback, FreePort()), null, options);

    /// <summary>
    /// Starts smtp-sink on <paramref name="endPoint"/> with <paramref name="options"/> (e.g. <c>-8</c>,
    /// <c>-r RCPT</c>). With <paramref name="dumpDirectory"/> the dumps go there and survive the sink
    /// (for a sink restarted with other options on the same address); otherwise into a folder of its own.
    /// </summary>
    public static async Task<SmtpSink> StartAsync(IPEndPoint endPoint, string? dumpDirectory, params string[] options)
    {
        var ownsDumps = dumpDirectory is null;
        var dumps = dumpDirectory ?? Path.Combine(Path.GetTempPath(), "mailroom-it-smtp-sink-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dumps);
        var start = new ProcessStartInfo(Program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Environment.IsPrivilegedProcess)
        {
            // smtp-sink refuses to run as root without -u; the dump folder must be writable by that user.
            File.SetUnixFileMode(dumps, (UnixFileMode)0x1FF);
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add("nobody");
        }

        start.ArgumentList.Add("-d");
        start.ArgumentList.Add(dumps + "/%M.");
        foreach (var option in options)
        {
            start.ArgumentList.Add(option);
        }

        start.ArgumentList.Add($"{endPoint.Address}:{endPoint.Port}");
        start.ArgumentList.Add("10");
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start smtp-sink");
        var sink = new SmtpSink(process, endPoint, dumps, ownsDumps);
        try
        {
            await sink.WaitUntilListeningAsync();
        }
        catch
        {
            await sink.DisposeAsync();
            throw;
        }

        return sink;
    }

    /// <summary>The dump files so far, oldest name first.</summary>
    public IReadOnlyList<string> DumpFiles() =>
        Directory.Exists(DumpDirectory) ? [.. Directory.EnumerateFiles(DumpDirectory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)] : [];

    /// <summary>The transactions dumped so far (smtp-sink writes LF line ends).</summary>
    public IReadOnlyList<string> Dumps() => [.. DumpFiles().Select(File.ReadAllText)];

    /// <summary>Stops the process (SIGKILL by its PID) and waits for it; the dumps stay.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        if (_ownsDumps)
        {
            Directory.Delete(DumpDirectory, recursive: true);
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>smtp-sink prints nothing when ready: probe its port, a bounded number of times.</summary>
    private async Task WaitUntilListeningAsync()
    {
        for (var attempt = 0; attempt < 500; attempt++)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"smtp-sink on {EndPoint} exited: " + await _process.StandardError.ReadToEndAsync());
            }

            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(EndPoint);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(10); // readiness probe backoff only, bounded by the attempt count
            }
        }

        throw new TimeoutException("smtp-sink did not start listening on " + EndPoint);
    }
}

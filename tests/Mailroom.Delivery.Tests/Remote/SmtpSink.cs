using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>
/// Postfix's smtp-sink(1) on 127.0.0.1, dumping each transaction to a file (-d). Started with the
/// test's options, stopped by its PID on dispose.
/// </summary>
internal sealed class SmtpSink : IAsyncDisposable
{
    private const string Program = "/usr/sbin/smtp-sink";
    private readonly Process _process;

    private SmtpSink(Process process, int port, string dumpDirectory)
    {
        _process = process;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        DumpDirectory = dumpDirectory;
    }

    public IPEndPoint EndPoint { get; }

    public string DumpDirectory { get; }

    public static bool IsInstalled => File.Exists(Program);

    public static async Task<SmtpSink> StartAsync(params string[] options)
    {
        var dumps = Path.Combine(Path.GetTempPath(), "mailroom-smtp-sink-" + Guid.NewGuid().ToString("N"));
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

        var port = FreePort();
        start.ArgumentList.Add("127.0.0.1:" + port);
        start.ArgumentList.Add("10");
        var process = Process.Start(start)!;
        var sink = new SmtpSink(process, port, dumps);
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

    /// <summary>The transactions dumped so far (smtp-sink writes LF line ends).</summary>
    public IReadOnlyList<string> Dumps() =>
        [.. Directory.EnumerateFiles(DumpDirectory, "*", SearchOption.AllDirectories).Order().Select(File.ReadAllText)];

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        Directory.Delete(DumpDirectory, recursive: true);
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
        for (var attempt = 0; attempt < 200; attempt++)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("smtp-sink exited: " + await _process.StandardError.ReadToEndAsync());
            }

            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(EndPoint);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(10); // readiness probe backoff only
            }
        }

        throw new TimeoutException("smtp-sink did not start listening on " + EndPoint);
    }
}

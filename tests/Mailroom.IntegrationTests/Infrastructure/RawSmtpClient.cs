using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>One SMTP reply: the code and its lines' texts (after "NNN-" / "NNN ").</summary>
internal sealed record SmtpResponse(int Code, IReadOnlyList<string> Lines)
{
    public string Text => string.Join('\n', Lines);

    public override string ToString() => string.Join("\n", Lines.Select(line => $"{Code} {line}"));
}

/// <summary>
/// A plain TCP SMTP client that sends exactly the bytes it is given (no dot-stuffing, no line-ending
/// repair), for the tests that need byte control. Every read is bounded by a timeout. Loopback only.
/// </summary>
internal sealed class RawSmtpClient : IAsyncDisposable
{
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(20);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[8192];
    private int _start;
    private int _end;

    private RawSmtpClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>The transcript, for failure messages.</summary>
    public StringBuilder Transcript { get; } = new();

    /// <summary>Connects and reads the greeting (which must be 220).</summary>
    public static async Task<RawSmtpClient> ConnectAsync(int port) => await ConnectAsync(IPAddress.Loopback, port);

    /// <summary>Connects to another loopback address (127.0.0.x) and reads the greeting (which must be 220).</summary>
    public static async Task<RawSmtpClient> ConnectAsync(IPAddress address, int port)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        try
        {
            using var cancellation = new CancellationTokenSource(ReadTimeout);
            await tcp.ConnectAsync(address, port, cancellation.Token);
            var client = new RawSmtpClient(tcp);
            await client.ExpectAsync(220);
            return client;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects from a chosen loopback source address (127.0.0.x: the server sees that client
    /// address); reads the greeting and checks its code unless <paramref name="expectedGreeting"/> is null.
    /// </summary>
    public static async Task<RawSmtpClient> ConnectFromAsync(IPAddress source, IPAddress address, int port, int? expectedGreeting = 220)
    {
        var tcp = new TcpClient(new IPEndPoint(source, 0)) { NoDelay = true };
        try
        {
            using var cancellation = new CancellationTokenSource(ReadTimeout);
            await tcp.ConnectAsync(address, port, cancellation.Token);
            var client = new RawSmtpClient(tcp);
            if (expectedGreeting is { } code)
            {
                await client.ExpectAsync(code);
            }

            return client;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        Transcript.Append("C: ").Append(Encoding.Latin1.GetString(bytes).Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n\n", StringComparison.Ordinal)).Append('\n');
        using var cancellation = new CancellationTokenSource(ReadTimeout);
        await _stream.WriteAsync(bytes, cancellation.Token);
    }

    /// <summary>Sends one command line (CRLF added) and reads its reply.</summary>
    public async Task<SmtpResponse> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadResponseAsync();
    }

    /// <summary>Sends a command and fails unless the reply has the expected code.</summary>
    public async Task<SmtpResponse> CommandAsync(string line, int expected)
    {
        await SendAsync(line + "\r\n");
        return await ExpectAsync(expected);
    }

    public async Task<SmtpResponse> ExpectAsync(int expected)
    {
        var response = await ReadResponseAsync();
        return response.Code == expected
            ? response
            : throw new InvalidOperationException($"expected {expected}, got {response.Code}\n--- transcript ---\n{Transcript}");
    }

    /// <summary>Reads one (possibly multi-line) reply; null when the server closed the connection.</summary>
    public async Task<SmtpResponse?> TryReadResponseAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null)
            {
                return null;
            }

            Transcript.Append("S: ").Append(line).Append('\n');
            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var code))
            {
                throw new InvalidDataException($"not an SMTP reply line: {line}\n--- transcript ---\n{Transcript}");
            }

            lines.Add(line.Length > 4 ? line[4..] : "");
            if (line.Length == 3 || line[3] == ' ')
            {
                return new SmtpResponse(code, lines);
            }
        }
    }

    public async Task<SmtpResponse> ReadResponseAsync() =>
        await TryReadResponseAsync() ?? throw new IOException($"the server closed the connection\n--- transcript ---\n{Transcript}");

    /// <summary>EHLO, MAIL, RCPT, DATA, the content (sent as it is: it must be dot-stuffed and end with CRLF.CRLF), and the final reply.</summary>
    public async Task<SmtpResponse> SendMessageAsync(string from, string to, byte[] content, string mailParameters = "")
    {
        await CommandAsync($"MAIL FROM:<{from}>{mailParameters}", 250);
        await CommandAsync($"RCPT TO:<{to}>", 250);
        await CommandAsync("DATA", 354);
        await SendAsync(content);
        return await ReadResponseAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }

    private async Task<string?> ReadLineAsync()
    {
        var line = new List<byte>();
        while (true)
        {
            for (; _start < _end; _start++)
            {
                var b = _buffer[_start];
                if (b == (byte)'\n')
                {
                    _start++;
                    if (line.Count > 0 && line[^1] == (byte)'\r')
                    {
                        line.RemoveAt(line.Count - 1);
                    }

                    return Encoding.UTF8.GetString([.. line]);
                }

                line.Add(b);
            }

            using var cancellation = new CancellationTokenSource(ReadTimeout);
            int read;
            try
            {
                read = await _stream.ReadAsync(_buffer, cancellation.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no reply within {ReadTimeout.TotalSeconds} s\n--- transcript ---\n{Transcript}");
            }
            catch (IOException)
            {
                return null; // reset by the server
            }

            if (read == 0)
            {
                return null;
            }

            (_start, _end) = (0, read);
        }
    }
}

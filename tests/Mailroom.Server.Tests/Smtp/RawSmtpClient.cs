using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>One reply: its code and the text of each line (without the code and separator).</summary>
internal sealed partial record SmtpTestReply(int Code, IReadOnlyList<string> Lines)
{
    /// <summary>The RFC 3463 enhanced status code at the start of the first line, or null.</summary>
    public string? Status => StatusPattern().Match(Lines[0]) is { Success: true } match ? match.Value : null;

    /// <summary>"503 5.5.1": the code and the enhanced status code, for one readable assertion.</summary>
    public string CodeAndStatus => Status is null ? Code.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Code} {Status}";

    public override string ToString() => string.Join(" | ", Lines.Select(line => $"{Code} {line}"));

    [GeneratedRegex(@"^[245]\.\d{1,3}\.\d{1,3}(?= |$)")]
    private static partial Regex StatusPattern();
}

/// <summary>
/// A deliberately dumb SMTP client over a socket: sends exactly the bytes it is given and reads
/// replies (multi-line aware). Every read is bounded by <see cref="SmtpServerFixture.WaitLimit"/>.
/// </summary>
internal sealed class RawSmtpClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private Stream _stream;
    private int _start;
    private int _end;

    private RawSmtpClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public SslStream? Tls => _stream as SslStream;

    public static async Task<RawSmtpClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(SmtpServerFixture.WaitLimit);
        await tcp.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return new RawSmtpClient(tcp);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(SmtpServerFixture.WaitLimit);
        await _stream.WriteAsync(bytes, timeout.Token);
        await _stream.FlushAsync(timeout.Token);
    }

    /// <summary>Sends one command line (CRLF added) and reads its reply.</summary>
    public async Task<SmtpTestReply> CommandAsync(string line)
    {
        await SendAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    public async Task<SmtpTestReply> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync() ?? throw new IOException("connection closed before a complete reply; got: " + string.Join(" | ", lines));
            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), out var code) || (line.Length > 3 && line[3] != ' ' && line[3] != '-'))
            {
                throw new InvalidDataException("not a reply line: " + line);
            }

            lines.Add(line.Length > 4 ? line[4..] : string.Empty);
            if (line.Length == 3 || line[3] == ' ')
            {
                return new SmtpTestReply(code, lines);
            }
        }
    }

    /// <summary>EHLO, MAIL FROM and one RCPT TO per recipient, each checked to be accepted.</summary>
    public async Task BeginMailAsync(string sender, params string[] recipients)
    {
        Assert.Equal(250, (await CommandAsync("EHLO client.example")).Code);
        Assert.Equal("250 2.1.0", (await CommandAsync($"MAIL FROM:<{sender}>")).CodeAndStatus);
        foreach (var recipient in recipients)
        {
            Assert.Equal("250 2.1.5", (await CommandAsync($"RCPT TO:<{recipient}>")).CodeAndStatus);
        }
    }

    /// <summary>EHLO, then AUTH PLAIN with an initial response (RFC 4616); returns the AUTH reply.</summary>
    public async Task<SmtpTestReply> AuthPlainAsync(string user, string password, string ehlo = "client.example")
    {
        Assert.Equal(250, (await CommandAsync("EHLO " + ehlo)).Code);
        return await CommandAsync("AUTH PLAIN " + Base64("\0" + user + "\0" + password));
    }

    /// <summary>STARTTLS (checked), the TLS handshake, then <see cref="AuthPlainAsync"/>.</summary>
    public async Task<SmtpTestReply> StartTlsAndAuthPlainAsync(string user, string password)
    {
        Assert.Equal(250, (await CommandAsync("EHLO client.example")).Code);
        Assert.Equal("220 2.0.0", (await CommandAsync("STARTTLS")).CodeAndStatus);
        await StartTlsAsync();
        return await AuthPlainAsync(user, password);
    }

    public static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    public static string FromBase64(string text) => Encoding.UTF8.GetString(Convert.FromBase64String(text));

    /// <summary>Reads <paramref name="count"/> replies (the answers to a pipelined batch).</summary>
    public async Task<List<SmtpTestReply>> ReadRepliesAsync(int count)
    {
        var replies = new List<SmtpTestReply>();
        for (var i = 0; i < count; i++)
        {
            replies.Add(await ReadReplyAsync());
        }

        return replies;
    }

    /// <summary>True when the server closed the connection (end of stream or reset) with nothing more to read.</summary>
    public async Task<bool> IsClosedByServerAsync()
    {
        if (_start < _end)
        {
            return false;
        }

        try
        {
            return await FillAsync() == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Upgrades to TLS (accepting any certificate). Fails if the server sent plaintext beyond the last reply.</summary>
    public async Task StartTlsAsync()
    {
        if (_start != _end)
        {
            throw new InvalidDataException($"{_end - _start} unread plaintext bytes before the TLS handshake");
        }

        var tls = new SslStream(_stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
        using var timeout = new CancellationTokenSource(SmtpServerFixture.WaitLimit);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = SmtpServerFixture.Hostname }, timeout.Token);
        _stream = tls;
    }

    private async Task<string?> ReadLineAsync()
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var length = newline - _start;
                if (length == 0 || _buffer[newline - 1] != (byte)'\r')
                {
                    throw new InvalidDataException("reply line without CRLF");
                }

                var line = Encoding.UTF8.GetString(_buffer, _start, length - 1);
                _start = newline + 1;
                return line;
            }

            if (await FillAsync() == 0)
            {
                return null;
            }
        }
    }

    private async Task<int> FillAsync()
    {
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new InvalidDataException("reply line too long");
        }

        using var timeout = new CancellationTokenSource(SmtpServerFixture.WaitLimit);
        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), timeout.Token);
        _end += read;
        return read;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}

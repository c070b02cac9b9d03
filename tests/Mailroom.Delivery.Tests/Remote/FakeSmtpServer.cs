using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>
/// A scripted SMTP server on 127.0.0.1 (port 0), one script per connection: the test's script reads the
/// client's commands and sends canned replies, so it can express what smtp-sink cannot (a 421
/// greeting, a drop mid-DATA, STARTTLS with a self-signed certificate, SIZE). Every read is bounded
/// by 10 s so a wrong client fails the test instead of hanging it.
/// </summary>
internal sealed class FakeSmtpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Task _run;

    /// <param name="scripts">One script per connection, in the order the connections arrive.</param>
    public FakeSmtpServer(params Func<FakePeer, Task>[] scripts)
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _run = RunAllAsync(scripts);
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>The script's outcome: await it to surface its assertions.</summary>
    public Task Completion => _run;

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        try
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // The test awaits Completion when it cares about the script's result.
        }
    }

    private async Task RunAllAsync(Func<FakePeer, Task>[] scripts)
    {
        foreach (var script in scripts)
        {
            await RunAsync(script);
        }
    }

    private async Task RunAsync(Func<FakePeer, Task> script)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var client = await _listener.AcceptTcpClientAsync(timeout.Token);
        await using var peer = new FakePeer(client.GetStream());
        await script(peer);
    }

    /// <summary>A self-signed certificate for "mx.test", made with CertificateRequest.</summary>
    public static X509Certificate2 SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=mx.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("mx.test");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null);
    }
}

/// <summary>The server side of one connection, driven by a test script.</summary>
internal sealed class FakePeer : IAsyncDisposable
{
    private readonly byte[] _buffer = new byte[65536];
    private readonly List<byte> _pending = [];
    private Stream _stream;

    public FakePeer(Stream stream) => _stream = stream;

    /// <summary>Every command line received, in order.</summary>
    public List<string> Commands { get; } = [];

    public Task SendAsync(string text) => _stream.WriteAsync(Encoding.UTF8.GetBytes(text)).AsTask();

    /// <summary>Reads one line (without its CRLF); null at the end of the stream.</summary>
    public async Task<string?> ReadLineAsync()
    {
        while (true)
        {
            var index = _pending.IndexOf((byte)'\n');
            if (index >= 0)
            {
                var line = Encoding.UTF8.GetString([.. _pending.Take(index)]).TrimEnd('\r');
                _pending.RemoveRange(0, index + 1);
                Commands.Add(line);
                return line;
            }

            if (!await FillAsync())
            {
                return null;
            }
        }
    }

    /// <summary>Reads a line and asserts it starts with <paramref name="prefix"/>.</summary>
    public async Task<string> ExpectAsync(string prefix)
    {
        var line = await ReadLineAsync();
        Assert.NotNull(line);
        Assert.StartsWith(prefix, line, StringComparison.OrdinalIgnoreCase);
        return line;
    }

    /// <summary>Reads the data up to and including CRLF "." CRLF, exactly as sent.</summary>
    public async Task<byte[]> ReadDataAsync()
    {
        while (true)
        {
            var bytes = _pending.ToArray();
            var end = bytes.AsSpan().IndexOf("\r\n.\r\n"u8);
            if (end >= 0 || bytes.AsSpan().StartsWith(".\r\n"u8))
            {
                var length = end >= 0 ? end + 5 : 3;
                _pending.RemoveRange(0, length);
                return bytes[..length];
            }

            if (!await FillAsync())
            {
                return bytes;
            }
        }
    }

    /// <summary>Reads some data, at most <paramref name="count"/> bytes (to drop the connection mid-DATA).</summary>
    public async Task<int> ReadSomeAsync(int count)
    {
        if (_pending.Count == 0 && !await FillAsync())
        {
            return 0;
        }

        var taken = Math.Min(count, _pending.Count);
        _pending.RemoveRange(0, taken);
        return taken;
    }

    /// <summary>True when the client closed the connection (after QUIT, say).</summary>
    public async Task<bool> AtEndAsync() => _pending.Count == 0 && !await FillAsync();

    /// <summary>Takes over the connection with TLS as the server.</summary>
    public async Task StartTlsAsync(X509Certificate2 certificate)
    {
        Assert.Empty(_pending);
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, timeout.Token);
        _stream = ssl;
    }

    /// <summary>Takes over the connection with TLS, returning false when the client gives up the handshake.</summary>
    public async Task<bool> TryStartTlsAsync(X509Certificate2 certificate)
    {
        try
        {
            await StartTlsAsync(certificate);
            return true;
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    public void Close() => _stream.Dispose();

    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    private async Task<bool> FillAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read;
        try
        {
            read = await _stream.ReadAsync(_buffer, timeout.Token);
        }
        catch (IOException)
        {
            return false;
        }

        _pending.AddRange(_buffer.AsSpan(0, read));
        return read > 0;
    }
}

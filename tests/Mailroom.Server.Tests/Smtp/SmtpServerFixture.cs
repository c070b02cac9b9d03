using System.Net;
using System.Threading.Channels;
using Mailroom.Queue;
using Mailroom.Server.Recipients;
using Mailroom.Server.Sasl;
using Mailroom.Server.Users;
using Mailroom.Server.Smtp;
using Mailroom.Server.Tls;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>
/// The SMTP server in-process, on the listener host the real program runs, on 127.0.0.1 port 0
/// with one listener per role; a real <see cref="FileMessageStore"/> in a temporary folder; a
/// self-signed certificate; a fake clock. Dispose stops the host and deletes the folder.
/// </summary>
internal sealed class SmtpServerFixture : IAsyncDisposable
{
    public const string Hostname = "mx.example.test";
    public const string LocalDomain = "example.test";

    /// <summary>The users of the fixture's users table and their passwords.</summary>
    public const string Alice = "alice@example.test";
    public const string AlicePassword = "alice's secret";
    public const string Bob = "bob@example.test";
    public const string BobPassword = "bob's secret";

    /// <summary>Every wait of a test is bounded by this, so that a bug fails instead of hanging.</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);

    private readonly SmtpListenerHost _host;
    private readonly CancellationTokenSource _shutdown;
    private readonly Channel<QueueId> _committed;
    private readonly string _directory;

    private SmtpServerFixture(
        SmtpListenerHost host, CancellationTokenSource shutdown, Channel<QueueId> committed,
        string directory, SmtpServerOptions options, FileMessageStore store, FakeTimeProvider time, SmtpConnectionHandler handler)
    {
        _host = host;
        _shutdown = shutdown;
        _committed = committed;
        _directory = directory;
        Options = options;
        Store = store;
        Time = time;
        Handler = handler;
    }

    public SmtpServerOptions Options { get; }

    /// <summary>The real spool (also when the session writes through a wrapper store).</summary>
    public FileMessageStore Store { get; }

    public FakeTimeProvider Time { get; }

    public SmtpConnectionHandler Handler { get; }

    /// <summary>The listeners (accept loops and open connections).</summary>
    public SmtpListenerHost Listeners => _host;

    /// <summary>Stops as the host does: the stopping token first (sessions answer 421), then the listeners.</summary>
    public async Task StopAsync()
    {
        await _shutdown.CancelAsync();
        using var timeout = new CancellationTokenSource(WaitLimit);
        await _host.StopAsync(timeout.Token);
    }

    /// <param name="configure">Changes the default options (limits, trusted networks, bare line endings).</param>
    /// <param name="wrapStore">Puts a wrapper between the session and the spool (e.g. one that fails).</param>
    /// <param name="policy">Creates the server's policy on the fixture's clock; none by default.</param>
    public static async Task<SmtpServerFixture> StartAsync(
        Func<SmtpServerOptions, SmtpServerOptions>? configure = null, Func<IMessageStore, IMessageStore>? wrapStore = null,
        Func<TimeProvider, Mailroom.Server.Policy.SmtpPolicy>? policy = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "mailroom-smtp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
            var store = new FileMessageStore(Path.Combine(directory, "spool"), time, NullLogger<FileMessageStore>.Instance);
            await store.InitializeAsync(CancellationToken.None);

            var (certificatePath, keyPath, _) = SelfSignedCertificate.EnsureFiles(Path.Combine(directory, "tls"), Hostname, TimeProvider.System);
            var certificates = new ServerCertificateProvider(certificatePath, keyPath, time, NullLogger<ServerCertificateProvider>.Instance);

            var loopback = new IPEndPoint(IPAddress.Loopback, 0);
            var options = new SmtpServerOptions
            {
                Hostname = Hostname,
                Listeners =
                [
                    new SmtpListener(SmtpListenerRole.Smtp, loopback),
                    new SmtpListener(SmtpListenerRole.Submission, loopback),
                    new SmtpListener(SmtpListenerRole.Submissions, loopback),
                ],
            };
            options = configure?.Invoke(options) ?? options;

            var committed = Channel.CreateUnbounded<QueueId>();
            var context = new SmtpServerContext(
                options, wrapStore?.Invoke(store) ?? store, new FakeLocalRecipients(), certificates,
                id => committed.Writer.TryWrite(id), time, NullLogger.Instance)
            {
                Authenticator = new SaslAuthenticator(new FakeUserSecrets()),
                Policy = policy?.Invoke(time),
            };
            var shutdown = new CancellationTokenSource();
            var handler = new SmtpConnectionHandler(context, shutdown.Token);

            var host = new SmtpListenerHost(handler, options.Listeners, time, NullLogger.Instance);
            await host.StartAsync(CancellationToken.None);

            return new SmtpServerFixture(host, shutdown, committed, directory, options, store, time, handler);
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>The port bound for the first listener of <paramref name="role"/>.</summary>
    public int Port(SmtpListenerRole role)
    {
        for (var i = 0; i < Options.Listeners.Count; i++)
        {
            if (Options.Listeners[i].Role == role)
            {
                return _host.EndPoints[i].Port;
            }
        }

        throw new InvalidOperationException("no listener for " + role);
    }

    /// <summary>Connects to the listener of <paramref name="role"/>; reads and checks the 220 greeting unless told not to.</summary>
    public async Task<RawSmtpClient> ConnectAsync(SmtpListenerRole role = SmtpListenerRole.Smtp, bool readGreeting = true)
    {
        var client = await RawSmtpClient.ConnectAsync(Port(role));
        if (role == SmtpListenerRole.Submissions)
        {
            await client.StartTlsAsync();
        }

        if (readGreeting)
        {
            var greeting = await client.ReadReplyAsync();
            Assert.Equal(220, greeting.Code);
        }

        return client;
    }

    /// <summary>A session on the listener of <paramref name="role"/> after EHLO, STARTTLS and EHLO again (RFC 3207), not authenticated.</summary>
    public async Task<RawSmtpClient> ConnectUnderTlsAsync(SmtpListenerRole role = SmtpListenerRole.Smtp)
    {
        var client = await ConnectAsync(role);
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        Assert.Equal("220 2.0.0", (await client.CommandAsync("STARTTLS")).CodeAndStatus);
        await client.StartTlsAsync();
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        return client;
    }

    /// <summary>Default options, except that the smtp listener (port 25) offers AUTH (<c>auth = true</c>).</summary>
    public static SmtpServerOptions WithAuthOnSmtp(SmtpServerOptions options) => options with
    {
        Listeners = [.. options.Listeners.Select(listener => listener.Role == SmtpListenerRole.Smtp ? listener with { Authentication = true } : listener)],
    };

    /// <summary>Waits (bounded) for the next queue ID the session reported as committed.</summary>
    public async Task<QueueId> NextCommittedAsync()
    {
        using var timeout = new CancellationTokenSource(WaitLimit);
        return await _committed.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>The committed messages in the spool.</summary>
    public async Task<List<QueuedMessage>> QueuedAsync()
    {
        var messages = new List<QueuedMessage>();
        await foreach (var message in Store.RecoverAsync(CancellationToken.None))
        {
            messages.Add(message);
        }

        return messages;
    }

    /// <summary>The stored content of a committed message, byte-exact.</summary>
    public async Task<byte[]> ReadContentAsync(QueueId id)
    {
        await using var content = Store.OpenContent(id);
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>True when no commit was reported (call after the reply that would have followed one).</summary>
    public bool NothingCommitted => !_committed.Reader.TryPeek(out _);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _host.DisposeAsync();

        _shutdown.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>
    /// Alice and Bob with their SCRAM secrets, at RFC 7677's minimum of 4096 iterations so that the
    /// tests stay quick (the users file uses 100000).
    /// </summary>
    private sealed class FakeUserSecrets : IUserSecrets
    {
        // RFC 7677 §4: at least 4096 iterations.
        private const int Iterations = 4096;

        private static readonly Dictionary<string, ScramSecret> Secrets = new(StringComparer.OrdinalIgnoreCase)
        {
            [Alice] = ScramSecret.Create(AlicePassword, "alice-salt-16byt"u8, Iterations),
            [Bob] = ScramSecret.Create(BobPassword, "bob-salt-16bytes"u8, Iterations),
        };

        public ScramSecret? FindSecret(string address) => Secrets.GetValueOrDefault(address);
    }

    /// <summary>The local domain example.test with users alice and bob (postmaster always exists, RFC 5321 §4.5.1).</summary>
    private sealed class FakeLocalRecipients : ILocalRecipients
    {
        private static readonly string[] Users = ["alice", "bob", "postmaster"];

        // The server's own name is a local domain too, as in the default configuration.
        public bool IsLocalDomain(string domain) =>
            string.Equals(domain, LocalDomain, StringComparison.OrdinalIgnoreCase) || string.Equals(domain, Hostname, StringComparison.OrdinalIgnoreCase);

        public IReadOnlyList<LocalTarget>? Resolve(string localPart, string domain)
        {
            if (!IsLocalDomain(domain) || !Users.Contains(localPart, StringComparer.OrdinalIgnoreCase))
            {
                return null;
            }

            var user = localPart.ToLowerInvariant();
            return [new LocalTarget(user + "@" + domain.ToLowerInvariant(), domain.ToLowerInvariant() + "/" + user)];
        }
    }
}

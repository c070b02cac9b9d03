using System.Net;
using Mailroom.Configuration;
using Mailroom.Delivery;
using Mailroom.Delivery.Local;
using Mailroom.Delivery.Remote;
using Mailroom.Delivery.Routing;
using Mailroom.Delivery.Scheduling;
using Mailroom.Dns;
using Mailroom.Queue;
using Mailroom.Server.Policy;
using Mailroom.Server.Cleanup;
using Mailroom.Server.Recipients;
using Mailroom.Server.Smtp;
using Mailroom.Server.Tls;
using Mailroom.Server.Users;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Mailroom.Hosting;

/// <summary>
/// Composes the running server from the configuration: the spool, the recipient table, TLS, the
/// SMTP listeners and the delivery runner, in one process (DESIGN.md: the queue is the
/// only contract between receiving and delivering).
/// </summary>
internal sealed partial class MailroomServer : IAsyncDisposable
{
    private readonly IHost _app;
    private readonly MailroomConfiguration _configuration;
    private readonly string? _configPath;
    private readonly ILogger _logger;

    private MailroomServer(IHost app, MailroomConfiguration configuration, string? configPath)
    {
        _app = app;
        _configuration = configuration;
        _configPath = configPath;
        _logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("mailroom");
    }

    /// <summary>The addresses actually bound (port 0 in the configuration becomes the port the system chose).</summary>
    public IReadOnlyList<(SmtpListenerRole Role, IPEndPoint EndPoint)> Endpoints =>
        [.. _app.Services.GetRequiredService<SmtpListenerHost>().EndPoints.Select((endPoint, i) => (_configuration.Listeners[i].Role, endPoint))];

    public IServiceProvider Services => _app.Services;

    public static MailroomServer Create(MailroomConfiguration configuration, string? configPath, TextWriter logOutput)
    {
        var paths = new DataPaths(configuration.DataDirectory);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ApplicationName = "mailroom" });
        // Our own provider, not AddConsole: the same lines, one write(2) per batch (BatchingLoggerProvider).
        // Created by the container, so disposed (and drained) when the host is.
        builder.Services.AddSingleton<ILoggerProvider>(_ => new BatchingLoggerProvider(logOutput));
        builder.Logging.SetMinimumLevel(LogLevel.Information)
            .AddFilter("Microsoft", LogLevel.Warning)
            // A failed start is reported by `mailroom serve` itself, in one line.
            .AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);

        // MAILROOM_Logging__LogLevel__Default=Warning (the .NET names, with our prefix) overrides the levels above.
        builder.Configuration.AddEnvironmentVariables("MAILROOM_");
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        if (!ReferenceEquals(logOutput, Console.Out))
        {
            Console.SetOut(logOutput);
        }

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(paths);
        services.AddSingleton<IMessageStore>(sp => new FileMessageStore(paths.Spool, TimeProvider.System, sp.GetRequiredService<ILogger<FileMessageStore>>()));
        services.AddSingleton(_ => new UserStore(configuration.UsersFile, TimeProvider.System));
        services.AddSingleton<ILocalRecipients>(sp => new LocalRecipientResolver(configuration.LocalDomains, configuration.Aliases, sp.GetRequiredService<UserStore>()));
        services.AddSingleton(sp => CreateCertificateProvider(configuration, paths, sp.GetRequiredService<ILogger<ServerCertificateProvider>>()));
        services.AddSingleton(Options.Create(new LocalDeliveryOptions { MailRoot = paths.Mail, Hostname = configuration.Hostname }));
        services.AddSingleton(Options.Create(new DeliveryOptions
        {
            Hostname = configuration.Hostname,
            QueueLifetime = configuration.Delivery.QueueLifetime,
            DelayWarning = configuration.Delivery.DelayWarning,
            MinimalBackoff = configuration.Delivery.MinimalBackoff,
            MaximalBackoff = configuration.Delivery.MaximalBackoff,
        }));
        services.AddSingleton<ISenderResolver>(sp => new SenderResolver(sp.GetRequiredService<ILocalRecipients>()));
        services.AddSingleton<IDnsResolver>(sp => new DnsClientResolver(
            new DnsResolverOptions { Servers = configuration.DnsServers }, TimeProvider.System, sp.GetRequiredService<ILogger<DnsClientResolver>>()));
        services.AddSingleton(sp => CleanupWiring.Create(configuration, sp.GetRequiredService<IDnsResolver>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new MxRouter(RemoteDeliveryWiring.RoutingOptions(configuration), sp.GetRequiredService<IDnsResolver>(), Random.Shared, sp.GetRequiredService<ILogger<MxRouter>>()));
        services.AddSingleton<IRemoteDelivery>(sp => new RemoteDeliveryAgent(
            sp.GetRequiredService<MxRouter>(),
            configuration.Delivery.RelayHost is not null,
            sp.GetRequiredService<IMessageStore>(),
            RemoteDeliveryWiring.Options(configuration),
            TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<QueueRunner>();
        services.AddHostedService(sp => sp.GetRequiredService<QueueRunner>());
        // One policy for every session (README.md of Mailroom.Server, "## Policy"); the container
        // disposes it at shutdown, which saves the greylist.
        services.AddSingleton(sp => new SmtpPolicy(
            configuration.Policy,
            configuration.Hostname,
            sp.GetRequiredService<IDnsResolver>(),
            TimeProvider.System,
            configuration.Policy.Greylisting ? configuration.GreylistFile : null,
            sp.GetRequiredService<ILogger<SmtpPolicy>>()));
        services.AddSingleton(sp => new SmtpServerContext(
            ToServerOptions(configuration),
            sp.GetRequiredService<IMessageStore>(),
            sp.GetRequiredService<ILocalRecipients>(),
            sp.GetRequiredService<ServerCertificateProvider>(),
            sp.GetRequiredService<QueueRunner>().Enqueue,
            TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("mailroom.smtpd"))
        {
            Authenticator = new Server.Sasl.SaslAuthenticator(sp.GetRequiredService<UserStore>()),
            Policy = sp.GetRequiredService<SmtpPolicy>(),
            Cleanup = sp.GetRequiredService<MessageCleanup>(),
        });
        services.AddSingleton(sp => new SmtpConnectionHandler(
            sp.GetRequiredService<SmtpServerContext>(),
            sp.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping));

        // Registered after the queue runner: started after it, stopped (no new connections) before it.
        services.AddSingleton(sp => new SmtpListenerHost(
            sp.GetRequiredService<SmtpConnectionHandler>(),
            ToServerOptions(configuration).Listeners,
            TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("mailroom.smtpd")));
        services.AddHostedService(sp => sp.GetRequiredService<SmtpListenerHost>());

        return new MailroomServer(builder.Build(), configuration, configPath);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var paths = _app.Services.GetRequiredService<DataPaths>();
        paths.CreateFolders();
        LogStarting(_logger, _configPath ?? "none (built-in defaults)", _configuration.Hostname, paths.Root);
        if (_app.Services.GetRequiredService<IMessageStore>() is FileMessageStore store)
        {
            await store.InitializeAsync(cancellationToken);
        }

        var certificates = _app.Services.GetRequiredService<ServerCertificateProvider>();
        LogPaths(_logger, paths.Spool, paths.Mail, _configuration.UsersFile, certificates.CertificatePath);
        await _app.StartAsync(cancellationToken);
        foreach (var (role, endPoint) in Endpoints)
        {
            LogListening(_logger, role.ToString().ToLowerInvariant(), endPoint.ToString());
        }
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        if (_app is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync();
        }
        else
        {
            _app.Dispose();
        }
    }

    private static ServerCertificateProvider CreateCertificateProvider(MailroomConfiguration configuration, DataPaths paths, ILogger<ServerCertificateProvider> logger)
    {
        var (certificate, key) = (configuration.Tls.CertificatePath, configuration.Tls.PrivateKeyPath);
        if (certificate is null || key is null)
        {
            (certificate, key, _) = SelfSignedCertificate.EnsureFiles(paths.Tls, configuration.Hostname, TimeProvider.System);
        }

        return new ServerCertificateProvider(certificate, key, TimeProvider.System, logger);
    }

    private static SmtpServerOptions ToServerOptions(MailroomConfiguration configuration) => new()
    {
        Hostname = configuration.Hostname,
        Listeners = [.. configuration.Listeners.Select(listener => new SmtpListener(listener.Role, listener.Address) { Authentication = listener.Authentication })],
        SenderCheck = configuration.SenderCheck,
        SenderAddresses = configuration.SenderAddresses,
        AuthenticationLimits = configuration.AuthenticationLimits,
        TrustedNetworks = configuration.TrustedNetworks,
        BareLineEndings = configuration.BareLineEnding,
        Limits = new SmtpLimits
        {
            CommandLineLength = configuration.Limits.CommandLine,
            TextLineLength = configuration.Limits.TextLine,
            RecipientsPerMessage = configuration.Limits.Recipients,
            MessageSize = configuration.Limits.MessageSize,
            ErrorsPerSession = configuration.Limits.Errors,
            Connections = configuration.Limits.Connections,
            CommandTimeout = configuration.Limits.CommandTimeout,
            DataTimeout = configuration.Limits.DataTimeout,
            MinimumDataRate = configuration.Limits.MinimumDataRate,
            DataRateGrace = configuration.Limits.DataRateGrace,
        },
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "starting: config {ConfigPath}, hostname {Hostname}, data_dir {DataDirectory}")]
    private static partial void LogStarting(ILogger logger, string configPath, string hostname, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "spool {Spool}, mailboxes {Mail}, users {Users}, TLS certificate {Certificate}")]
    private static partial void LogPaths(ILogger logger, string spool, string mail, string users, string certificate);

    [LoggerMessage(Level = LogLevel.Information, Message = "listening: {Role} on {EndPoint}")]
    private static partial void LogListening(ILogger logger, string role, string endPoint);
}

using System.Net;
using Mailroom.Authentication.Dkim;
using Mailroom.Delivery.Routing;
using Mailroom.Server.Cleanup;
using Mailroom.Protocol;
using Mailroom.Server.Policy;
using Mailroom.Server.Smtp;

namespace Mailroom.Configuration;

internal sealed record ListenerConfiguration(SmtpListenerRole Role, IPEndPoint Address)
{
    /// <summary>SMTP AUTH offered (under TLS): always on submission(s), on smtp only with <c>auth = true</c>.</summary>
    public bool Authentication { get; init; } = Role != SmtpListenerRole.Smtp;
}

/// <summary>Paths of a PEM certificate chain and its key; both null means a self-signed certificate in {data_dir}/tls.</summary>
internal sealed record TlsConfiguration(string? CertificatePath, string? PrivateKeyPath)
{
    public static readonly TlsConfiguration None = new(null, null);
}

/// <summary>The numbers of the SMTP server. Every default says where it comes from.</summary>
internal sealed record MailroomLimits
{
    public static readonly MailroomLimits Default = new();

    /// <summary>Largest message in bytes, announced with SIZE (RFC 1870). 50 MiB: Postfix's message_size_limit is 10 MB, which today's attachments outgrow; 50 MiB is what large providers accept.</summary>
    public long MessageSize { get; init; } = 50 * 1024 * 1024;

    /// <summary>Recipients per message: Postfix smtpd_recipient_limit = 1000 (RFC 5321 §4.5.3.1.8 requires at least 100).</summary>
    public int Recipients { get; init; } = 1000;

    /// <summary>Protocol errors per session before 421: Postfix smtpd_hard_error_limit = 20.</summary>
    public int Errors { get; init; } = 20;

    /// <summary>Command line length with CRLF: RFC 5321 §4.5.3.1.4, 512 octets (may be raised, never lowered).</summary>
    public int CommandLine { get; init; } = MinimumCommandLine;

    /// <summary>Text line length with CRLF: RFC 5321 §4.5.3.1.6, 1000 octets (may be raised, never lowered).</summary>
    public int TextLine { get; init; } = MinimumTextLine;

    /// <summary>Concurrent connections in total, across listeners: the project's choice, as large as 2 cores serve comfortably.</summary>
    public int Connections { get; init; } = 1000;

    /// <summary>Waiting for a command: RFC 5321 §4.5.3.2.7 server timeout, 5 minutes.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Waiting for the rest of the data: RFC 5321 §4.5.3.2.6 (DATA termination, 10 minutes).</summary>
    public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Bytes per second a client must keep up during DATA/BDAT after the grace time; 0 turns it off. Postfix smtpd_min_data_rate = 500.</summary>
    public int MinimumDataRate { get; init; } = 500;

    /// <summary>The time a DATA/BDAT command gets before the minimum rate counts: Postfix smtpd_timeout = 300s.</summary>
    public TimeSpan DataRateGrace { get; init; } = TimeSpan.FromMinutes(5);

    // RFC 5321 §4.5.3.1.4: 512 octets.
    public const int MinimumCommandLine = 512;

    // RFC 5321 §4.5.3.1.6: 1000 octets.
    public const int MinimumTextLine = 1000;
}

/// <summary>The whole configuration, as read from one TOML file (docs/configuration.md). Immutable.</summary>
internal sealed record MailroomConfiguration
{
    /// <summary>Our name in the greeting, EHLO and Received; default: the machine's FQDN.</summary>
    public required string Hostname { get; init; }

    /// <summary>Absolute path of the spool, mailboxes, users file and generated TLS material.</summary>
    public required string DataDirectory { get; init; }

    public required IReadOnlyList<ListenerConfiguration> Listeners { get; init; }

    public TlsConfiguration Tls { get; init; } = TlsConfiguration.None;

    /// <summary>Recursive resolvers to ask; empty means those of /etc/resolv.conf.</summary>
    public IReadOnlyList<IPEndPoint> DnsServers { get; init; } = [];

    /// <summary>Domains delivered here: lowercase A-labels, no trailing dot.</summary>
    public required IReadOnlyList<string> LocalDomains { get; init; }

    /// <summary>"local@domain" or "@domain" (catch-all) to one or more addresses; domains normalised, local parts as written.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Aliases { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Clients allowed to relay without AUTH and exempt from the port-25 checks (Postfix mynetworks).
    /// Default: this host's loopback only, as Postfix's mynetworks_style = host; never anything
    /// that reaches the network, so the default is no open relay.
    /// </summary>
    public IReadOnlyList<IPNetwork> TrustedNetworks { get; init; } = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];

    /// <summary>Default reject: Postfix 3.9 smtpd_forbid_bare_newline = normalize is the lenient choice; rejecting is the safe one against SMTP smuggling.</summary>
    public BareLineEndingPolicy BareLineEnding { get; init; } = BareLineEndingPolicy.Reject;

    public MailroomLimits Limits { get; init; } = MailroomLimits.Default;

    /// <summary>[delivery]: how mail leaves for other servers.</summary>
    public DeliveryConfiguration Delivery { get; init; } = new();

    /// <summary>[routes]: next hops by recipient domain (Postfix transport_maps).</summary>
    public IReadOnlyDictionary<string, NextHop> Routes { get; init; } = new Dictionary<string, NextHop>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The [policy] section: the checks of the smtp listeners (docs/configuration.md).</summary>
    public PolicyOptions Policy { get; init; } = PolicyOptions.Default;

    /// <summary>{data_dir}/greylist.jsonl: greylisting state, when greylisting is on.</summary>
    public string GreylistFile => Path.Combine(DataDirectory, "greylist.jsonl");

    /// <summary>An authenticated user may send only from its own addresses (MAIL FROM and From); default on (issue 4, Postfix reject_sender_login_mismatch).</summary>
    public bool SenderCheck { get; init; } = true;

    /// <summary>[senders]: user address to the further addresses (or "@domain") it may send from.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> SenderAddresses { get; init; } =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>[auth]: the brute-force guard; the defaults and their sources are in <see cref="Server.Sasl.AuthenticationLimits"/>.</summary>
    public Server.Sasl.AuthenticationLimits AuthenticationLimits { get; init; } = new();

    /// <summary>[[dkim]]: the keys our own mail is signed with.</summary>
    public IReadOnlyList<DkimSigningKey> DkimKeys { get; init; } = [];

    /// <summary>[authentication]: SPF, DKIM and DMARC checks of inbound mail.</summary>
    public AuthenticationConfiguration Authentication { get; init; } = new();

    /// <summary>{data_dir}/users.</summary>
    public string UsersFile => Path.Combine(DataDirectory, "users");
}

/// <summary>[delivery]: remote delivery and the queue's schedule. Every default says where it comes from.</summary>
internal sealed record DeliveryConfiguration
{
    /// <summary>The port MX hosts are reached on: 25 (RFC 5321 §4.5.4.2); tests point it elsewhere.</summary>
    public int RemotePort { get; init; } = NextHop.SmtpPort;

    /// <summary>Send all remote mail through this host (Postfix relayhost); null: by MX.</summary>
    public NextHop? RelayHost { get; init; }

    /// <summary>The relay host's SMTP AUTH user; with <see cref="RelayPasswordFile"/>.</summary>
    public string? RelayUsername { get; init; }

    /// <summary>A file holding the relay host's password (kept out of the configuration file).</summary>
    public string? RelayPasswordFile { get; init; }

    /// <summary>Connections to one destination at once: Postfix initial_destination_concurrency = 5.</summary>
    public int ConnectionsPerDestination { get; init; } = 5;

    /// <summary>Postfix maximal_queue_lifetime = 5d (RFC 5321 §4.5.4.1: 4-5 days).</summary>
    public TimeSpan QueueLifetime { get; init; } = TimeSpan.FromDays(5);

    /// <summary>When the sender is told that delivery is delayed: 4 h.</summary>
    public TimeSpan DelayWarning { get; init; } = TimeSpan.FromHours(4);

    /// <summary>The first retry: Postfix minimal_backoff_time = 300s.</summary>
    public TimeSpan MinimalBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest wait between attempts: 4 h (Postfix 4000 s, Exim's default rule 6 h).</summary>
    public TimeSpan MaximalBackoff { get; init; } = TimeSpan.FromHours(4);
}

/// <summary>[authentication]: how inbound mail on the smtp listeners is checked (issue 6).</summary>
internal sealed record AuthenticationConfiguration
{
    /// <summary>What an SPF Fail does: reject (550 5.7.23, the default), mark (headers only) or off.</summary>
    public SpfFailAction SpfFail { get; init; } = SpfFailAction.Reject;

    /// <summary>Verify DKIM and apply DMARC policies (reject, quarantine into .Junk).</summary>
    public bool VerifyInbound { get; init; } = true;

    /// <summary>A newer Public Suffix List than the one shipped (publicsuffix.org/list/public_suffix_list.dat).</summary>
    public string? PublicSuffixList { get; init; }
}

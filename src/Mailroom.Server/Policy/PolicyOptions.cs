using Mailroom.Server.Smtp;

namespace Mailroom.Server.Policy;

/// <summary>What the reverse-DNS (iprev) check does with its result.</summary>
public enum ReverseDnsMode
{
    /// <summary>Only record the result (Received header, Authentication-Results). Default: many good senders fail iprev.</summary>
    Record,

    /// <summary>Refuse a client whose address has no PTR name (Postfix reject_unknown_reverse_client_hostname).</summary>
    RequirePtr,

    /// <summary>Refuse a client without a forward-confirmed PTR name (Postfix reject_unknown_client_hostname).</summary>
    RequireConfirmed,
}

/// <summary>
/// Which policy checks run and how (DESIGN.md: options hold behaviour, <see cref="PolicyLimits"/>
/// the numbers). Every default is the safe one and says where it comes from.
/// </summary>
public sealed record PolicyOptions
{
    public static PolicyOptions Default { get; } = new();

    /// <summary>
    /// The listener roles whose sessions are checked. Default: smtp only (issue 5: "none applies to
    /// authenticated submission unless configured"); submission clients authenticate instead.
    /// </summary>
    public IReadOnlySet<SmtpListenerRole> Roles { get; init; } = new HashSet<SmtpListenerRole> { SmtpListenerRole.Smtp };

    /// <summary>
    /// Whether the MAIL, RCPT and DATA checks still run once the client has authenticated. Default
    /// false: an authenticated user is known and accountable (Postfix permit_sasl_authenticated
    /// comes first in the usual restriction lists).
    /// </summary>
    public bool ApplyToAuthenticated { get; init; }

    /// <summary>Postfix reject_unknown_sender_domain: MAIL FROM's domain needs MX, A or AAAA. Default on.</summary>
    public bool RejectUnknownSenderDomain { get; init; } = true;

    /// <summary>Default <see cref="ReverseDnsMode.Record"/> (issue 5: many good senders fail it).</summary>
    public ReverseDnsMode ReverseDns { get; init; } = ReverseDnsMode.Record;

    /// <summary>
    /// HELO/EHLO checks: the name must be a domain or an address literal (Postfix
    /// reject_invalid_helo_hostname) and must not be ours. Default on.
    /// </summary>
    public bool CheckHelo { get; init; } = true;

    /// <summary>
    /// Names a client must not claim in HELO (besides the server's hostname, always included).
    /// Default none.
    /// </summary>
    public IReadOnlyList<string> OurNames { get; init; } = [];

    /// <summary>DNSBL zones (RFC 5782), asked in parallel at connect; the first listing in this order wins. Default none.</summary>
    public IReadOnlyList<string> DnsblZones { get; init; } = [];

    /// <summary>Greylisting (RFC 6647) at RCPT. Default off (issue 5: optional): it delays first mail by minutes.</summary>
    public bool Greylisting { get; init; }

    public PolicyLimits Limits { get; init; } = PolicyLimits.Default;
}

/// <summary>The numbers of the policy checks. Zero turns a limit off. Every default says where it comes from.</summary>
public sealed record PolicyLimits
{
    public static PolicyLimits Default { get; } = new();

    /// <summary>
    /// Unknown-recipient replies (per connection, and per client address within
    /// <see cref="HarvestWindow"/>) after which each further RCPT reply is delayed: Postfix
    /// smtpd_soft_error_limit = 10.
    /// </summary>
    public int HarvestTarpitAfter { get; init; } = 10;

    /// <summary>
    /// Unknown-recipient replies after which the session gets 421 4.7.0 and the address a
    /// cool-down: Postfix smtpd_hard_error_limit = 20.
    /// </summary>
    public int HarvestDisconnectAfter { get; init; } = 20;

    /// <summary>
    /// The tarpit step: the n-th refusal past the first threshold waits n × this. 1 s: Postfix
    /// smtpd_error_sleep_time = 1s (Postfix before 2.1 also grew the delay with the error count).
    /// </summary>
    public TimeSpan HarvestTarpitStep { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest tarpit delay. 10 s: our choice, far below the 5 minutes a client waits for a
    /// RCPT reply (RFC 5321 §4.5.3.2.3), so an honest client never times out.
    /// </summary>
    public TimeSpan HarvestTarpitMax { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The sliding window in which unknown-recipient replies to one address are counted across
    /// connections. 10 min: our choice (anvil counts per anvil_rate_time_unit = 60 s, too short to
    /// see a harvester that reconnects); the same as the cool-down.
    /// </summary>
    public TimeSpan HarvestWindow { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long an address that reached <see cref="HarvestDisconnectAfter"/> is refused at connect.
    /// 10 min: our choice; an honest client retries after 30 minutes or more (RFC 5321 §4.5.4.1),
    /// when the cool-down is over.
    /// </summary>
    public TimeSpan HarvestCooldown { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Concurrent connections per client address: Postfix smtpd_client_connection_count_limit = 50.</summary>
    public int ConnectionsPerClient { get; init; } = 50;

    /// <summary>
    /// New connections per client address per minute (anvil_rate_time_unit = 60 s). Postfix's
    /// smtpd_client_connection_rate_limit defaults to 0 (off); 60: our choice, one a second on
    /// average, three times a full burst of Postfix's default_destination_concurrency_limit = 20
    /// parallel connections (an honest MTA also sends many messages per connection).
    /// </summary>
    public int ConnectionRatePerMinute { get; init; } = 60;

    /// <summary>
    /// MAIL commands per client address per hour. Postfix smtpd_client_message_rate_limit is 0
    /// (off); 1000: our choice, far above what one address of an honest sender sends to one site;
    /// over the limit is a 450 (the sender retries), never a rejection.
    /// </summary>
    public int MessagesPerClientPerHour { get; init; } = 1000;

    /// <summary>
    /// Recipients per client address per hour. Postfix smtpd_client_recipient_rate_limit is 0
    /// (off); 5000: our choice, five recipients for each message allowed above; over it, 450.
    /// </summary>
    public int RecipientsPerClientPerHour { get; init; } = 5000;

    /// <summary>
    /// How long the session listens before its greeting for a client that talks first (an "early
    /// talker"): postscreen_greet_wait = 6 s. Zero turns the check off.
    /// </summary>
    public TimeSpan PregreetWait { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>How long a client that passed the pregreet test skips it: postscreen_greet_ttl = 1 d.</summary>
    public TimeSpan PregreetPassTtl { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Greylisting: how long the first attempt must wait: postgrey --delay = 300 s.</summary>
    public TimeSpan GreylistDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Greylisting: a retry later than this after the first attempt starts over: postgrey --retry-window = 2 days.</summary>
    public TimeSpan GreylistRetryWindow { get; init; } = TimeSpan.FromDays(2);

    /// <summary>Greylisting: a passed triplet (and an auto-whitelisted client) is forgotten after this long unseen: postgrey --max-age = 35 days.</summary>
    public TimeSpan GreylistMaxAge { get; init; } = TimeSpan.FromDays(35);

    /// <summary>Greylisting: passed triplets after which a client network skips greylisting: postgrey --auto-whitelist-clients = 5.</summary>
    public int GreylistAutoWhitelistAfter { get; init; } = 5;

    /// <summary>Greylisting: the most triplets kept (oldest dropped first). 100,000: our choice, a few MB in memory and on disk.</summary>
    public int GreylistMaxEntries { get; init; } = 100_000;

    /// <summary>
    /// The most client addresses tracked at once by the counters (harvest, rates, cool-downs,
    /// pregreet passes); beyond it the least recently seen are forgotten. 100,000: our choice, a
    /// few MB; an attacker with more addresses only resets its own counters.
    /// </summary>
    public int MaxTrackedClients { get; init; } = 100_000;
}

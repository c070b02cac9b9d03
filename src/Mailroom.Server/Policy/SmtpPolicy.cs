using System.Net;
using Mailroom.Dns;
using Mailroom.Protocol;
using Mailroom.Server.Smtp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mailroom.Server.Policy;

/// <summary>
/// The policy checks of issue 5 behind one facade the session calls at each stage (connect,
/// HELO, MAIL, RCPT, DATA). Every method returns a <see cref="PolicyDecision"/>; only
/// cancellation throws, and an unexpected internal error becomes a 4xx (DESIGN.md). Checks apply
/// to listeners whose role is in <see cref="PolicyOptions.Roles"/>, and not to authenticated
/// sessions unless <see cref="PolicyOptions.ApplyToAuthenticated"/>. Thread-safe; one instance
/// serves every session of the server. See README.md "## Policy" for the wiring.
/// </summary>
public sealed partial class SmtpPolicy : IDisposable
{
    private readonly PolicyOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SenderDomainCheck _senderDomain;
    private readonly ReverseDnsCheck _reverseDns;
    private readonly HeloCheck _helo;
    private readonly DnsblCheck _dnsbl;
    private readonly HarvestGuard _harvest;
    private readonly ClientLimits _limits;
    private readonly Greylist? _greylist;
    private readonly ClientTable<PregreetPass> _pregreetPasses;

    /// <param name="options">The checks and their numbers.</param>
    /// <param name="hostname">Our name (a client claiming it in HELO is refused).</param>
    /// <param name="resolver">DNS for the sender domain, iprev and DNSBL checks.</param>
    /// <param name="time">The clock of every window, cool-down and greylisting delay.</param>
    /// <param name="greylistPath">Where greylisting state is kept ({data_dir}/greylist.jsonl); null keeps it in memory only.</param>
    /// <param name="logger">Where refusals are logged with their reasons.</param>
    public SmtpPolicy(PolicyOptions options, string hostname, IDnsResolver resolver, TimeProvider time, string? greylistPath = null, ILogger<SmtpPolicy>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(hostname);
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(time);
        _options = options;
        _time = time;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _senderDomain = new SenderDomainCheck(resolver);
        _reverseDns = new ReverseDnsCheck(resolver);
        _helo = new HeloCheck(hostname, options.OurNames);
        _dnsbl = new DnsblCheck(resolver, options.DnsblZones, _logger);
        _harvest = new HarvestGuard(options.Limits, time);
        _limits = new ClientLimits(options.Limits, time);
        _greylist = options.Greylisting ? new Greylist(options.Limits, time, greylistPath, _logger) : null;
        _pregreetPasses = new ClientTable<PregreetPass>(options.Limits.MaxTrackedClients, static () => new PregreetPass());
    }

    public PolicyOptions Options => _options;

    /// <summary>Whether the checks apply to this session now (its listener's role; authentication).</summary>
    public bool AppliesTo(SmtpPolicyContext context)
        => _options.Roles.Contains(context.Role) && !context.IsTrusted && (!context.IsAuthenticated || _options.ApplyToAuthenticated);

    /// <summary>
    /// After the connection is accepted, before the greeting. Disconnect (421 4.7.0) for a client in
    /// its harvesting cool-down, over its concurrent connections or its connection rate. Looks up
    /// the client's reverse DNS (<see cref="SmtpPolicyContext.Iprev"/>) and the DNSBLs; a refusal
    /// they lead to is given at MAIL, as Postfix's smtpd_delay_reject does (a 5xx instead of the
    /// greeting obliges the server to wait for QUIT, RFC 5321 §3.1, and many clients mishandle it).
    /// </summary>
    public async ValueTask<PolicyDecision> OnConnectAsync(SmtpPolicyContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!AppliesTo(context))
        {
            return PolicyDecision.Accept;
        }

        var client = context.ClientAddress;
        try
        {
            if (_harvest.IsCoolingDown(client, out var until))
            {
                return Log(context, "CONNECT", PolicyDecision.Disconnect(PolicyReplies.CoolingDown, $"harvesting cool-down until {until:u}"));
            }

            var lease = _limits.TryOpenConnection(client);
            if (lease is null)
            {
                return Log(context, "CONNECT", PolicyDecision.Disconnect(PolicyReplies.TooManyConnections, $"more than {_options.Limits.ConnectionsPerClient} concurrent connections"));
            }

            context.ConnectionLease = lease;
            if (!_limits.TryConnect(client))
            {
                ReleaseConnection(context);
                return Log(context, "CONNECT", PolicyDecision.Disconnect(PolicyReplies.ConnectionRate, $"more than {_options.Limits.ConnectionRatePerMinute} connections per minute"));
            }

            var iprevTask = _reverseDns.LookupAsync(client, cancellationToken);
            var dnsblTask = _dnsbl.FindListingAsync(client, cancellationToken);
            context.Iprev = await iprevTask.ConfigureAwait(false);
            var listing = await dnsblTask.ConfigureAwait(false);
            LogIprev(_logger, client.ToString(), context.Iprev.StatusName, context.Iprev.ConfirmedName ?? "-");

            if (listing is { } listed)
            {
                context.PendingRefusal = PolicyDecision.Reject(PolicyReplies.Blocked(client, listed.Zone), $"listed in {listed.Zone} ({listed.Answer})");
            }
            else if (ReverseDnsCheck.Decide(context.Iprev, _options.ReverseDns) is { } refusal)
            {
                context.PendingRefusal = refusal;
            }

            if (context.PendingRefusal is { } pending)
            {
                LogPendingRefusal(_logger, client.ToString(), pending.Reason);
            }

            return PolicyDecision.Accept;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            ReleaseConnection(context);
            return Internal(context, "CONNECT", exception, PolicyDecision.Disconnect(PolicyReplies.InternalErrorAtConnect, "internal error"));
        }
    }

    /// <summary>
    /// How long the session listens for input before its greeting (the early-talker test of
    /// postscreen_greet_wait): zero when the checks do not apply, the test is off, or the client
    /// passed it within <see cref="PolicyLimits.PregreetPassTtl"/>.
    /// </summary>
    public TimeSpan PregreetWait(SmtpPolicyContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var wait = _options.Limits.PregreetWait;
        if (wait <= TimeSpan.Zero || !AppliesTo(context))
        {
            return TimeSpan.Zero;
        }

        var now = _time.GetUtcNow();
        lock (_pregreetPasses.Lock)
        {
            var pass = _pregreetPasses.Find(ClientKey.Of(context.ClientAddress));
            return pass is not null && now - pass.Time < _options.Limits.PregreetPassTtl ? TimeSpan.Zero : wait;
        }
    }

    /// <summary>
    /// After the pregreet wait: a client that sent anything before the greeting gets 554 5.5.1 and
    /// the connection is closed (postscreen's pregreet test, "drop" action); otherwise its pass is
    /// remembered.
    /// </summary>
    public PolicyDecision OnPregreet(SmtpPolicyContext context, bool clientTalkedFirst)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!AppliesTo(context))
        {
            return PolicyDecision.Accept;
        }

        if (clientTalkedFirst)
        {
            return Log(context, "CONNECT", PolicyDecision.Disconnect(PolicyReplies.Pregreet, "pregreet: client talked before the greeting"));
        }

        var now = _time.GetUtcNow();
        lock (_pregreetPasses.Lock)
        {
            _pregreetPasses.Get(ClientKey.Of(context.ClientAddress), now).Time = now;
        }

        return PolicyDecision.Accept;
    }

    /// <summary>HELO/EHLO: the name's syntax and whether it claims to be us. Records the name in the context when accepted.</summary>
    public ValueTask<PolicyDecision> OnHeloAsync(SmtpPolicyContext context, string heloName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(heloName);
        cancellationToken.ThrowIfCancellationRequested();
        var decision = AppliesTo(context) && _options.CheckHelo
            ? _helo.Check(heloName, context.ClientAddress, context.LocalAddress)
            : PolicyDecision.Accept;
        if (decision.IsAccepted)
        {
            context.HeloName = heloName;
        }

        return ValueTask.FromResult(Log(context, "HELO", decision));
    }

    /// <summary>
    /// MAIL FROM: a refusal found at connect (DNSBL 554 5.7.1, reverse DNS 550/450 x.7.25), the
    /// sender domain (550 5.1.8, 550 5.7.27, 451 4.4.3), the message rate (450 4.7.1).
    /// </summary>
    public async ValueTask<PolicyDecision> OnMailAsync(SmtpPolicyContext context, SmtpPath reversePath, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(reversePath);
        if (!AppliesTo(context))
        {
            context.ReversePath = reversePath;
            return PolicyDecision.Accept;
        }

        try
        {
            if (context.PendingRefusal is { } pending)
            {
                return Log(context, "MAIL", pending);
            }

            if (_options.RejectUnknownSenderDomain)
            {
                var domain = await _senderDomain.CheckAsync(reversePath, cancellationToken).ConfigureAwait(false);
                if (!domain.IsAccepted)
                {
                    return Log(context, "MAIL", domain);
                }
            }

            if (!_limits.TryMessage(context.ClientAddress))
            {
                return Log(context, "MAIL", PolicyDecision.Defer(PolicyReplies.MessageRate, $"more than {_options.Limits.MessagesPerClientPerHour} messages per hour"));
            }

            context.ReversePath = reversePath;
            context.Messages++;
            return PolicyDecision.Accept;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return Internal(context, "MAIL", exception, PolicyDecision.Defer(PolicyReplies.InternalError, "internal error"));
        }
    }

    /// <summary>
    /// RCPT TO, after the session has looked the recipient up (<paramref name="recipientKnown"/>:
    /// a local user or alias, or a relay the client may use). An unknown recipient is refused with
    /// the session's 550 5.1.1 and counted for harvesting control: past the first threshold the
    /// reply (any RCPT reply) carries a growing <see cref="PolicyDecision.Delay"/>, past the second
    /// it is 421 4.7.0 and a disconnect. A known one may still be deferred by the recipient rate
    /// (450 4.7.1) or greylisting (451 4.7.1).
    /// </summary>
    public ValueTask<PolicyDecision> OnRcptAsync(SmtpPolicyContext context, SmtpPath forwardPath, bool recipientKnown, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(forwardPath);
        cancellationToken.ThrowIfCancellationRequested();
        if (!AppliesTo(context))
        {
            return ValueTask.FromResult(recipientKnown ? PolicyDecision.Accept : PolicyDecision.Reject(SmtpReplies.UnknownUser, "unknown recipient"));
        }

        try
        {
            if (!recipientKnown)
            {
                return ValueTask.FromResult(CountRefusal(context, SmtpReplies.UnknownUser, $"unknown recipient <{forwardPath.Address}>"));
            }

            var delay = _harvest.DelayFor(context.ClientAddress, context.UnknownRecipients);
            if (!_limits.TryRecipient(context.ClientAddress))
            {
                return ValueTask.FromResult(Log(context, "RCPT", PolicyDecision.Defer(PolicyReplies.RecipientRate, $"more than {_options.Limits.RecipientsPerClientPerHour} recipients per hour", delay)));
            }

            if (_greylist is not null)
            {
                var sender = context.ReversePath?.Address ?? "";
                if (_greylist.Check(context.ClientAddress, sender, forwardPath.Address) is { } wait)
                {
                    return ValueTask.FromResult(Log(context, "RCPT", PolicyDecision.Defer(PolicyReplies.Greylisted, $"greylisted <{sender}> -> <{forwardPath.Address}>, retry in {wait.TotalSeconds:0} s", delay)));
                }
            }

            context.AcceptedRecipients++;
            return ValueTask.FromResult(delay == TimeSpan.Zero ? PolicyDecision.Accept : PolicyDecision.AcceptWith([], delay, "tarpit"));
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return ValueTask.FromResult(Internal(context, "RCPT", exception, PolicyDecision.Defer(PolicyReplies.InternalError, "internal error")));
        }
    }

    /// <summary>
    /// The session refused a recipient for a reason of its own (syntax, relay denied, too many
    /// recipients): counted like an unknown recipient (Postfix counts every error). Returns the
    /// session's <paramref name="reply"/> with the tarpit delay, or 421 4.7.0 and a disconnect.
    /// </summary>
    public PolicyDecision RecipientRejected(SmtpPolicyContext context, SmtpReply reply, string reason)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(reply);
        if (!AppliesTo(context))
        {
            return Refusal(reply, reason, TimeSpan.Zero);
        }

        return CountRefusal(context, reply, reason);
    }

    /// <summary>
    /// DATA (or the first BDAT): the stage hook for checks of the whole envelope. None refuses
    /// today; it returns Accept (future content checks return Quarantine with their header).
    /// </summary>
    public ValueTask<PolicyDecision> OnDataAsync(SmtpPolicyContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(PolicyDecision.Accept);
    }

    /// <summary>The connection is closed: releases its connection slot. Call exactly once per context, in a finally; calling again does nothing.</summary>
    public void SessionEnded(SmtpPolicyContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Ended)
        {
            context.Ended = true;
            ReleaseConnection(context);
        }
    }

    /// <summary>Saves the greylisting state.</summary>
    public void Dispose() => _greylist?.Save();

    /// <summary>The greylist, for tests.</summary>
    internal Greylist? Greylist => _greylist;

    internal HarvestGuard Harvest => _harvest;

    private PolicyDecision CountRefusal(SmtpPolicyContext context, SmtpReply reply, string reason)
    {
        context.UnknownRecipients++;
        var (delay, disconnect) = _harvest.Record(context.ClientAddress, context.UnknownRecipients);
        if (disconnect)
        {
            LogHarvest(_logger, context.ClientAddress.ToString(), context.UnknownRecipients, _options.Limits.HarvestCooldown);
            return Log(context, "RCPT", PolicyDecision.Disconnect(PolicyReplies.TooManyUnknownRecipients, $"harvesting: {context.UnknownRecipients} refused recipients in this connection; {reason}"));
        }

        return Refusal(reply, reason, delay);
    }

    private static PolicyDecision Refusal(SmtpReply reply, string reason, TimeSpan delay)
        => reply.IsTransientFailure ? PolicyDecision.Defer(reply, reason, delay) : PolicyDecision.Reject(reply, reason, delay);

    private static void ReleaseConnection(SmtpPolicyContext context)
    {
        context.ConnectionLease?.Dispose();
        context.ConnectionLease = null;
    }

    private PolicyDecision Log(SmtpPolicyContext context, string stage, PolicyDecision decision)
    {
        if (decision.Reply is { } reply)
        {
            LogDecision(_logger, stage, context.ClientAddress.ToString(), decision.Action, reply.Code, reply.Status?.ToString(), reply.Text, decision.Reason);
        }

        return decision;
    }

    private PolicyDecision Internal(SmtpPolicyContext context, string stage, Exception exception, PolicyDecision decision)
    {
        LogInternalError(_logger, stage, context.ClientAddress.ToString(), exception);
        return decision;
    }

    private sealed class PregreetPass
    {
        public DateTimeOffset Time { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "NOQUEUE: policy {Action}: {Stage} from [{Client}]: {Code} {Status} {Text}; {Reason}")]
    private static partial void LogDecision(ILogger logger, string stage, string client, PolicyAction action, int code, string? status, string text, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "policy: [{Client}] iprev={Result} name={Name}")]
    private static partial void LogIprev(ILogger logger, string client, string result, string name);

    [LoggerMessage(Level = LogLevel.Information, Message = "policy: [{Client}] will be refused at MAIL: {Reason}")]
    private static partial void LogPendingRefusal(ILogger logger, string client, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "policy: [{Client}] harvesting: {Count} refused recipients; refused at connect for {Cooldown}")]
    private static partial void LogHarvest(ILogger logger, string client, int count, TimeSpan cooldown);

    [LoggerMessage(Level = LogLevel.Error, Message = "policy: internal error at {Stage} from [{Client}]; answered 4xx")]
    private static partial void LogInternalError(ILogger logger, string stage, string client, Exception exception);
}

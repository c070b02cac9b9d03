using System.Collections.Concurrent;
using System.Net;
using Mailroom.Delivery.Routing;
using Mailroom.Protocol;
using Mailroom.Queue;
using Microsoft.Extensions.Logging;

namespace Mailroom.Delivery.Remote;

/// <summary>How remote delivery is scheduled across destinations. Every default says where it comes from.</summary>
public sealed record RemoteDeliveryOptions
{
    /// <summary>The SMTP client's settings for MX delivery (opportunistic TLS).</summary>
    public SmtpClientOptions Client { get; init; } = new();

    /// <summary>The client's settings for the relay host: verified TLS, credentials. Null: same as <see cref="Client"/>.</summary>
    public SmtpClientOptions? RelayHostClient { get; init; }

    /// <summary>Connections to one destination open at once: Postfix initial_destination_concurrency = 5.</summary>
    public int ConnectionsPerDestination { get; init; } = 5;

    /// <summary>How long a connection with nothing to send is kept for the next message: Postfix smtp_connection_cache_time_limit = 2s.</summary>
    public TimeSpan IdleConnectionTime { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a destination none of whose hosts answered is skipped before it is tried again
    /// (Postfix marks such a destination dead for minimal_backoff_time = 300s; the host sets it to
    /// the configured minimal backoff).
    /// </summary>
    public TimeSpan DeadDestinationTime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Hosts one attempt connects to: Postfix smtp_mx_session_limit = 2.</summary>
    public int SessionsPerAttempt { get; init; } = 2;
}

/// <summary>
/// Delivers a message to its recipients in one domain (RFC 5321 §5): asks the router where the
/// domain's mail goes, then tries the hosts in order, each address in turn, until one takes the
/// transaction. Several recipients of one domain travel in one transaction; results are per
/// recipient. Messages to one server go through its <see cref="ConnectionLane"/>, which carries
/// them back to back over few connections (pipelined across transactions) and keeps a connection
/// a moment for the next message; at most <see cref="RemoteDeliveryOptions.ConnectionsPerDestination"/>
/// connections are open to one destination. A destination whose hosts all failed is skipped for a
/// while (Postfix's destination status cache), so that it delays neither its own queue nor anyone else's.
/// </summary>
public sealed partial class RemoteDeliveryAgent : IRemoteDelivery, IAsyncDisposable
{
    private readonly MxRouter _router;
    private readonly IMessageStore _store;
    private readonly RemoteDeliveryOptions _options;
    private readonly bool _viaRelayHost;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly ILogger _clientLogger;
    private readonly ILogger _laneLogger;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _destinationSlots = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, DeadDestination> _dead = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<ConnectionKey, ConnectionLane> _lanes = new();

    public RemoteDeliveryAgent(MxRouter router, bool viaRelayHost, IMessageStore store, RemoteDeliveryOptions options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        _router = router;
        _viaRelayHost = viaRelayHost;
        _store = store;
        _options = options;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<RemoteDeliveryAgent>();
        _clientLogger = loggerFactory.CreateLogger<SmtpClientSession>();
        _laneLogger = loggerFactory.CreateLogger<ConnectionLane>();
    }

    public async Task<IReadOnlyList<RecipientOutcome>> DeliverAsync(QueuedMessage message, string domain, IReadOnlyList<int> recipientIndexes, CancellationToken cancellationToken)
    {
        var route = await _router.RouteAsync(domain, cancellationToken).ConfigureAwait(false);
        if (route.Status != RouteStatus.Ok)
        {
            var kind = route.Status == RouteStatus.PermanentFailure ? OutcomeKind.Failed : OutcomeKind.Deferred;
            var status = route.StatusCode?.ToString() ?? (kind == OutcomeKind.Failed ? "5.4.4" : "4.4.3");
            return Finish(message, recipientIndexes, kind, status, null, $"x-mailroom; {route.Text}", relay: "none");
        }

        if (_dead.TryGetValue(route.Destination, out var dead) && dead.Until > _timeProvider.GetUtcNow())
        {
            // As Postfix: "delivery temporarily suspended: " and the failure that suspended it, with its status.
            return Finish(message, recipientIndexes, OutcomeKind.Deferred, dead.Status, null, $"x-mailroom; delivery temporarily suspended: {dead.Reason}", relay: "none");
        }

        return await DeliverToHostsAsync(message, route, recipientIndexes, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes.Values)
        {
            await lane.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<RecipientOutcome>> DeliverToHostsAsync(QueuedMessage message, Route route, IReadOnlyList<int> indexes, CancellationToken cancellationToken)
    {
        var outbound = ToOutbound(message, indexes);
        var clientOptions = _viaRelayHost ? _options.RelayHostClient ?? _options.Client : _options.Client;
        SmtpReplyInfo? lastFailure = null;
        string? lastHost = null;
        var sessions = 0;
        foreach (var host in route.Hosts)
        {
            foreach (var endPoint in host.Addresses)
            {
                if (sessions >= _options.SessionsPerAttempt)
                {
                    break;
                }

                var key = new ConnectionKey(route.Destination, host.Name, endPoint);
                var sent = await SendThroughLaneAsync(key, outbound, clientOptions, cancellationToken).ConfigureAwait(false);
                if (sent.NewConnection)
                {
                    sessions++;
                }

                var relay = Relay(host.Name, endPoint);
                if (sent.Transaction is not { } result)
                {
                    lastFailure = sent.ConnectFailure;
                    lastHost = relay;
                    LogHostFailed(_logger, message.Id, relay, sent.ConnectFailure!.ToString());

                    // RFC 5321 §5.1: a host that does not answer, or answers with an error
                    // greeting, sends the client on to the next one.
                    continue;
                }

                if (result.TransactionFailure is { IsTransientFailure: true })
                {
                    // Nothing was decided for any recipient (the connection broke, MAIL was refused
                    // with 4xx): the next host may do better.
                    lastFailure = result.TransactionFailure;
                    lastHost = relay;
                    LogHostFailed(_logger, message.Id, relay, lastFailure.ToString());
                    continue;
                }

                _dead.TryRemove(route.Destination, out _);
                return ToOutcomes(message, indexes, result, host.Name, relay, suppressSuccessReport: sent.PeerOffersDsn);
            }
        }

        var failure = lastFailure ?? SmtpReplyInfo.Local(451, new EnhancedStatusCode(4, 4, 1), "no host could be reached");
        var kind = failure.IsPermanentFailure ? OutcomeKind.Failed : OutcomeKind.Deferred;
        var status = failure.Status?.ToString() ?? (kind == OutcomeKind.Failed ? "5.0.0" : "4.0.0");
        if (lastFailure is null || lastFailure.IsLocal)
        {
            // No host could even be reached: skip the destination for a while.
            _dead[route.Destination] = new DeadDestination(_timeProvider.GetUtcNow() + _options.DeadDestinationTime, kind == OutcomeKind.Failed ? "4.4.1" : status,
                lastHost is null ? failure.Text : $"{lastHost}: {failure.Text}");
        }

        return Finish(message, indexes, kind, status, lastHost, failure.DiagnosticCode ?? "x-mailroom; " + failure.Text, lastHost ?? "none");
    }

    /// <summary>Sends the message through the server's lane, making the lane when there is none (or the one found was just retired).</summary>
    private async Task<LaneResult> SendThroughLaneAsync(ConnectionKey key, OutboundMessage outbound, SmtpClientOptions clientOptions, CancellationToken cancellationToken)
    {
        while (true)
        {
            var lane = _lanes.GetOrAdd(key, NewLane, clientOptions);
            if (await lane.TrySendAsync(outbound, cancellationToken).ConfigureAwait(false) is { } sent)
            {
                return sent;
            }

            _lanes.TryRemove(new KeyValuePair<ConnectionKey, ConnectionLane>(key, lane));
        }
    }

    private ConnectionLane NewLane(ConnectionKey key, SmtpClientOptions clientOptions) => new(
        key,
        cancellationToken => SmtpClientSession.ConnectAsync(key.EndPoint, key.Host, clientOptions, _timeProvider, _clientLogger, cancellationToken),
        _destinationSlots.GetOrAdd(key.Destination, _ => new SemaphoreSlim(_options.ConnectionsPerDestination)),
        _options.ConnectionsPerDestination,
        _options.IdleConnectionTime,
        _timeProvider,
        _laneLogger,
        emptied: lane => _lanes.TryRemove(new KeyValuePair<ConnectionKey, ConnectionLane>(lane.Key, lane)));

    private OutboundMessage ToOutbound(QueuedMessage message, IReadOnlyList<int> indexes)
    {
        var envelope = message.Envelope;

        // The headers cleanup added after the content was stored (DKIM-Signature...) go out first.
        var added = System.Text.Encoding.UTF8.GetBytes(string.Concat(message.Annotations.AddedHeaders));
        return new OutboundMessage
        {
            ReversePath = envelope.ReversePath,
            Recipients = [.. indexes.Select(i => new OutboundRecipient(envelope.Recipients[i].Address, envelope.Recipients[i].Notify, envelope.Recipients[i].OriginalRecipient))],
            Body = envelope.Body,
            SmtpUtf8 = envelope.SmtpUtf8,
            EnvelopeId = envelope.EnvelopeId,
            Return = envelope.Return,
            Size = message.ContentLength + added.Length,
            OpenContent = added.Length == 0 ? () => _store.OpenContent(message.Id) : () => new PrefixedReadStream(added, _store.OpenContent(message.Id)),
        };
    }

    private IReadOnlyList<RecipientOutcome> ToOutcomes(QueuedMessage message, IReadOnlyList<int> indexes, TransactionResult result, string hostName, string relay, bool suppressSuccessReport)
    {
        var outcomes = new List<RecipientOutcome>(indexes.Count);
        for (var i = 0; i < indexes.Count; i++)
        {
            var reply = result.Recipients[i].Reply;
            var kind = reply.Outcome switch
            {
                DeliveryOutcome.Delivered => OutcomeKind.Delivered,
                DeliveryOutcome.Deferred => OutcomeKind.Deferred,
                _ => OutcomeKind.Failed,
            };
            var status = reply.Status?.ToString() ?? $"{reply.Code / 100}.0.0";
            var diagnostic = reply.DiagnosticCode ?? "x-mailroom; " + reply.Text;
            Log(message, indexes[i], relay, kind, reply.ToString());
            outcomes.Add(new RecipientOutcome(indexes[i], kind, status, hostName, diagnostic, SuccessReportDue: !suppressSuccessReport));
        }

        return outcomes;
    }

    private IReadOnlyList<RecipientOutcome> Finish(QueuedMessage message, IReadOnlyList<int> indexes, OutcomeKind kind, string status, string? remoteMta, string diagnostic, string relay)
    {
        var outcomes = new List<RecipientOutcome>(indexes.Count);
        foreach (var index in indexes)
        {
            Log(message, index, relay, kind, diagnostic);
            outcomes.Add(new RecipientOutcome(index, kind, status, remoteMta, diagnostic));
        }

        return outcomes;
    }

    private void Log(QueuedMessage message, int index, string relay, OutcomeKind kind, string detail)
    {
        var delay = (_timeProvider.GetUtcNow() - message.Envelope.ArrivalTime).TotalSeconds;
        var status = kind switch
        {
            OutcomeKind.Delivered => "sent",
            OutcomeKind.Deferred => "deferred",
            _ => "bounced",
        };
        LogRecipient(_logger, message.Id, message.Envelope.Recipients[index].Address, relay, delay, status, detail);
    }

    /// <summary>A destination none of whose hosts could be reached, skipped until <paramref name="Until"/>; the status and text of why.</summary>
    private sealed record DeadDestination(DateTimeOffset Until, string Status, string Reason);

    private static string Relay(string host, IPEndPoint endPoint) => $"{host}[{endPoint.Address}]:{endPoint.Port}";

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: to=<{Address}>, relay={Relay}, delay={Seconds:0.0}, status={Status} ({Detail})")]
    private static partial void LogRecipient(ILogger logger, QueueId queueId, string address, string relay, double seconds, string status, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "{QueueId}: host {Relay} failed, trying the next: {Reason}")]
    private static partial void LogHostFailed(ILogger logger, QueueId queueId, string relay, string reason);
}

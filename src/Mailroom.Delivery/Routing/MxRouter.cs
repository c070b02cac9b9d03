using System.Net;
using System.Net.Sockets;
using Mailroom.Dns;
using Microsoft.Extensions.Logging;

namespace Mailroom.Delivery.Routing;

/// <summary>
/// Decides where a recipient domain's mail goes (RFC 5321 §5.1): a per-domain route, else the
/// relay host, else the domain's MX records. See the "Routing" section of the project README for
/// every rule. Thread-safe.
/// </summary>
public sealed partial class MxRouter
{
    private readonly IDnsResolver _resolver;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly string _hostname;
    private readonly HashSet<IPAddress> _localAddresses;
    private readonly HashSet<int>? _localPorts;
    private readonly int _defaultPort;
    private readonly NextHop? _relayHost;
    private readonly Dictionary<string, NextHop> _routes;
    private readonly int _maxAddresses;
    private readonly Lock _randomLock = new();

    /// <param name="random">Orders MX hosts of equal preference (RFC 5321 §5.1); pass <see cref="Random.Shared"/> in production, a seeded one in tests.</param>
    public MxRouter(RoutingOptions options, IDnsResolver resolver, Random random, ILogger<MxRouter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.DefaultPort, 1, "RoutingOptions.DefaultPort");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.DefaultPort, 65535, "RoutingOptions.DefaultPort");
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxAddresses, "RoutingOptions.MaxAddresses");

        _resolver = resolver;
        _random = random;
        _logger = logger;
        _hostname = Normalize(options.Hostname ?? "");
        _localAddresses = [.. options.LocalAddresses.Select(Canonical)];
        _localPorts = options.LocalPorts is null ? null : [.. options.LocalPorts];
        _defaultPort = options.DefaultPort;
        _relayHost = options.RelayHost;
        _routes = new Dictionary<string, NextHop>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, NextHop> route in options.Routes)
        {
            _routes[Normalize(route.Key)] = route.Value;
        }

        _maxAddresses = options.MaxAddresses;
    }

    /// <summary>Where mail for <paramref name="domain"/> goes. Failures are values; only cancellation throws.</summary>
    public async Task<Route> RouteAsync(string domain, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(domain);
        string name = Normalize(domain);

        // RFC 5321 §5.1: an address literal is the address itself, no look-up.
        if (name.StartsWith('['))
        {
            if (!NextHop.TryParse(name, out NextHop? literal, out _) || literal.Address is null || literal.Port is not null)
            {
                return Route.Permanent(name, RouteCodes.DomainNotFound, "Bad destination address literal");
            }

            return Finish(name, name, [new Candidate(literal.Host, 0, [literal.Address])], anyTemporary: false, self: null, literal.Port ?? _defaultPort);
        }

        if (name.Length == 0)
        {
            return Route.Permanent(name, RouteCodes.DomainNotFound, "Domain not found");
        }

        if (_routes.TryGetValue(name, out NextHop? hop) || (hop = _relayHost) is not null)
        {
            Route routed = await RouteToNextHopAsync(name, hop, cancellationToken).ConfigureAwait(false);
            if (routed.Status != RouteStatus.PermanentFailure)
            {
                return routed;
            }

            // A configured next hop that does not resolve, or points back at us, is an operator's
            // mistake: defer the mail until it is fixed, never bounce it.
            LogNextHopFailed(name, routed.Destination, routed.Text);
            return Route.Temporary(routed.Destination, RouteCodes.UnableToRouteTemporary, routed.Text);
        }

        return await RouteByMxAsync(name, name, _defaultPort, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Route> RouteToNextHopAsync(string domain, NextHop hop, CancellationToken cancellationToken)
    {
        string destination = hop.ToString();
        int port = hop.Port ?? _defaultPort;
        if (hop.Address is { } address)
        {
            return Finish(destination, domain, [new Candidate(hop.Host, 0, [address])], anyTemporary: false, self: null, port);
        }

        if (hop.UseMx)
        {
            return await RouteByMxAsync(destination, hop.Host, port, cancellationToken).ConfigureAwait(false);
        }

        return await ResolveHostsAsync(destination, domain, [(hop.Host, 0)], port, cancellationToken).ConfigureAwait(false);
    }

    private async Task<Route> RouteByMxAsync(string destination, string name, int port, CancellationToken cancellationToken)
    {
        DnsAnswer<MxRecord> mx = await _resolver.GetMxAsync(name, cancellationToken).ConfigureAwait(false);
        switch (mx.Status)
        {
            case DnsStatus.TemporaryFailure:
                return Route.Temporary(destination, RouteCodes.DnsFailure, "DNS lookup failed");
            case DnsStatus.NameNotFound:
                return Route.Permanent(destination, RouteCodes.DomainNotFound, "Domain not found");
            case DnsStatus.NoRecords:
                // RFC 5321 §5.1: no MX records: the domain itself is the implicit MX, preference 0.
                return await ResolveHostsAsync(destination, name, [(name, 0)], port, cancellationToken).ConfigureAwait(false);
        }

        // RFC 7505 §3: a null MX is the only MX of its domain. Null entries beside real ones are
        // ignored (the domain broke the rule; its real MX hosts are still tried).
        MxRecord[] real = [.. mx.Records.Where(r => !r.IsNullMx)];
        if (real.Length == 0)
        {
            return Route.Permanent(destination, RouteCodes.NullMx, "Domain does not accept mail");
        }

        return await ResolveHostsAsync(destination, name, Order(real), port, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// RFC 5321 §5.1: lowest preference first; hosts of equal preference in random order, so load
    /// spreads over them. Duplicated names keep their best preference.
    /// </summary>
    private (string Name, ushort Preference)[] Order(MxRecord[] records)
    {
        (string Name, ushort Preference)[] hosts = [.. records
            .GroupBy(r => r.Exchange, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Min(r => r.Preference)))
            .OrderBy(h => h.Item2)];

        lock (_randomLock)
        {
            for (int start = 0; start < hosts.Length;)
            {
                int end = start + 1;
                while (end < hosts.Length && hosts[end].Preference == hosts[start].Preference)
                {
                    end++;
                }

                _random.Shuffle(hosts.AsSpan(start, end - start));
                start = end;
            }
        }

        return hosts;
    }

    private async Task<Route> ResolveHostsAsync(string destination, string domain, (string Name, ushort Preference)[] hosts, int port, CancellationToken cancellationToken)
    {
        // Loop detection, as Postfix's smtp(8): if we are one of the MX hosts, only hosts with a
        // strictly better (lower) preference than our best entry may be used. First by name…
        ushort? self = null;
        foreach ((string name, ushort preference) in hosts)
        {
            if (name.Length > 0 && string.Equals(name, _hostname, StringComparison.OrdinalIgnoreCase) && (self is null || preference < self))
            {
                self = preference;
            }
        }

        var candidates = new List<Candidate>();
        bool anyTemporary = false;
        int addresses = 0;
        ushort? lastPreference = null;
        foreach ((string name, ushort preference) in hosts)
        {
            if (preference >= self)
            {
                break;
            }

            // Enough addresses: finish the preference group (one of its hosts may still be us), no more.
            if (_maxAddresses > 0 && addresses >= _maxAddresses && preference != lastPreference)
            {
                break;
            }

            DnsAnswer<IPAddress> answer = await _resolver.GetAddressesAsync(name, cancellationToken).ConfigureAwait(false);
            switch (answer.Status)
            {
                case DnsStatus.Ok:
                    // …then by address: a host with one of our addresses is us.
                    if (answer.Records.Any(a => IsUs(a, port)))
                    {
                        self = self is null || preference < self ? preference : self;
                        continue;
                    }

                    candidates.Add(new Candidate(name, preference, answer.Records));
                    addresses += answer.Records.Count;
                    lastPreference = preference;
                    break;
                case DnsStatus.TemporaryFailure:
                    anyTemporary = true;
                    LogHostSkipped(destination, name, answer.Status);
                    break;
                default:
                    LogHostSkipped(destination, name, answer.Status);
                    break;
            }
        }

        return Finish(destination, domain, candidates, anyTemporary, self, port);
    }

    private Route Finish(string destination, string domain, List<Candidate> candidates, bool anyTemporary, ushort? self, int port)
    {
        var hosts = new List<RouteHost>();
        int budget = _maxAddresses > 0 ? _maxAddresses : int.MaxValue;
        foreach (Candidate candidate in candidates)
        {
            if (candidate.Preference >= self)
            {
                continue;
            }

            if (candidate.Addresses.Any(a => IsUs(a, port)))
            {
                // Only a literal reaches here with one of our addresses: the next hop is us.
                self = candidate.Preference;
                continue;
            }

            IPEndPoint[] endPoints = [.. candidate.Addresses.Take(budget).Select(a => new IPEndPoint(a, port))];
            if (endPoints.Length > 0)
            {
                hosts.Add(new RouteHost(candidate.Name, candidate.Preference, endPoints));
                budget -= endPoints.Length;
            }
        }

        if (hosts.Count > 0)
        {
            return Route.Ok(destination, hosts);
        }

        if (anyTemporary)
        {
            return Route.Temporary(destination, RouteCodes.DnsFailure, "DNS lookup failed");
        }

        if (self is not null)
        {
            LogLoop(destination, domain);
            return Route.Permanent(destination, RouteCodes.Loop, $"mail for {domain} loops back to myself");
        }

        return Route.Permanent(destination, RouteCodes.UnableToRoute, "Unable to route");
    }

    /// <summary>
    /// Whether address:port is where we receive mail. On the SMTP port (every MX) one of our
    /// addresses is us, as in Postfix; a configured next hop on another port of our address that
    /// we do not listen on is another server (a content filter, a test sink).
    /// </summary>
    private bool IsUs(IPAddress address, int port) =>
        _localAddresses.Contains(Canonical(address)) && (port == _defaultPort || _localPorts is null || _localPorts.Contains(port));

    /// <summary>Lowercase, without the trailing dot.</summary>
    private static string Normalize(string name)
    {
        string trimmed = name.Trim();
        return (trimmed.EndsWith('.') ? trimmed[..^1] : trimmed).ToLowerInvariant();
    }

    /// <summary>IPv4-mapped IPv6 addresses compare as their IPv4 address.</summary>
    private static IPAddress Canonical(IPAddress address)
        => address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private sealed record Candidate(string Name, ushort Preference, IReadOnlyList<IPAddress> Addresses);

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "route {Destination}: host {Host} skipped ({Status})")]
    private partial void LogHostSkipped(string destination, string host, DnsStatus status);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "route {Destination}: mail for {Domain} loops back to myself")]
    private partial void LogLoop(string destination, string domain);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "route {Domain}: configured next hop {Destination} failed ({Reason}); deferring")]
    private partial void LogNextHopFailed(string domain, string destination, string reason);
}

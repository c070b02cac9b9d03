using System.Diagnostics.CodeAnalysis;
using Mailroom.Protocol;
using Mailroom.Server.Smtp;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Mailroom.Server.Users;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Mailroom.Configuration;

/// <summary>
/// Reads mailroom.toml (docs/configuration.md) and reports every problem with its file, line and key.
/// Syntax errors come from Tomlyn's syntax parser, which recovers and reports them all; the keys and
/// values are checked only in a file free of syntax errors.
/// </summary>
internal static partial class ConfigurationLoader
{
    // The DNS port: RFC 1035 §4.2.
    private const int DefaultDnsPort = 53;

    /// <summary>Loads the file; null means no file at all (every default).</summary>
    public static ConfigurationLoadResult Load(string? path)
    {
        if (path is null)
        {
            return LoadText("", "(defaults)");
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
        {
            return ConfigurationLoadResult.Failure([new ConfigurationError(path, 0, "", "no such file")]);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return ConfigurationLoadResult.Failure([new ConfigurationError(path, 0, "", error.Message)]);
        }

        return LoadText(text, path);
    }

    /// <summary>Loads configuration text; <paramref name="sourceName"/> names it in errors.</summary>
    public static ConfigurationLoadResult LoadText(string text, string sourceName)
    {
        var syntax = SyntaxParser.Parse(text, sourceName);
        var syntaxErrors = new List<ConfigurationError>();
        foreach (var diagnostic in syntax.Diagnostics)
        {
            if (diagnostic.Kind == DiagnosticMessageKind.Error)
            {
                syntaxErrors.Add(new ConfigurationError(sourceName, diagnostic.Span.Start.Line + 1, "", diagnostic.Message));
            }
        }

        if (syntaxErrors.Count > 0)
        {
            return ConfigurationLoadResult.Failure(syntaxErrors);
        }

        var binder = new Binder(sourceName);
        var configuration = binder.Bind(TomlTree.Build(text));
        return binder.Errors.Count == 0
            ? ConfigurationLoadResult.Success(configuration)
            : ConfigurationLoadResult.Failure([.. binder.Errors.OrderBy(error => error.Line)]);
    }

    private sealed partial class Binder(string file)
    {
        public List<ConfigurationError> Errors { get; } = [];

        public MailroomConfiguration Bind(TomlTable root)
        {
            string? hostname = null;
            string? dataDirectory = null;
            IReadOnlyList<ListenerConfiguration>? listeners = null;
            IReadOnlyList<string>? localDomains = null;
            var configuration = new MailroomConfiguration { Hostname = "", DataDirectory = "", Listeners = [], LocalDomains = [] };
            foreach (var entry in root.Entries)
            {
                switch (entry.Key)
                {
                    case "hostname":
                        if (String(entry, entry.Key) is { } name)
                        {
                            hostname = Domain(entry.Value, entry.Key, name);
                        }

                        break;
                    case "data_dir":
                        dataDirectory = AbsolutePath(entry, entry.Key);
                        break;
                    case "listen":
                        listeners = Listeners(entry);
                        break;
                    case "tls" when Table(entry, entry.Key) is { } table:
                        configuration = configuration with { Tls = Tls(table) };
                        break;
                    case "dns" when Table(entry, entry.Key) is { } table:
                        Keys(table, "dns", "servers");
                        if (Find(table, "servers") is { } servers)
                        {
                            configuration = configuration with { DnsServers = StringList(servers, "dns.servers", DnsServer) };
                        }

                        break;
                    case "local" when Table(entry, entry.Key) is { } table:
                        Keys(table, "local", "domains");
                        if (Find(table, "domains") is { } domains)
                        {
                            localDomains = [.. StringList(domains, "local.domains", Domain).Distinct()];
                        }

                        break;
                    case "aliases" when Table(entry, entry.Key) is { } table:
                        configuration = configuration with { Aliases = Aliases(table) };
                        break;
                    case "relay" when Table(entry, entry.Key) is { } table:
                        Keys(table, "relay", "trusted_networks");
                        if (Find(table, "trusted_networks") is { } networks)
                        {
                            configuration = configuration with { TrustedNetworks = [.. StringList(networks, "relay.trusted_networks", Network).Select(network => network!.Value)] };
                        }

                        break;
                    case "smtp" when Table(entry, entry.Key) is { } table:
                        Keys(table, "smtp", "bare_line_ending");
                        if (Find(table, "bare_line_ending") is { } bare && String(bare, "smtp.bare_line_ending") is { } policy)
                        {
                            switch (policy)
                            {
                                case "reject":
                                    configuration = configuration with { BareLineEnding = BareLineEndingPolicy.Reject };
                                    break;
                                case "normalize":
                                    configuration = configuration with { BareLineEnding = BareLineEndingPolicy.Normalize };
                                    break;
                                default:
                                    Error(bare.Value, "smtp.bare_line_ending", $"expected \"reject\" or \"normalize\", got {bare.Value.Describe()}");
                                    break;
                            }
                        }

                        break;
                    case "limits" when Table(entry, entry.Key) is { } table:
                        configuration = configuration with { Limits = Limits(table) };
                        break;
                    case "delivery" when Table(entry, entry.Key) is { } table:
                        configuration = configuration with { Delivery = Delivery(table) };
                        break;
                    case "routes" when Table(entry, entry.Key) is { } table:
                        configuration = configuration with { Routes = Routes(table) };
                        break;
                    case "policy" when Table(entry, entry.Key) is { } table:
                        // ConfigurationLoader.Policy.cs
                        configuration = configuration with { Policy = Policy(table) };
                        break;
                    case "dkim":
                        configuration = configuration with { DkimKeys = DkimKeys(entry) };
                        break;
                    case "authentication" when Table(entry, entry.Key) is { } table:
                        configuration = configuration with { Authentication = Authentication(table) };
                        break;
                    case "auth" when Table(entry, entry.Key) is { } table:
                        configuration = Auth(table, configuration);
                        break;
                    case "senders" when Table(entry, entry.Key) is { } table:
                        configuration = configuration with { SenderAddresses = Senders(table) };
                        break;
                    case "tls" or "dns" or "local" or "aliases" or "relay" or "smtp" or "limits" or "delivery" or "routes" or "policy" or "auth" or "senders" or "authentication":
                        // Not a table: Table() reported it.
                        break;
                    default:
                        Unknown(entry, entry.Key, ["hostname", "data_dir", "listen", "tls", "dns", "local", "aliases", "relay", "smtp", "limits", "delivery", "routes", "policy", "auth", "senders", "dkim", "authentication"]);
                        break;
                }
            }

            hostname ??= Normalized(ConfigurationDefaults.Hostname());
            return configuration with
            {
                Hostname = hostname,
                DataDirectory = dataDirectory ?? ConfigurationDefaults.DataDirectory(),
                Listeners = listeners ?? ConfigurationDefaults.Listeners(),
                // Postfix mydestination = $myhostname, localhost.
                LocalDomains = localDomains ?? [.. new[] { hostname, "localhost" }.Distinct()],
            };
        }

        private IReadOnlyList<ListenerConfiguration> Listeners(TomlEntry entry)
        {
            var listeners = new List<ListenerConfiguration>();
            if (entry.Value is not TomlArray array || array.Items.Any(item => item is not TomlTable))
            {
                Error(entry.Value, "listen", $"expected [[listen]] tables, got {entry.Value.Describe()}");
                return listeners;
            }

            foreach (var table in array.Items.Cast<TomlTable>())
            {
                Keys(table, "listen", "role", "address", "auth");
                SmtpListenerRole? role = null;
                IPEndPoint? address = null;
                if (Required(table, "listen", "role") is { } roleEntry && String(roleEntry, "listen.role") is { } roleName)
                {
                    role = roleName switch
                    {
                        "smtp" => SmtpListenerRole.Smtp,
                        "submission" => SmtpListenerRole.Submission,
                        "submissions" => SmtpListenerRole.Submissions,
                        _ => null,
                    };
                    if (role is null)
                    {
                        Error(roleEntry.Value, "listen.role", $"expected \"smtp\", \"submission\" or \"submissions\", got {roleEntry.Value.Describe()}");
                    }
                }

                if (Required(table, "listen", "address") is { } addressEntry && String(addressEntry, "listen.address") is { } text)
                {
                    address = Endpoint(addressEntry.Value, "listen.address", text, portRequired: true);
                    if (address is not null && address.Port != 0 && listeners.Any(listener => listener.Address.Equals(address)))
                    {
                        Error(addressEntry.Value, "listen.address", $"{text} is already a listener");
                    }
                }

                bool? auth = null;
                if (Find(table, "auth") is { } authEntry)
                {
                    auth = Boolean(authEntry, "listen.auth");
                    if (auth == false && role is SmtpListenerRole.Submission or SmtpListenerRole.Submissions)
                    {
                        // RFC 6409 §4.3: a submission listener requires authentication, so it must offer it.
                        Error(authEntry.Value, "listen.auth", "a submission listener always offers AUTH (RFC 6409 §4.3): remove \"auth = false\" or use role \"smtp\"");
                    }
                }

                if (role is { } r && address is not null)
                {
                    var listener = new ListenerConfiguration(r, address);
                    listeners.Add(auth is { } offer ? listener with { Authentication = offer } : listener);
                }
            }

            return listeners;
        }

        private TlsConfiguration Tls(TomlTable table)
        {
            Keys(table, "tls", "certificate", "private_key");
            var certificateEntry = Find(table, "certificate");
            var keyEntry = Find(table, "private_key");
            var certificate = certificateEntry is null ? null : ExistingFile(certificateEntry, "tls.certificate");
            var key = keyEntry is null ? null : ExistingFile(keyEntry, "tls.private_key");
            if (certificateEntry is null != keyEntry is null)
            {
                var missing = certificateEntry is null ? "certificate" : "private_key";
                Error(table, "tls", $"\"certificate\" and \"private_key\" go together: \"{missing}\" is missing");
            }

            return new TlsConfiguration(certificate, key);
        }

        private Dictionary<string, IReadOnlyList<string>> Aliases(TomlTable table)
        {
            var aliases = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var entry in table.Entries)
            {
                var key = "aliases." + TomlScalar.Quote(entry.Key);
                string? normalizedKey = null;
                if (entry.Key.StartsWith('@') && AddressSyntax.TryNormalizeDomain(entry.Key[1..], out var catchAll))
                {
                    normalizedKey = "@" + catchAll;
                }
                else if (AddressSyntax.TryNormalizeAddress(entry.Key, out var address))
                {
                    normalizedKey = address;
                }
                else
                {
                    Error(entry.Line, key, "expected an address (\"user@example.com\") or a catch-all (\"@example.com\") as the alias");
                }

                List<string> targets = [];
                if (entry.Value is TomlArray array)
                {
                    targets = StringList(entry, key, Address);
                    if (array.Items.Count == 0)
                    {
                        Error(entry.Value, key, "expected at least one address");
                    }
                }
                else if (entry.Value is TomlScalar { Value: string } && Address(entry.Value, key, (string)((TomlScalar)entry.Value).Value) is { } target)
                {
                    targets.Add(target);
                }
                else if (entry.Value is not TomlScalar { Value: string })
                {
                    Error(entry.Value, key, $"expected an address or an array of addresses, got {entry.Value.Describe()}" +
                        (entry.Value is TomlTable ? " (quote the key: \"user@example.com\" = …)" : ""));
                }

                if (normalizedKey is not null && !aliases.TryAdd(normalizedKey, targets))
                {
                    Error(entry.Line, key, $"the alias {normalizedKey} is defined twice");
                }
            }

            return aliases;
        }

        private MailroomLimits Limits(TomlTable table)
        {
            Keys(table, "limits", "message_size", "recipients", "errors", "command_line", "text_line", "connections", "command_timeout", "data_timeout", "min_data_rate", "data_rate_grace");
            var limits = MailroomLimits.Default;
            foreach (var entry in table.Entries)
            {
                var key = "limits." + entry.Key;
                switch (entry.Key)
                {
                    case "message_size" when Integer(entry, key, 1, long.MaxValue) is { } value:
                        limits = limits with { MessageSize = value };
                        break;
                    case "recipients" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { Recipients = (int)value };
                        break;
                    case "errors" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { Errors = (int)value };
                        break;
                    case "command_line" when Integer(entry, key, MailroomLimits.MinimumCommandLine, int.MaxValue, "RFC 5321 §4.5.3.1.4") is { } value:
                        limits = limits with { CommandLine = (int)value };
                        break;
                    case "text_line" when Integer(entry, key, MailroomLimits.MinimumTextLine, int.MaxValue, "RFC 5321 §4.5.3.1.6") is { } value:
                        limits = limits with { TextLine = (int)value };
                        break;
                    case "connections" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { Connections = (int)value };
                        break;
                    case "command_timeout" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { CommandTimeout = TimeSpan.FromSeconds(value) };
                        break;
                    case "data_timeout" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { DataTimeout = TimeSpan.FromSeconds(value) };
                        break;
                    case "min_data_rate" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { MinimumDataRate = (int)value };
                        break;
                    case "data_rate_grace" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { DataRateGrace = TimeSpan.FromSeconds(value) };
                        break;
                }
            }

            return limits;
        }

        private MailroomConfiguration Auth(TomlTable table, MailroomConfiguration configuration)
        {
            Keys(table, "auth", "sender_check", "failure_window", "failures_before_delay", "failure_delay", "failures_before_lockout", "lockout");
            var limits = configuration.AuthenticationLimits;
            foreach (var entry in table.Entries)
            {
                var key = "auth." + entry.Key;
                switch (entry.Key)
                {
                    case "sender_check" when Boolean(entry, key) is { } check:
                        configuration = configuration with { SenderCheck = check };
                        break;
                    case "failure_window" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { FailureWindow = TimeSpan.FromSeconds(value) };
                        break;
                    case "failures_before_delay" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { FailuresBeforeDelay = (int)value };
                        break;
                    case "failure_delay" when Integer(entry, key, 0, 3600) is { } value:
                        limits = limits with { FailureDelay = TimeSpan.FromSeconds(value) };
                        break;
                    case "failures_before_lockout" when Integer(entry, key, 1, int.MaxValue) is { } value:
                        limits = limits with { FailuresBeforeLockout = (int)value };
                        break;
                    case "lockout" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { Lockout = TimeSpan.FromSeconds(value) };
                        break;
                }
            }

            return configuration with { AuthenticationLimits = limits };
        }

        private Dictionary<string, IReadOnlyList<string>> Senders(TomlTable table)
        {
            var senders = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var entry in table.Entries)
            {
                var key = "senders." + TomlScalar.Quote(entry.Key);
                var user = AddressSyntax.TryNormalizeAddress(entry.Key, out var normalized) ? normalized : null;
                if (user is null)
                {
                    Error(entry.Line, key, "expected a user's address (\"user@example.com\") as the key");
                }

                List<string> addresses = [];
                if (entry.Value is TomlArray)
                {
                    addresses = StringList(entry, key, SenderAddress);
                }
                else if (entry.Value is TomlScalar { Value: string text } && SenderAddress(entry.Value, key, text) is { } address)
                {
                    addresses.Add(address);
                }
                else if (entry.Value is not TomlScalar { Value: string })
                {
                    Error(entry.Value, key, $"expected an address or an array of addresses, got {entry.Value.Describe()}" +
                        (entry.Value is TomlTable ? " (quote the key: \"user@example.com\" = …)" : ""));
                }

                if (user is not null && !senders.TryAdd(user, addresses))
                {
                    Error(entry.Line, key, $"the user {user} is listed twice");
                }
            }

            return senders;
        }

        // An address, or "@domain" for every address in the domain.
        private string? SenderAddress(TomlNode node, string key, string text)
        {
            if (text.StartsWith('@'))
            {
                return Domain(node, key, text[1..]) is { } domain ? "@" + domain : null;
            }

            return Address(node, key, text);
        }

        private bool? Boolean(TomlEntry entry, string key)
        {
            if (entry.Value is TomlScalar { Value: bool value })
            {
                return value;
            }

            Error(entry.Value, key, $"expected true or false, got {entry.Value.Describe()}");
            return null;
        }

        private long? Integer(TomlEntry entry, string key, long minimum, long maximum, string? source = null)
        {
            if (entry.Value is TomlScalar { Value: long value } && value >= minimum && value <= maximum)
            {
                return value;
            }

            var expected = (minimum, maximum) switch
            {
                (1, long.MaxValue) => "a positive integer",
                (1, _) => $"a positive integer up to {maximum}",
                _ => $"an integer from {minimum} to {maximum}",
            };
            var because = source is null ? "" : $" ({source})";
            Error(entry.Value, key, $"expected {expected}{because}, got {entry.Value.Describe()}");
            return null;
        }

        private string? Domain(TomlNode node, string key, string text)
        {
            if (AddressSyntax.TryNormalizeDomain(text, out var domain))
            {
                return domain;
            }

            Error(node, key, $"expected a domain name such as mx.example.com, got {TomlScalar.Quote(text)}");
            return null;
        }

        private string? Address(TomlNode node, string key, string text)
        {
            if (AddressSyntax.TryNormalizeAddress(text, out var address))
            {
                return address;
            }

            Error(node, key, $"expected an address such as user@example.com, got {TomlScalar.Quote(text)}");
            return null;
        }

        private IPEndPoint? DnsServer(TomlNode node, string key, string text) => Endpoint(node, key, text, portRequired: false);

        private IPEndPoint? Endpoint(TomlNode node, string key, string text, bool portRequired)
        {
            if (TryParseEndpoint(text, portRequired, out var endpoint) && (portRequired || endpoint.Port != 0))
            {
                return endpoint;
            }

            var example = portRequired ? "\"0.0.0.0:25\" or \"[::]:25\"" : "\"192.0.2.53\", \"192.0.2.53:53\" or \"[2001:db8::53]:53\"";
            Error(node, key, $"expected an IP address and port such as {example}, got {TomlScalar.Quote(text)}");
            return null;
        }

        private IPNetwork? Network(TomlNode node, string key, string text)
        {
            if (TryParseNetwork(text, out var network, out var canonical))
            {
                return network;
            }

            var hint = canonical is null ? "" : $" (the address has bits set past the prefix: did you mean \"{canonical}\"?)";
            Error(node, key, $"expected a network such as \"192.0.2.0/24\" or \"2001:db8::/32\", got {TomlScalar.Quote(text)}{hint}");
            return null;
        }

        private string? AbsolutePath(TomlEntry entry, string key)
        {
            if (String(entry, key) is not { } path)
            {
                return null;
            }

            if (Path.IsPathFullyQualified(path))
            {
                return path;
            }

            Error(entry.Value, key, $"expected an absolute path, got {TomlScalar.Quote(path)}");
            return null;
        }

        private string? ExistingFile(TomlEntry entry, string key)
        {
            if (AbsolutePath(entry, key) is not { } path)
            {
                return null;
            }

            if (!File.Exists(path))
            {
                Error(entry.Value, key, $"no such file: {path}");
            }

            return path;
        }

        private List<T> StringList<T>(TomlEntry entry, string key, Func<TomlNode, string, string, T?> convert)
        {
            var values = new List<T>();
            if (entry.Value is not TomlArray array)
            {
                Error(entry.Value, key, $"expected an array of strings, got {entry.Value.Describe()}");
                return values;
            }

            foreach (var item in array.Items)
            {
                if (item is TomlScalar { Value: string text })
                {
                    if (convert(item, key, text) is { } value)
                    {
                        values.Add(value);
                    }
                }
                else
                {
                    Error(item, key, $"expected a string, got {item.Describe()}");
                }
            }

            return values;
        }

        private string? String(TomlEntry entry, string key)
        {
            if (entry.Value is TomlScalar { Value: string text })
            {
                return text;
            }

            Error(entry.Value, key, $"expected a string, got {entry.Value.Describe()}");
            return null;
        }

        private TomlTable? Table(TomlEntry entry, string key)
        {
            if (entry.Value is TomlTable table)
            {
                return table;
            }

            Error(entry.Value, key, $"expected a table ([{key}]), got {entry.Value.Describe()}");
            return null;
        }

        private static TomlEntry? Find(TomlTable table, string key) => table.Entries.Find(entry => entry.Key == key);

        private TomlEntry? Required(TomlTable table, string section, string key)
        {
            var entry = Find(table, key);
            if (entry is null)
            {
                Error(table, section, $"missing key \"{key}\"");
            }

            return entry;
        }

        private void Keys(TomlTable table, string section, params string[] known)
        {
            foreach (var entry in table.Entries)
            {
                if (!known.Contains(entry.Key))
                {
                    Unknown(entry, section + "." + entry.Key, known);
                }
            }
        }

        private void Unknown(TomlEntry entry, string key, string[] known)
        {
            var suggestion = known.FirstOrDefault(name => Distance(name, entry.Key) <= 2);
            Error(entry.Line, key, $"unknown key \"{entry.Key}\"" + (suggestion is null ? "" : $" (did you mean \"{suggestion}\"?)"));
        }

        private void Error(TomlNode node, string key, string message) => Error(node.Line, key, message);

        private void Error(int line, string key, string message) => Errors.Add(new ConfigurationError(file, line, key, message));

        private static string Normalized(string hostname) =>
            AddressSyntax.TryNormalizeDomain(hostname, out var normalized) ? normalized : hostname.ToLowerInvariant();
    }

    /// <summary>"a.b.c.d:port", "[v6]:port"; with <paramref name="portRequired"/> false also "a.b.c.d" and "v6" (port 53).</summary>
    internal static bool TryParseEndpoint(string text, bool portRequired, [NotNullWhen(true)] out IPEndPoint? endpoint)
    {
        endpoint = null;
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    return false;
                }

                port = rest[1..];
            }

            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return false;
            }
        }
        else
        {
            var colons = text.Count(c => c == ':');
            if (colons > 1)
            {
                // A bare IPv6 address: allowed without a port only (brackets are needed for one).
                host = text;
                if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
                {
                    return false;
                }
            }
            else
            {
                var colon = text.IndexOf(':', StringComparison.Ordinal);
                host = colon < 0 ? text : text[..colon];
                port = colon < 0 ? null : text[(colon + 1)..];
                if (!IsDottedQuad(host))
                {
                    return false;
                }
            }
        }

        var portNumber = DefaultDnsPort;
        if (port is null)
        {
            if (portRequired)
            {
                return false;
            }
        }
        else if (port.Length is 0 or > 5 || !port.All(char.IsAsciiDigit) ||
                 !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out portNumber) || portNumber > IPEndPoint.MaxPort)
        {
            return false;
        }

        endpoint = new IPEndPoint(IPAddress.Parse(host), portNumber);
        return true;
    }

    /// <summary>CIDR "a.b.c.d/n" or "v6/n"; a bare address is /32 or /128. <paramref name="canonical"/> is set when host bits are set.</summary>
    internal static bool TryParseNetwork(string text, [NotNullWhen(true)] out IPNetwork? network, out string? canonical)
    {
        network = null;
        canonical = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var host = slash < 0 ? text : text[..slash];
        if (!(IsDottedQuad(host) || host.Contains(':', StringComparison.Ordinal)) || !IPAddress.TryParse(host, out var address))
        {
            return false;
        }

        var maximum = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = maximum;
        if (slash >= 0)
        {
            var digits = text[(slash + 1)..];
            if (digits.Length is 0 or > 3 || !digits.All(char.IsAsciiDigit) ||
                !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > maximum)
            {
                return false;
            }
        }

        // IPNetwork's constructor refuses host bits; Parse would mask them silently: ask, don't guess.
        var masked = IPNetwork.Parse($"{address}/{prefix}");
        if (!masked.BaseAddress.Equals(address))
        {
            canonical = masked.ToString();
            return false;
        }

        network = masked;
        return true;
    }

    // Only the four-part decimal form: IPAddress.TryParse also takes "1", "0x7f.1" and the like.
    private static bool IsDottedQuad(string text)
    {
        var parts = text.Split('.');
        return parts.Length == 4 && parts.All(part => part.Length is > 0 and <= 3 && part.All(char.IsAsciiDigit) && int.Parse(part, CultureInfo.InvariantCulture) <= 255);
    }

    // Levenshtein distance, for "did you mean".
    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }
}

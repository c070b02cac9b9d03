using Mailroom.Delivery.Routing;
using Mailroom.Server.Users;

namespace Mailroom.Configuration;

/// <summary>The [delivery] and [routes] sections.</summary>
internal static partial class ConfigurationLoader
{
    private sealed partial class Binder
    {
        private DeliveryConfiguration Delivery(TomlTable table)
        {
            Keys(table, "delivery", "remote_port", "relay_host", "relay_username", "relay_password_file", "connections_per_destination",
                "queue_lifetime", "delay_warning", "minimal_backoff", "maximal_backoff");
            var delivery = new DeliveryConfiguration();
            foreach (var entry in table.Entries)
            {
                var key = "delivery." + entry.Key;
                switch (entry.Key)
                {
                    case "remote_port" when Integer(entry, key, 1, 65535) is { } port:
                        delivery = delivery with { RemotePort = (int)port };
                        break;
                    case "relay_host" when String(entry, key) is { } text:
                        delivery = delivery with { RelayHost = Hop(entry, key, text) };
                        break;
                    case "relay_username" when String(entry, key) is { } user:
                        delivery = delivery with { RelayUsername = user };
                        break;
                    case "relay_password_file":
                        delivery = delivery with { RelayPasswordFile = ExistingFile(entry, key) };
                        break;
                    case "connections_per_destination" when Integer(entry, key, 1, 1000) is { } count:
                        delivery = delivery with { ConnectionsPerDestination = (int)count };
                        break;
                    case "queue_lifetime" when Integer(entry, key, 1, int.MaxValue) is { } seconds:
                        delivery = delivery with { QueueLifetime = TimeSpan.FromSeconds(seconds) };
                        break;
                    case "delay_warning" when Integer(entry, key, 1, int.MaxValue) is { } seconds:
                        delivery = delivery with { DelayWarning = TimeSpan.FromSeconds(seconds) };
                        break;
                    case "minimal_backoff" when Integer(entry, key, 1, int.MaxValue) is { } seconds:
                        delivery = delivery with { MinimalBackoff = TimeSpan.FromSeconds(seconds) };
                        break;
                    case "maximal_backoff" when Integer(entry, key, 1, int.MaxValue) is { } seconds:
                        delivery = delivery with { MaximalBackoff = TimeSpan.FromSeconds(seconds) };
                        break;
                }
            }

            if (delivery.RelayUsername is null != delivery.RelayPasswordFile is null)
            {
                Error(table, "delivery", "\"relay_username\" and \"relay_password_file\" go together");
            }

            if (delivery.RelayUsername is not null && delivery.RelayHost is null)
            {
                Error(table, "delivery", "\"relay_username\" needs a \"relay_host\"");
            }

            if (delivery.MaximalBackoff < delivery.MinimalBackoff)
            {
                Error(table, "delivery.maximal_backoff", "must not be shorter than minimal_backoff");
            }

            return delivery;
        }

        private Dictionary<string, NextHop> Routes(TomlTable table)
        {
            var routes = new Dictionary<string, NextHop>(StringComparer.OrdinalIgnoreCase);
            foreach (var entry in table.Entries)
            {
                var key = "routes." + TomlScalar.Quote(entry.Key);
                if (!AddressSyntax.TryNormalizeDomain(entry.Key, out var domain))
                {
                    Error(entry.Line, key, "expected a domain as the key");
                    continue;
                }

                if (String(entry, key) is { } text && Hop(entry, key, text) is { } hop && !routes.TryAdd(domain, hop))
                {
                    Error(entry.Line, key, $"the route for {domain} is defined twice");
                }
            }

            return routes;
        }

        private NextHop? Hop(TomlEntry entry, string key, string text)
        {
            if (NextHop.TryParse(text, out var hop, out var error))
            {
                return hop;
            }

            Error(entry.Value, key, error);
            return null;
        }
    }
}

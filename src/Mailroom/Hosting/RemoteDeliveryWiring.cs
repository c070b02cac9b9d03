using System.Net;
using System.Net.NetworkInformation;
using Mailroom.Configuration;
using Mailroom.Delivery.Remote;
using Mailroom.Delivery.Routing;

namespace Mailroom.Hosting;

/// <summary>Turns the [delivery] and [routes] configuration into the options of routing and the SMTP client.</summary>
internal static class RemoteDeliveryWiring
{
    public static RoutingOptions RoutingOptions(MailroomConfiguration configuration) => new()
    {
        Hostname = configuration.Hostname,
        LocalAddresses = LocalAddresses(configuration),
        LocalPorts = [.. configuration.Listeners.Select(listener => listener.Address.Port).Distinct()],
        DefaultPort = configuration.Delivery.RemotePort,
        RelayHost = configuration.Delivery.RelayHost,
        Routes = configuration.Routes,
    };

    public static RemoteDeliveryOptions Options(MailroomConfiguration configuration)
    {
        var client = new SmtpClientOptions { HeloName = configuration.Hostname };
        SmtpClientOptions? relayHostClient = null;
        if (configuration.Delivery.RelayHost is not null)
        {
            // A smart host is always verified (issue 3): a relay we hand everything to must be the one we mean.
            relayHostClient = new SmtpClientOptions
            {
                HeloName = configuration.Hostname,
                TlsPolicy = TlsPolicy.Required,
                Credentials = configuration.Delivery.RelayUsername is { } user && configuration.Delivery.RelayPasswordFile is { } file
                    ? new NetworkCredential(user, File.ReadAllText(file).TrimEnd('\r', '\n'))
                    : null,
            };
        }

        return new RemoteDeliveryOptions
        {
            Client = client,
            RelayHostClient = relayHostClient,
            ConnectionsPerDestination = configuration.Delivery.ConnectionsPerDestination,

            // Postfix throttles a dead destination for minimal_backoff_time; without this a test's
            // (or an operator's) minimal_backoff = 1 would still leave it suspended for 5 minutes.
            DeadDestinationTime = configuration.Delivery.MinimalBackoff,
        };
    }

    /// <summary>
    /// The addresses that are "us" for MX loop detection: the listeners' own addresses, and every
    /// interface address when a listener binds to all of them (Postfix: inet_interfaces).
    /// </summary>
    private static IReadOnlyCollection<IPAddress> LocalAddresses(MailroomConfiguration configuration)
    {
        var addresses = new HashSet<IPAddress>();
        foreach (var listener in configuration.Listeners)
        {
            var address = listener.Address.Address;
            if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            {
                foreach (var networkInterface in NetworkInterface.GetAllNetworkInterfaces())
                {
                    foreach (var unicast in networkInterface.GetIPProperties().UnicastAddresses)
                    {
                        addresses.Add(unicast.Address);
                    }
                }
            }
            else
            {
                addresses.Add(address);
            }
        }

        return addresses;
    }
}

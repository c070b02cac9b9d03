using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Mailroom.Server.Smtp;

/// <summary>Binds SMTP listeners on Kestrel: its socket transport and connection management, our protocol.</summary>
public static class SmtpKestrelExtensions
{
    /// <summary>Listens on every configured endpoint; returns the Kestrel listen options, whose EndPoint holds the bound port after start.</summary>
    public static IReadOnlyList<ListenOptions> ListenSmtp(this KestrelServerOptions kestrel, SmtpConnectionHandler handler, IEnumerable<SmtpListener> listeners)
    {
        var bound = new List<ListenOptions>();
        foreach (var listener in listeners)
        {
            kestrel.Listen(listener.EndPoint, options =>
            {
                options.Run(connection => handler.HandleAsync(connection, listener));
                bound.Add(options);
            });
        }

        return bound;
    }
}

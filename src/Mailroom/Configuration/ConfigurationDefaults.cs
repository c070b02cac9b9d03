using System.Net;
using Mailroom.Protocol;
using Mailroom.Server.Smtp;
using System.Net.Sockets;

namespace Mailroom.Configuration;

/// <summary>The defaults that depend on the machine.</summary>
internal static class ConfigurationDefaults
{
    /// <summary>The machine's FQDN (what `hostname -f` shows), falling back to its short name.</summary>
    public static string Hostname()
    {
        try
        {
            // System.Net.Dns in full: inside namespace Mailroom, "Dns" is the Mailroom.Dns namespace.
            var name = System.Net.Dns.GetHostEntry("").HostName;
            if (!string.IsNullOrEmpty(name))
            {
                return name;
            }
        }
        catch (SocketException)
        {
            // No resolver entry for ourselves: fall through to the short name.
        }

        return Environment.MachineName;
    }

    /// <summary>
    /// /var/lib/mailroom for root (the FHS §5.8 place for state data); otherwise
    /// $XDG_DATA_HOME/mailroom or ~/.local/share/mailroom (XDG Base Directory Specification).
    /// </summary>
    public static string DataDirectory()
    {
        if (Environment.IsPrivilegedProcess)
        {
            return "/var/lib/mailroom";
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "mailroom");
        }

        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share", "mailroom");
    }

    /// <summary>Unprivileged loopback ports so that a first run needs no root and exposes nothing: 2525/2587/2465 mirror 25/587/465.</summary>
    public static IReadOnlyList<ListenerConfiguration> Listeners() =>
    [
        new(SmtpListenerRole.Smtp, new IPEndPoint(IPAddress.Loopback, 2525)),
        new(SmtpListenerRole.Submission, new IPEndPoint(IPAddress.Loopback, 2587)),
        new(SmtpListenerRole.Submissions, new IPEndPoint(IPAddress.Loopback, 2465)),
    ];
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Mailroom.Configuration;
using Mailroom.Server.Smtp;
using MimeKit;
using MimeKit.Utils;

namespace Mailroom.Cli;

/// <summary>
/// <c>mailroom sendmail</c>: the sendmail(8) interface that cron, PHP's mail(), git send-email and
/// mail(1) call. Reads a message on standard input and hands it to the running server through its
/// smtp listener (the first one in the configuration; 0.0.0.0 and :: mean loopback). Exit codes
/// are sendmail's, from sysexits.h.
/// </summary>
internal static class SendmailCommand
{
    // sysexits.h, as sendmail and Postfix's sendmail return them.
    public const int ExitUsage = 64;
    public const int ExitDataError = 65;
    public const int ExitUnavailable = 69;
    public const int ExitTemporaryFailure = 75;
    public const int ExitConfiguration = 78;

    public const string UsageText = """
        usage: mailroom sendmail [-t] [-i|-oi] [-f sender] [-F "full name"] [--config FILE] [recipient ...]

          -t          take recipients from To, Cc and Bcc (Bcc is removed), besides the arguments
          -i, -oi     a line with a single "." does not end the message
          -f SENDER   the envelope sender (default: your login name @ hostname)
          -F NAME     the full name in the From header the command adds when the message has none
        Other -o... and -b m options are accepted and ignored, as Postfix's sendmail does.
        """;

    /// <summary>The parsed command line.</summary>
    internal sealed record Options(bool ExtractRecipients, bool IgnoreDots, string? Sender, string? FullName, string? ConfigPath, IReadOnlyList<string> Recipients);

    public static async Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (!TryParse(args, out var options, out var problem))
        {
            await stderr.WriteLineAsync($"mailroom sendmail: {problem}\n{UsageText}".AsMemory(), cancellationToken);
            return ExitUsage;
        }

        var configPath = options.ConfigPath ?? (Environment.GetEnvironmentVariable("MAILROOM_CONFIG") is { Length: > 0 } fromEnvironment ? fromEnvironment : null);
        var loaded = ConfigurationLoader.Load(configPath);
        if (!loaded.IsValid)
        {
            foreach (var error in loaded.Errors)
            {
                await stderr.WriteLineAsync(error.ToString().AsMemory(), cancellationToken);
            }

            return ExitConfiguration;
        }

        var configuration = loaded.Configuration;
        var listener = configuration.Listeners.FirstOrDefault(listener => listener.Role == SmtpListenerRole.Smtp);
        if (listener is null || listener.Address.Port == 0)
        {
            await stderr.WriteLineAsync("mailroom sendmail: the configuration has no smtp listener with a fixed port to hand the message to".AsMemory(), cancellationToken);
            return ExitConfiguration;
        }

        MimeMessage message;
        try
        {
            var text = ReadMessage(await stdin.ReadToEndAsync(cancellationToken), options.IgnoreDots);
            message = await MimeMessage.LoadAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), cancellationToken);
        }
        catch (FormatException error)
        {
            await stderr.WriteLineAsync($"mailroom sendmail: cannot parse the message: {error.Message}".AsMemory(), cancellationToken);
            return ExitDataError;
        }

        var sender = options.Sender ?? Environment.UserName + "@" + configuration.Hostname;
        var recipients = new List<MailboxAddress>();
        foreach (var recipient in options.Recipients)
        {
            if (!MailboxAddress.TryParse(recipient, out var address))
            {
                await stderr.WriteLineAsync($"mailroom sendmail: not an address: {recipient}".AsMemory(), cancellationToken);
                return ExitUsage;
            }

            recipients.Add(address);
        }

        if (options.ExtractRecipients)
        {
            recipients.AddRange(message.To.Mailboxes);
            recipients.AddRange(message.Cc.Mailboxes);
            recipients.AddRange(message.Bcc.Mailboxes);
            message.Headers.RemoveAll(HeaderId.Bcc);
        }

        if (recipients.Count == 0)
        {
            await stderr.WriteLineAsync("mailroom sendmail: no recipients (give addresses, or -t to take them from the message)".AsMemory(), cancellationToken);
            return ExitUsage;
        }

        // What Postfix's cleanup adds to locally submitted mail: From, Date and Message-ID when missing.
        if (!message.Headers.Contains(HeaderId.From))
        {
            message.From.Add(new MailboxAddress(options.FullName ?? "", sender));
        }

        if (!message.Headers.Contains(HeaderId.Date))
        {
            message.Date = DateTimeOffset.Now;
        }

        if (!message.Headers.Contains(HeaderId.MessageId))
        {
            message.MessageId = MimeUtils.GenerateMessageId(configuration.Hostname);
        }

        var endPoint = Loopback(listener.Address);
        try
        {
            using var client = new SmtpClient { Timeout = (int)TimeSpan.FromMinutes(5).TotalMilliseconds, LocalDomain = configuration.Hostname };
            await client.ConnectAsync(endPoint.Address.ToString(), endPoint.Port, SecureSocketOptions.None, cancellationToken);
            await client.SendAsync(message, new MailboxAddress("", sender), recipients.DistinctBy(address => address.Address.ToLowerInvariant()), cancellationToken);
            await client.DisconnectAsync(quit: true, cancellationToken);
            return CommandLine.Success;
        }
        catch (SmtpCommandException error)
        {
            var what = error.ErrorCode switch
            {
                SmtpErrorCode.RecipientNotAccepted => $"recipient <{error.Mailbox?.Address}> refused",
                SmtpErrorCode.SenderNotAccepted => $"sender <{error.Mailbox?.Address}> refused",
                _ => "message refused",
            };
            await stderr.WriteLineAsync($"mailroom sendmail: {what} by {endPoint}: {(int)error.StatusCode} {error.Message}".AsMemory(), cancellationToken);
            return (int)error.StatusCode is >= 400 and < 500 ? ExitTemporaryFailure : ExitUnavailable;
        }
        catch (Exception error) when (error is SocketException or IOException or SmtpProtocolException or ServiceNotConnectedException)
        {
            await stderr.WriteLineAsync($"mailroom sendmail: cannot hand the message to the server at {endPoint}: {error.Message}".AsMemory(), cancellationToken);
            return ExitTemporaryFailure;
        }
    }

    /// <summary>Parses sendmail's options; "--config" as every mailroom command takes it.</summary>
    internal static bool TryParse(string[] args, out Options options, out string problem)
    {
        options = new Options(false, false, null, null, null, []);
        problem = "";
        var extract = false;
        var ignoreDots = false;
        string? sender = null;
        string? fullName = null;
        string? config = null;
        var recipients = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? Value(string flag)
            {
                if (arg.Length > flag.Length)
                {
                    return arg[flag.Length..];
                }

                return i + 1 < args.Length ? args[++i] : null;
            }

            switch (arg)
            {
                case "--":
                    recipients.AddRange(args[(i + 1)..]);
                    i = args.Length;
                    break;
                case "-t":
                    extract = true;
                    break;
                case "-i" or "-oi":
                    ignoreDots = true;
                    break;
                case "--config":
                case var _ when arg.StartsWith("--config=", StringComparison.Ordinal):
                    config = arg.StartsWith("--config=", StringComparison.Ordinal) ? arg["--config=".Length..] : (i + 1 < args.Length ? args[++i] : null);
                    if (string.IsNullOrEmpty(config))
                    {
                        problem = "--config needs a file";
                        return false;
                    }

                    break;
                case var _ when arg.StartsWith("-f", StringComparison.Ordinal):
                    sender = Value("-f");
                    if (sender is null)
                    {
                        problem = "-f needs a sender address";
                        return false;
                    }

                    // "-f <>" or "-f ''": the null sender, as for bounces.
                    sender = sender.Trim('<', '>');
                    break;
                case var _ when arg.StartsWith("-F", StringComparison.Ordinal):
                    fullName = Value("-F");
                    if (fullName is null)
                    {
                        problem = "-F needs a name";
                        return false;
                    }

                    break;
                case var _ when arg.StartsWith("-o", StringComparison.Ordinal) || arg is "-bm" or "-v":
                    // Compatibility options (-oem, -odi, -oQ..., -bm, -v): accepted and ignored.
                    if (arg is "-o" or "-oQ" or "-oA" && i + 1 < args.Length)
                    {
                        i++;
                    }

                    break;
                case var _ when arg.StartsWith('-') && arg.Length > 1:
                    problem = $"unknown option {arg}";
                    return false;
                default:
                    recipients.Add(arg);
                    break;
            }
        }

        options = new Options(extract, ignoreDots, sender, fullName, config, recipients);
        return true;
    }

    /// <summary>CRLF line ends; without -i a line of a single "." ends the message (sendmail's default).</summary>
    internal static string ReadMessage(string input, bool ignoreDots)
    {
        var builder = new StringBuilder(input.Length + 64);
        foreach (var rawLine in input.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (!ignoreDots && line == ".")
            {
                return builder.ToString();
            }

            builder.Append(line).Append("\r\n");
        }

        // The split leaves an empty last piece when the input ends with a newline.
        if (input.EndsWith('\n'))
        {
            builder.Length -= 2;
        }

        return builder.ToString();
    }

    private static IPEndPoint Loopback(IPEndPoint address) =>
        address.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, address.Port)
        : address.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, address.Port)
        : address;
}

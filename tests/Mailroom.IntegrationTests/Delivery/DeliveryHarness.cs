using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Mailroom.IntegrationTests.Infrastructure;
using MimeKit;

namespace Mailroom.IntegrationTests.Delivery;

/// <summary>
/// What the remote delivery tests share: a free port for every peer (each peer has its own
/// 127.0.0.x address, so one port serves them all, as port 25 does on the Internet), the sending
/// Mailroom's configuration, submitting a message to it, and waiting for its log lines and reports.
/// </summary>
internal static partial class DeliveryHarness
{
    public const string SenderHostname = "mx.sender.test";
    public const string SenderDomain = "sender.test";
    public const string Alice = "alice@sender.test";

    /// <summary>The sending Mailroom listens here (never an MX target, except in the loop test).</summary>
    public const string SenderAddress = "127.0.0.2";

    /// <summary>A port free on 127.0.0.1, hence (almost certainly) on every 127.0.0.x: the port every remote peer listens on.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static IPEndPoint At(string address, int port) => new(IPAddress.Parse(address), port);

    /// <summary>
    /// The sender: local domain sender.test with the user alice (who gets the reports), relaying for
    /// 127.0.0.0/8, resolving through <paramref name="dns"/>, delivering to MX hosts on
    /// <paramref name="remotePort"/>, retrying after 1 s and at most every 2 s.
    /// </summary>
    public static Task<MailroomProcess> StartSenderAsync(IPEndPoint dns, int remotePort, string extraDelivery = "") =>
        MailroomProcess.StartAsync(new MailroomProcessOptions
        {
            Hostname = SenderHostname,
            LocalDomains = [SenderDomain],
            ListenAddress = SenderAddress,
            Users = [Alice],
            ExtraToml = $"""
                [dns]
                servers = ["{dns}"]

                [relay]
                trusted_networks = ["127.0.0.0/8"]

                [delivery]
                remote_port = {remotePort}
                minimal_backoff = 1
                maximal_backoff = 2
                {extraDelivery}
                """,
        });

    /// <summary>A plain message; <paramref name="tag"/> goes into the Subject and the body so the copies can be found.</summary>
    public static string Message(string to, string tag, string body = "Hello.") =>
        $"From: <{Alice}>\r\nTo: <{to}>\r\nSubject: {tag}\r\nMessage-ID: <{tag}@sender.test>\r\nDate: Sun, 30 Nov 2025 10:00:00 +0000\r\n\r\n{body}\r\n{tag}\r\n";

    /// <summary>Submits messages in one SMTP session (each its own transaction) and returns their queue IDs.</summary>
    public static async Task<IReadOnlyList<string>> SubmitAsync(MailroomProcess sender, IEnumerable<(string[] To, string Content)> messages, string mailParameters = "")
    {
        await using var client = await RawSmtpClient.ConnectAsync(sender.ListenAddress, sender.SmtpPort);
        await client.CommandAsync("EHLO client.sender.test", 250);
        var ids = new List<string>();
        foreach (var (to, content) in messages)
        {
            await client.CommandAsync($"MAIL FROM:<{Alice}>{mailParameters}", 250);
            foreach (var recipient in to)
            {
                await client.CommandAsync($"RCPT TO:<{recipient}>", 250);
            }

            await client.CommandAsync("DATA", 354);
            await client.SendAsync(Encoding.UTF8.GetBytes(DotStuff(content) + ".\r\n"));
            var reply = await client.ExpectAsync(250);
            ids.Add(QueuedReply.QueueId(reply.Text, client.Transcript.ToString()));
        }

        await client.CommandAsync("QUIT", 221);
        return ids;
    }

    public static async Task<string> SubmitAsync(MailroomProcess sender, string[] to, string content, string mailParameters = "") =>
        (await SubmitAsync(sender, [(to, content)], mailParameters))[0];

    /// <summary>Waits for "ID: to=&lt;address&gt;, relay=…, status=STATUS" in the sender's log (from line <paramref name="from"/>).</summary>
    public static Task<string> WaitForStatusAsync(MailroomProcess server, string queueId, string address, string status, int from = 0, TimeSpan? timeout = null) =>
        server.Log.WaitForAsync(
            line => line.Contains($"{queueId}: to=<{address}>,", StringComparison.Ordinal) && line.Contains($"status={status} ", StringComparison.Ordinal),
            $"\"{queueId}: to=<{address}> ... status={status}\"",
            from,
            timeout);

    /// <summary>Waits for the message to leave the queue ("ID: removed").</summary>
    public static Task<string> WaitForRemovedAsync(MailroomProcess server, string queueId, int from = 0) =>
        server.Log.WaitForAsync(line => line.EndsWith($"{queueId}: removed", StringComparison.Ordinal), $"\"{queueId}: removed\"", from);

    /// <summary>
    /// Waits for the failure report (RFC 3464) the sender queued for <paramref name="queueId"/>, its
    /// local delivery into alice's Maildir, and returns it parsed with MimeKit, with its per-recipient fields.
    /// </summary>
    public static Task<(MimeMessage Report, HeaderList Recipient, string Path)> WaitForBounceAsync(MailroomProcess sender, string queueId) =>
        WaitForReportAsync(sender, queueId, "failed");

    /// <summary>As <see cref="WaitForBounceAsync"/>, for a report of another kind ("delayed", "delivered").</summary>
    public static async Task<(MimeMessage Report, HeaderList Recipient, string Path)> WaitForReportAsync(MailroomProcess sender, string queueId, string action)
    {
        var line = await sender.Log.WaitForAsync(
            l => l.Contains($"{queueId}: sender {action} report ", StringComparison.Ordinal),
            $"\"{queueId}: sender {action} report ID queued\"");
        var reportId = ReportLine().Match(line).Groups["id"].Value;
        var path = await sender.WaitForMaildirFileAsync(reportId, Alice);
        var report = await MimeMessage.LoadAsync(path);
        var status = report.BodyParts.OfType<MessageDeliveryStatus>().SingleOrDefault()
            ?? throw new InvalidOperationException($"no message/delivery-status part in {path}\n{await File.ReadAllTextAsync(path)}");
        Assert.True(status.StatusGroups.Count >= 2, $"no per-recipient fields in {path}");
        return (report, status.StatusGroups[1], path);
    }

    /// <summary>
    /// Whether a deferred message is still in the sender's spool: a deferral records a schedule, which
    /// moves the message out of its segment into a file of its own (active/ID; src/Mailroom.Queue/README.md).
    /// </summary>
    public static bool IsQueued(MailroomProcess server, string queueId) => File.Exists(Path.Combine(server.Spool, "active", queueId));

    private static string DotStuff(string content)
    {
        var lines = content.Split("\r\n");
        return string.Join("\r\n", lines.Select(line => line.StartsWith('.') ? "." + line : line));
    }

    [GeneratedRegex(@"report (?<id>[0-9A-Z]+) queued")]
    private static partial Regex ReportLine();
}

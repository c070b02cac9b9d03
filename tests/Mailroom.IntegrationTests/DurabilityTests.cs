using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Mailroom.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Mailroom.IntegrationTests;

/// <summary>
/// kill -9 in the middle of a stream of messages: every message acknowledged with 250 must be
/// delivered exactly once after the restart (DESIGN.md: 250 only after fsync; per-recipient
/// progress so a restart never delivers twice); a message not acknowledged may be delivered or
/// not, but never twice; nothing stays in the spool.
/// </summary>
public sealed partial class DurabilityTests(ITestOutputHelper output)
{
    private const string Alice = ServerFixture.Alice;
    private const int Messages = 200;
    private const int Connections = 8;
    private const int KillAfterAcknowledged = 80;

    [Fact]
    public async Task EveryAcknowledgedMessageIsDeliveredExactlyOnceAcrossAKill9()
    {
        await using var server = await MailroomProcess.StartAsync("", Alice);
        var acknowledged = new ConcurrentDictionary<int, string>(); // message number -> queue ID
        var attempted = new ConcurrentDictionary<int, bool>();
        var next = 0;
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var failures = new ConcurrentQueue<string>();

        // Phase 1: concurrent senders; the one whose 250 is the KillAfterAcknowledged-th triggers the kill.
        var killer = Task.Run(async () =>
        {
            await killed.Task;
            await server.Kill9Async();
        });
        var senders = Enumerable.Range(0, Connections).Select(_ => Task.Run(() => SendUntilFailureAsync(
            server.SmtpPort,
            () => killed.Task.IsCompleted ? int.MaxValue : Interlocked.Increment(ref next),
            attempted,
            (number, queueId) =>
            {
                acknowledged[number] = queueId;
                if (acknowledged.Count >= KillAfterAcknowledged)
                {
                    killed.TrySetResult();
                }
            },
            error =>
            {
                if (!killed.Task.IsCompleted)
                {
                    failures.Enqueue(error);
                }
            }))).ToArray();
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(killed.Task.IsCompleted, $"the kill never happened: {acknowledged.Count} acknowledged\n{string.Join("\n", failures)}\n--- mailroom log ---\n{server.Log}");
        await killer.WaitAsync(MailroomProcess.WaitTimeout);
        Assert.True(failures.IsEmpty, $"a client failed before the kill:\n{string.Join("\n", failures)}\n--- mailroom log ---\n{server.Log}");

        // Phase 2: restart on the same data_dir and send the messages never attempted.
        var restartedAt = server.Log.Count;
        await server.RestartAsync();
        var recovered = await server.Log.WaitForAsync(line => line.Contains("recovered ", StringComparison.Ordinal) && line.Contains(" messages from the queue", StringComparison.Ordinal), "\"recovered N messages from the queue\"", restartedAt);
        output.WriteLine($"killed after {acknowledged.Count} acknowledged of {attempted.Count} attempted; {MessageIdsInMaildir(server).Count} in the Maildir; {recovered}");
        var resumeFrom = Volatile.Read(ref next);
        var remaining = new ConcurrentQueue<int>(Enumerable.Range(1, Messages).Where(number => !attempted.ContainsKey(number)));
        var afterRestart = Enumerable.Range(0, Connections).Select(_ => Task.Run(() => SendUntilFailureAsync(
            server.SmtpPort,
            () => remaining.TryDequeue(out var number) ? number : int.MaxValue,
            attempted,
            (number, queueId) => acknowledged[number] = queueId,
            failures.Enqueue))).ToArray();
        await Task.WhenAll(afterRestart).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.True(failures.IsEmpty, $"a client failed after the restart:\n{string.Join("\n", failures)}\n--- mailroom log ---\n{server.Log}");
        Assert.True(acknowledged.Count >= Messages - Connections, $"only {acknowledged.Count} of {Messages} acknowledged (resumed from {resumeFrom})");

        // Wait until the queue is idle: every acknowledged message in the Maildir, nothing left in the spool.
        var active = Path.Combine(server.Spool, "active");
        var incoming = Path.Combine(server.Spool, "incoming");
        await server.Log.WaitUntilAsync(
            () => Directory.GetFiles(active).Length == 0 && acknowledged.Keys.All(MessageIdsInMaildir(server).ContainsKey),
            line => line.Contains("status=sent", StringComparison.Ordinal) || line.EndsWith(": removed", StringComparison.Ordinal),
            $"an idle queue and all {acknowledged.Count} acknowledged messages delivered",
            TimeSpan.FromSeconds(60));

        var delivered = MessageIdsInMaildir(server);
        var report = $"{acknowledged.Count} acknowledged, {attempted.Count} attempted, {delivered.Count} distinct delivered";
        foreach (var (number, queueId) in acknowledged)
        {
            Assert.True(delivered.TryGetValue(number, out var files) && files.Count == 1, $"message {number} (queue ID {queueId}) delivered {files?.Count ?? 0} times; {report}");
            Assert.Contains($".M{queueId}R0.", Path.GetFileName(files![0]), StringComparison.Ordinal);
        }

        foreach (var (number, files) in delivered)
        {
            Assert.True(files.Count == 1, $"message {number} delivered {files.Count} times: {string.Join(", ", files)}; {report}");
            Assert.True(attempted.ContainsKey(number), $"message {number} delivered but never sent");
        }

        output.WriteLine(report);
        output.WriteLine(string.Join('\n', server.Log.LinesFrom(restartedAt).Where(line => line.Contains("already in maildir", StringComparison.Ordinal) || line.Contains("uncommitted", StringComparison.Ordinal))));
        Assert.Empty(Directory.GetFiles(incoming));
        Assert.Empty(Directory.GetFiles(active));
    }

    /// <summary>Sends numbered messages on one connection until the numbers run out or the connection fails.</summary>
    private static async Task SendUntilFailureAsync(int port, Func<int> take, ConcurrentDictionary<int, bool> attempted, Action<int, string> acknowledged, Action<string> failed)
    {
        RawSmtpClient? client = null;
        try
        {
            client = await RawSmtpClient.ConnectAsync(port);
            await client.CommandAsync("EHLO durability.sender.test", 250);
            while (take() is var number && number <= Messages)
            {
                attempted[number] = true;
                var reply = await client.SendMessageAsync("durability@sender.test", Alice, Encoding.ASCII.GetBytes(
                    $"From: durability@sender.test\r\nTo: {Alice}\r\nSubject: message {number}\r\nMessage-ID: <durability-{number}@sender.test>\r\n\r\nmessage number {number}\r\n.\r\n"));
                if (reply.Code != 250 || !QueuedReply.TryGetQueueId(reply.Text, out var queueId))
                {
                    failed($"message {number}: {reply}");
                    return;
                }

                acknowledged(number, queueId);
            }

            await client.CommandAsync("QUIT", 221);
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or InvalidDataException or System.Net.Sockets.SocketException or TimeoutException)
        {
            failed(error.Message + (client is null ? "" : "\n" + client.Transcript));
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
        }
    }

    /// <summary>Message number (from the Message-ID we put in) -> the Maildir files that carry it.</summary>
    private static Dictionary<int, List<string>> MessageIdsInMaildir(MailroomProcess server)
    {
        var result = new Dictionary<int, List<string>>();
        foreach (var file in server.MaildirFiles(Alice))
        {
            if (MessageNumber().Match(MaildirMessage.Header(file, "Message-ID") ?? "") is { Success: true } match)
            {
                var number = int.Parse(match.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture);
                if (!result.TryGetValue(number, out var files))
                {
                    result[number] = files = [];
                }

                files.Add(file);
            }
        }

        return result;
    }


    [GeneratedRegex(@"^<durability-(?<n>\d+)@sender\.test>$")]
    private static partial Regex MessageNumber();
}

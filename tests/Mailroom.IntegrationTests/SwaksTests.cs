using Mailroom.IntegrationTests.Infrastructure;

namespace Mailroom.IntegrationTests;

/// <summary>swaks (Debian's package) as the client: plain, STARTTLS, implicit TLS, pipelining, refusals.</summary>
public sealed class SwaksTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Alice = ServerFixture.Alice;

    private MailroomProcess Server => fixture.Server;

    public enum Port
    {
        Smtp,
        Submission,
        Submissions,
    }

    [Theory]
    [InlineData(Port.Smtp, "", "with ESMTP id")] // plain
    [InlineData(Port.Smtp, "-tls", "with ESMTPS id")] // STARTTLS
    [InlineData(Port.Smtp, "--pipeline", "with ESMTP id")] // PIPELINING
    // Submission and submissions require AUTH: SubmissionTests.
    public async Task Delivers(Port port, string option, string protocol)
    {
        var number = port switch
        {
            Port.Smtp => Server.SmtpPort,
            Port.Submission => Server.SubmissionPort,
            _ => Server.SubmissionsPort,
        };

        var result = await SwaksAsync(number, Alice, option.Length == 0 ? [] : [option]);

        var file = await AssertDeliveredAsync(result, protocol);
        if (protocol.Contains("ESMTPS", StringComparison.Ordinal))
        {
            Assert.Contains("\r\n\t(using TLSv1.", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("someone@elsewhere.test", "554 5.7.1")] // relay access denied
    [InlineData("nobody@example.test", "550 5.1.1")] // user unknown
    public async Task RecipientIsRefused(string to, string reply)
    {
        var result = await SwaksAsync(Server.SmtpPort, to);

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains(reply, result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("queued as", result.StandardOutput, StringComparison.Ordinal);
    }

    private static Task<ProcessResult> SwaksAsync(int port, string to, params string[] options) =>
        ProcessRunner.RunAsync("swaks", [
            "--server", $"127.0.0.1:{port}",
            "--to", to,
            "--from", "bob@sender.test",
            "--helo", "client.sender.test",
            "--timeout", "20",
            .. options,
        ]);

    /// <summary>swaks succeeded, the message was queued, and it is in alice's Maildir with a Received header of the expected protocol.</summary>
    private async Task<string> AssertDeliveredAsync(ProcessResult result, string protocol)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        var queueId = QueuedReply.QueueId(result.StandardOutput, result.ToString());
        var file = await Server.WaitForMaildirFileAsync(queueId, Alice);
        var text = await File.ReadAllTextAsync(file);
        Assert.StartsWith("Return-Path: <bob@sender.test>\r\nDelivered-To: alice@example.test\r\nReceived: from client.sender.test ([127.0.0.1])\r\n", text, StringComparison.Ordinal);
        Assert.Contains($"by mx.example.test (Mailroom) {protocol} {queueId}", text, StringComparison.Ordinal);
        Assert.Contains("This is a test mailing", text, StringComparison.Ordinal);
        return file;
    }

}

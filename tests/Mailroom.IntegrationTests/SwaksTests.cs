using System.Text.RegularExpressions;
using Mailroom.IntegrationTests.Infrastructure;

namespace Mailroom.IntegrationTests;

/// <summary>swaks (Debian's package) as the client: plain, STARTTLS, implicit TLS, pipelining, refusals.</summary>
public sealed partial class SwaksTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Alice = ServerFixture.Alice;

    private MailroomProcess Server => fixture.Server;

    [Fact]
    public async Task Plain()
    {
        var result = await SwaksAsync(Server.SmtpPort, Alice);

        await AssertDeliveredAsync(result, "with ESMTP id");
    }

    [Fact]
    public async Task StartTls()
    {
        var result = await SwaksAsync(Server.SmtpPort, Alice, "-tls");

        var file = await AssertDeliveredAsync(result, "with ESMTPS id");
        Assert.Contains("(using TLSv1.", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImplicitTlsOnTheSubmissionsPort()
    {
        var result = await SwaksAsync(Server.SubmissionsPort, Alice, "--tlsc");

        await AssertDeliveredAsync(result, "with ESMTPS id");
    }

    [Fact]
    public async Task StartTlsOnTheSubmissionPort()
    {
        var result = await SwaksAsync(Server.SubmissionPort, Alice, "-tls");

        await AssertDeliveredAsync(result, "with ESMTPS id");
    }

    [Fact]
    public async Task Pipelining()
    {
        var result = await SwaksAsync(Server.SmtpPort, Alice, "--pipeline");

        await AssertDeliveredAsync(result, "with ESMTP id");
    }

    [Fact]
    public async Task RelayIsRefused()
    {
        var result = await SwaksAsync(Server.SmtpPort, "someone@elsewhere.test");

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("554 5.7.1", result.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("queued as", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownUserIsRefused()
    {
        var result = await SwaksAsync(Server.SmtpPort, "nobody@example.test");

        Assert.True(result.ExitCode != 0, result.ToString());
        Assert.Contains("550 5.1.1", result.StandardOutput, StringComparison.Ordinal);
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
        var queued = QueuedAs().Match(result.StandardOutput);
        Assert.True(queued.Success, result.ToString());
        var file = await Server.WaitForMaildirFileAsync(queued.Groups["id"].Value, Alice);
        var text = await File.ReadAllTextAsync(file);
        Assert.StartsWith("Return-Path: <bob@sender.test>\r\nDelivered-To: alice@example.test\r\nReceived: from client.sender.test ([127.0.0.1])\r\n", text, StringComparison.Ordinal);
        Assert.Contains($"by mx.example.test (Mailroom) {protocol} {queued.Groups["id"].Value}", text, StringComparison.Ordinal);
        Assert.Contains("This is a test mailing", text, StringComparison.Ordinal);
        return file;
    }

    [GeneratedRegex(@"250 2\.0\.0 Ok: queued as (?<id>[0-9A-Z]+)")]
    private static partial Regex QueuedAs();
}

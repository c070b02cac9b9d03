using Mailroom.IntegrationTests.Infrastructure;

namespace Mailroom.IntegrationTests;

/// <summary><c>mailroom sendmail</c> as cron and mail(1) run it: a shell pipe into the command, the message in a local Maildir.</summary>
public sealed class SendmailTests
{
    private const string Alice = "alice@example.test";
    private const string Bob = "bob@example.test";

    /// <summary>A configuration for the sendmail command: the running server's data_dir and its smtp listener's real port.</summary>
    private static async Task<string> SendmailConfigAsync(MailroomProcess server)
    {
        var path = Path.Combine(server.Folder, "sendmail.toml");
        await File.WriteAllTextAsync(path, $"""
            hostname = "{MailroomProcess.Hostname}"
            data_dir = "{server.DataDirectory}"

            [[listen]]
            role = "smtp"
            address = "127.0.0.1:{server.SmtpPort}"

            [local]
            domains = ["{MailroomProcess.LocalDomain}"]
            """);
        return path;
    }

    [Fact]
    public async Task DashTFromAShellPipeEndsUpInTheMaildirs()
    {
        await using var server = await MailroomProcess.StartAsync("", Alice, Bob);
        var config = await SendmailConfigAsync(server);
        var script = $"""
            printf 'To: Alice <{Alice}>\nBcc: {Bob}\nSubject: from cron\n\nThe nightly job ran.\n' |
              dotnet '{Paths.MailroomDll}' sendmail -t -i -f cron@example.test -F 'Cron Daemon' --config '{config}'
            """;
        var result = await ProcessRunner.RunAsync("/bin/sh", ["-c", script]);
        Assert.True(result.ExitCode == 0, result.ToString());

        foreach (var user in new[] { Alice, Bob })
        {
            var file = Assert.Single(await server.WaitForMaildirFilesAsync(user, 1));
            Assert.Equal("<cron@example.test>", MaildirMessage.ReturnPath(file));
            Assert.Null(MaildirMessage.Header(file, "Bcc"));
            Assert.Equal("from cron", MaildirMessage.Header(file, "Subject"));
            Assert.Equal("Cron Daemon <cron@example.test>", MaildirMessage.Header(file, "From"));
            Assert.NotNull(MaildirMessage.Header(file, "Message-ID"));
            Assert.NotNull(MaildirMessage.Header(file, "Date"));
            Assert.Contains("The nightly job ran.", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ARefusedRecipientExitsNonZeroWithAClearMessage()
    {
        await using var server = await MailroomProcess.StartAsync("", Alice);
        var config = await SendmailConfigAsync(server);
        var result = await ProcessRunner.RunAsync("/bin/sh", ["-c",
            $"printf 'Subject: x\\n\\nbody\\n' | dotnet '{Paths.MailroomDll}' sendmail --config '{config}' nobody@example.test"]);

        Assert.Equal(69, result.ExitCode);
        Assert.Contains("mailroom sendmail: recipient <nobody@example.test> refused", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("550", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoServerRunningIsATemporaryFailure()
    {
        await using var server = await MailroomProcess.StartAsync("", Alice);
        var config = await SendmailConfigAsync(server);
        await server.Kill9Async();
        var result = await ProcessRunner.RunAsync("/bin/sh", ["-c",
            $"printf 'Subject: x\\n\\nbody\\n' | dotnet '{Paths.MailroomDll}' sendmail --config '{config}' {Alice}"]);

        Assert.Equal(75, result.ExitCode);
        Assert.Contains("cannot hand the message to the server at 127.0.0.1:", result.StandardError, StringComparison.Ordinal);
    }
}

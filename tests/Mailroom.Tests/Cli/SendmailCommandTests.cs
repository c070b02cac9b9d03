using Mailroom.Cli;

namespace Mailroom.Tests.Cli;

/// <summary>sendmail's option syntax and its reading of standard input.</summary>
public sealed class SendmailCommandTests
{
    [Fact]
    public void OptionsAsCronAndPhpPassThem()
    {
        Assert.True(SendmailCommand.TryParse(["-t", "-i", "-f", "root@example.test", "-FCron Daemon", "--config", "/etc/mailroom.toml", "-oem", "-odi", "bob@example.test"], out var options, out _));
        Assert.True(options.ExtractRecipients);
        Assert.True(options.IgnoreDots);
        Assert.Equal("root@example.test", options.Sender);
        Assert.Equal("Cron Daemon", options.FullName);
        Assert.Equal("/etc/mailroom.toml", options.ConfigPath);
        Assert.Equal(["bob@example.test"], options.Recipients);
    }

    [Fact]
    public void AttachedValuesAndTheNullSender()
    {
        Assert.True(SendmailCommand.TryParse(["-oi", "-f<>", "--config=/x.toml", "--", "-odd@example.test"], out var options, out _));
        Assert.Equal("", options.Sender);
        Assert.Equal("/x.toml", options.ConfigPath);
        Assert.Equal(["-odd@example.test"], options.Recipients);
    }

    [Theory]
    [InlineData("-X", "unknown option -X")]
    [InlineData("-f", "-f needs a sender address")]
    [InlineData("--config", "--config needs a file")]
    public void BadUsage(string option, string problem)
    {
        Assert.False(SendmailCommand.TryParse([option], out _, out var message));
        Assert.Equal(problem, message);
    }

    [Fact]
    public void ALoneDotEndsTheMessageUnlessDashI()
    {
        const string input = "Subject: x\n\nfirst\n.\nafter the dot\n";
        Assert.Equal("Subject: x\r\n\r\nfirst\r\n", SendmailCommand.ReadMessage(input, ignoreDots: false));
        Assert.Equal("Subject: x\r\n\r\nfirst\r\n.\r\nafter the dot\r\n", SendmailCommand.ReadMessage(input, ignoreDots: true));
    }

    [Fact]
    public async Task NoRecipientsIsAUsageError()
    {
        var stderr = new StringWriter();
        var exit = await CommandLine.RunAsync(["sendmail"], new StringReader("Subject: x\n\nbody\n"), new StringWriter(), stderr);
        Assert.Equal(SendmailCommand.ExitUsage, exit);
        Assert.Contains("no recipients", stderr.ToString(), StringComparison.Ordinal);
    }
}

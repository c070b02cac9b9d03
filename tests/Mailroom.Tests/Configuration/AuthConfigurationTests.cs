using Mailroom.Configuration;
using Mailroom.Server.Smtp;

namespace Mailroom.Tests.Configuration;

/// <summary>The keys of issue 4: [[listen]] auth, [auth], [senders].</summary>
public sealed class AuthConfigurationTests
{
    private static MailroomConfiguration Valid(string text)
    {
        var result = ConfigurationLoader.LoadText(text, "mailroom.toml");
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        return result.Configuration;
    }

    [Fact]
    public void DefaultsAreSourcedAndSafe()
    {
        var configuration = Valid("");
        Assert.True(configuration.SenderCheck);
        Assert.Empty(configuration.SenderAddresses);
        Assert.Equal(TimeSpan.FromMinutes(10), configuration.AuthenticationLimits.FailureWindow);
        Assert.Equal(5, configuration.AuthenticationLimits.FailuresBeforeDelay);
        Assert.Equal(10, configuration.AuthenticationLimits.FailuresBeforeLockout);
        Assert.Equal(
            [false, true, true],
            configuration.Listeners.Select(listener => listener.Authentication));
    }

    [Fact]
    public void KeysAreRead()
    {
        var configuration = Valid("""
            [[listen]]
            role = "smtp"
            address = "127.0.0.1:25"
            auth = true

            [auth]
            sender_check = false
            failure_window = 300
            failures_before_delay = 3
            failure_delay = 1
            failures_before_lockout = 6
            lockout = 60

            [senders]
            "alice@example.com" = ["sales@example.com", "@Alice.Example"]
            "bob@example.com" = "info@example.com"
            """);
        Assert.True(Assert.Single(configuration.Listeners).Authentication);
        Assert.Equal(SmtpListenerRole.Smtp, configuration.Listeners[0].Role);
        Assert.False(configuration.SenderCheck);
        var limits = configuration.AuthenticationLimits;
        Assert.Equal((TimeSpan.FromMinutes(5), 3, TimeSpan.FromSeconds(1), 6, TimeSpan.FromMinutes(1)),
            (limits.FailureWindow, limits.FailuresBeforeDelay, limits.FailureDelay, limits.FailuresBeforeLockout, limits.Lockout));
        Assert.Equal(["sales@example.com", "@alice.example"], configuration.SenderAddresses["ALICE@example.com"]);
        Assert.Equal(["info@example.com"], configuration.SenderAddresses["bob@example.com"]);
    }

    [Theory]
    [InlineData("[[listen]]\nrole = \"submission\"\naddress = \"127.0.0.1:587\"\nauth = false", "listen.auth", "always offers AUTH")]
    [InlineData("[[listen]]\nrole = \"smtp\"\naddress = \"127.0.0.1:25\"\nauth = \"yes\"", "listen.auth", "expected true or false")]
    [InlineData("[auth]\nsender_check = 1", "auth.sender_check", "expected true or false")]
    [InlineData("[auth]\nlockout = -1", "auth.lockout", "expected an integer from 0")]
    [InlineData("[auth]\nfailures = 3", "auth.failures", "unknown key")]
    [InlineData("[senders]\n\"bob\" = \"bob@example.com\"", "senders.\"bob\"", "user's address")]
    [InlineData("[senders]\n\"bob@example.com\" = [\"not an address\"]", "senders.\"bob@example.com\"", "expected an address")]
    public void ErrorsNameTheKey(string text, string key, string message)
    {
        var result = ConfigurationLoader.LoadText(text, "mailroom.toml");
        var error = Assert.Single(result.Errors);
        Assert.Equal(key, error.Key);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}

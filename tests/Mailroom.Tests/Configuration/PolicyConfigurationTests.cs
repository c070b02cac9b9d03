using Mailroom.Configuration;
using Mailroom.Server.Policy;
using Mailroom.Server.Smtp;

namespace Mailroom.Tests.Configuration;

/// <summary>The [policy] section.</summary>
public sealed class PolicyConfigurationTests
{
    private static MailroomConfiguration Valid(string text)
    {
        var result = ConfigurationLoader.LoadText(text, "mailroom.toml");
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        return result.Configuration;
    }

    [Fact]
    public void NoSection_GivesTheDefaults()
    {
        var policy = Valid("").Policy;

        Assert.Equal([SmtpListenerRole.Smtp], policy.Roles);
        Assert.False(policy.ApplyToAuthenticated);
        Assert.True(policy.RejectUnknownSenderDomain);
        Assert.Equal(ReverseDnsMode.Record, policy.ReverseDns);
        Assert.True(policy.CheckHelo);
        Assert.Empty(policy.DnsblZones);
        Assert.False(policy.Greylisting);
        Assert.Equal(PolicyLimits.Default, policy.Limits);
        Assert.Equal(10, policy.Limits.HarvestTarpitAfter);
        Assert.Equal(20, policy.Limits.HarvestDisconnectAfter);
        Assert.Equal(50, policy.Limits.ConnectionsPerClient);
        Assert.Equal(TimeSpan.FromSeconds(6), policy.Limits.PregreetWait);
        Assert.Equal(TimeSpan.FromMinutes(5), policy.Limits.GreylistDelay);
    }

    [Fact]
    public void EveryKey_IsRead()
    {
        var configuration = Valid("""
            data_dir = "/var/lib/mailroom"
            [policy]
            listeners = ["smtp", "submission"]
            apply_to_authenticated = true
            reject_unknown_sender_domain = false
            reverse_dns = "require_confirmed"
            check_helo = false
            helo_our_names = ["MX2.Example.com."]
            dnsbl = ["zen.example.org", "bl.example.net"]
            greylisting = true
            greylist_delay = 60
            greylist_retry_window = 3600
            greylist_max_age = 86400
            greylist_auto_whitelist = 0
            harvest_tarpit_after = 3
            harvest_disconnect_after = 5
            harvest_tarpit_step = 0.5
            harvest_tarpit_max = 4
            harvest_window = 120
            harvest_cooldown = 30
            connections_per_client = 7
            connection_rate_per_minute = 0
            messages_per_client_per_hour = 11
            recipients_per_client_per_hour = 12
            pregreet_wait = 0.2
            """);
        var policy = configuration.Policy;

        Assert.Equal([SmtpListenerRole.Smtp, SmtpListenerRole.Submission], policy.Roles.Order());
        Assert.True(policy.ApplyToAuthenticated);
        Assert.False(policy.RejectUnknownSenderDomain);
        Assert.Equal(ReverseDnsMode.RequireConfirmed, policy.ReverseDns);
        Assert.False(policy.CheckHelo);
        Assert.Equal(["mx2.example.com"], policy.OurNames);
        Assert.Equal(["zen.example.org", "bl.example.net"], policy.DnsblZones);
        Assert.True(policy.Greylisting);
        Assert.Equal("/var/lib/mailroom/greylist.jsonl", configuration.GreylistFile);
        Assert.Equal(new PolicyLimits
        {
            GreylistDelay = TimeSpan.FromSeconds(60),
            GreylistRetryWindow = TimeSpan.FromHours(1),
            GreylistMaxAge = TimeSpan.FromDays(1),
            GreylistAutoWhitelistAfter = 0,
            HarvestTarpitAfter = 3,
            HarvestDisconnectAfter = 5,
            HarvestTarpitStep = TimeSpan.FromMilliseconds(500),
            HarvestTarpitMax = TimeSpan.FromSeconds(4),
            HarvestWindow = TimeSpan.FromMinutes(2),
            HarvestCooldown = TimeSpan.FromSeconds(30),
            ConnectionsPerClient = 7,
            ConnectionRatePerMinute = 0,
            MessagesPerClientPerHour = 11,
            RecipientsPerClientPerHour = 12,
            PregreetWait = TimeSpan.FromMilliseconds(200),
        }, policy.Limits);
    }

    [Theory]
    [InlineData("[policy]\nreverse_dns = \"strict\"", 2, "policy.reverse_dns", "expected \"record\", \"require_ptr\" or \"require_confirmed\", got \"strict\"")]
    [InlineData("[policy]\nlisteners = [\"mx\"]", 2, "policy.listeners", "expected \"smtp\", \"submission\" or \"submissions\", got \"mx\"")]
    [InlineData("[policy]\ngreylisting = \"yes\"", 2, "policy.greylisting", "expected true or false, got \"yes\"")]
    [InlineData("[policy]\ngreylist_delay = -1", 2, "policy.greylist_delay", "expected a number of seconds, 0 or more, got -1")]
    [InlineData("[policy]\nharvest_window = 0", 2, "policy.harvest_window", "expected a positive number of seconds, got 0")]
    [InlineData("[policy]\ndnsbl = [\"not a zone\"]", 2, "policy.dnsbl", "expected a domain name such as mx.example.com, got \"not a zone\"")]
    [InlineData("[policy]\ngrelisting = true", 2, "policy.grelisting", "unknown key \"grelisting\" (did you mean \"greylisting\"?)")]
    [InlineData("[policy]\nharvest_tarpit_after = 20", 1, "policy.harvest_tarpit_after", "must be below harvest_disconnect_after (20), got 20")]
    public void EachErrorNamesItsLineAndKey(string text, int line, string key, string message)
    {
        var result = ConfigurationLoader.LoadText(text, "mailroom.toml");

        Assert.False(result.IsValid);
        Assert.Equal(new ConfigurationError("mailroom.toml", line, key, message), Assert.Single(result.Errors));
    }
}

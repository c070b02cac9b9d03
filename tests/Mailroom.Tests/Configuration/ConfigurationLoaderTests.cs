using System.Net;
using Mailroom.Protocol;
using Mailroom.Server.Smtp;
using Mailroom.Configuration;

namespace Mailroom.Tests.Configuration;

public sealed class ConfigurationLoaderTests
{
    private static MailroomConfiguration Valid(string text)
    {
        var result = ConfigurationLoader.LoadText(text, "mailroom.toml");
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        return result.Configuration;
    }

    private static ConfigurationError SingleError(string text)
    {
        var result = ConfigurationLoader.LoadText(text, "mailroom.toml");
        Assert.False(result.IsValid);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void NoFileGivesEveryDefault()
    {
        var result = ConfigurationLoader.Load(null);

        Assert.True(result.IsValid);
        var configuration = result.Configuration;
        Assert.False(string.IsNullOrEmpty(configuration.Hostname));
        Assert.Equal(new[] { configuration.Hostname, "localhost" }.Distinct(), configuration.LocalDomains);
        Assert.True(Path.IsPathRooted(configuration.DataDirectory));
        Assert.Equal(
            [
                new ListenerConfiguration(SmtpListenerRole.Smtp, IPEndPoint.Parse("127.0.0.1:2525")),
                new ListenerConfiguration(SmtpListenerRole.Submission, IPEndPoint.Parse("127.0.0.1:2587")),
                new ListenerConfiguration(SmtpListenerRole.Submissions, IPEndPoint.Parse("127.0.0.1:2465")),
            ],
            configuration.Listeners);
        Assert.Equal(TlsConfiguration.None, configuration.Tls);
        Assert.Empty(configuration.DnsServers);
        Assert.Empty(configuration.Aliases);
        Assert.Equal([IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")], configuration.TrustedNetworks);
        Assert.Equal(BareLineEndingPolicy.Reject, configuration.BareLineEnding);
        Assert.Equal(52428800, configuration.Limits.MessageSize);
        Assert.Equal(1000, configuration.Limits.Recipients);
        Assert.Equal(20, configuration.Limits.Errors);
        Assert.Equal(512, configuration.Limits.CommandLine);
        Assert.Equal(1000, configuration.Limits.TextLine);
        Assert.Equal(1000, configuration.Limits.Connections);
        Assert.Equal(TimeSpan.FromMinutes(5), configuration.Limits.CommandTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), configuration.Limits.DataTimeout);
    }

    [Fact]
    public void LocalDomainsDefaultToHostnameAndLocalhost()
    {
        Assert.Equal(["mx.example.com", "localhost"], Valid("hostname = \"MX.Example.com.\"").LocalDomains);
    }

    [Fact]
    public void FullFileIsRead()
    {
        var directory = Directory.CreateTempSubdirectory("mailroom-config-");
        try
        {
            var certificate = Path.Combine(directory.FullName, "fullchain.pem");
            var key = Path.Combine(directory.FullName, "privkey.pem");
            File.WriteAllText(certificate, "");
            File.WriteAllText(key, "");
            var configuration = Valid($$"""
                hostname = "mx.example.com"
                data_dir = "/srv/mailroom"

                [[listen]]
                role = "smtp"
                address = "0.0.0.0:25"

                [[listen]]
                role = "submission"
                address = "[::1]:587"

                [[listen]]
                role = "submissions"
                address = "127.0.0.1:0"

                [tls]
                certificate = "{{certificate}}"
                private_key = "{{key}}"

                [dns]
                servers = ["127.0.0.1:5353", "192.0.2.53", "::1", "[2001:db8::53]:53"]

                [local]
                domains = ["Example.COM.", "bücher.example"]

                [aliases]
                "postmaster@Example.com" = "Alice@example.com"
                "@example.com" = ["alice@example.com", "bob@elsewhere.example"]

                [relay]
                trusted_networks = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "::1"]

                [smtp]
                bare_line_ending = "normalize"

                [limits]
                message_size = 10485760
                recipients = 100
                errors = 5
                command_line = 1024
                text_line = 2000
                connections = 50
                command_timeout = 60
                data_timeout = 120
                min_data_rate = 0
                data_rate_grace = 30
                """);

            Assert.Equal("mx.example.com", configuration.Hostname);
            Assert.Equal("/srv/mailroom", configuration.DataDirectory);
            Assert.Equal("/srv/mailroom/users", configuration.UsersFile);
            Assert.Equal(
                [
                    new ListenerConfiguration(SmtpListenerRole.Smtp, IPEndPoint.Parse("0.0.0.0:25")),
                    new ListenerConfiguration(SmtpListenerRole.Submission, IPEndPoint.Parse("[::1]:587")),
                    new ListenerConfiguration(SmtpListenerRole.Submissions, IPEndPoint.Parse("127.0.0.1:0")),
                ],
                configuration.Listeners);
            Assert.Equal(new TlsConfiguration(certificate, key), configuration.Tls);
            Assert.Equal(
                [IPEndPoint.Parse("127.0.0.1:5353"), IPEndPoint.Parse("192.0.2.53:53"), IPEndPoint.Parse("[::1]:53"), IPEndPoint.Parse("[2001:db8::53]:53")],
                configuration.DnsServers);
            Assert.Equal(["example.com", "xn--bcher-kva.example"], configuration.LocalDomains);
            Assert.Equal(["Alice@example.com"], configuration.Aliases["postmaster@example.com"]);
            Assert.Equal(["alice@example.com", "bob@elsewhere.example"], configuration.Aliases["@example.com"]);
            Assert.Equal(
                [IPNetwork.Parse("192.0.2.0/24"), IPNetwork.Parse("2001:db8::/32"), IPNetwork.Parse("198.51.100.7/32"), IPNetwork.Parse("::1/128")],
                configuration.TrustedNetworks);
            Assert.Equal(BareLineEndingPolicy.Normalize, configuration.BareLineEnding);
            Assert.Equal(
                MailroomLimits.Default with
                {
                    MessageSize = 10485760,
                    Recipients = 100,
                    Errors = 5,
                    CommandLine = 1024,
                    TextLine = 2000,
                    Connections = 50,
                    CommandTimeout = TimeSpan.FromSeconds(60),
                    DataTimeout = TimeSpan.FromSeconds(120),
                    MinimumDataRate = 0,
                    DataRateGrace = TimeSpan.FromSeconds(30),
                },
                configuration.Limits);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("hostname = \"mx\"\nhostnme = \"x\"", 2, "hostnme", "unknown key \"hostnme\" (did you mean \"hostname\"?)")]
    [InlineData("[limits]\nmessage_size = \"ten\"", 2, "limits.message_size", "expected a positive integer, got \"ten\"")]
    [InlineData("[limits]\n\nrecipients = 0", 3, "limits.recipients", "expected a positive integer up to 2147483647, got 0")]
    [InlineData("[limits]\ncommand_line = 511", 2, "limits.command_line", "expected an integer from 512 to 2147483647 (RFC 5321 §4.5.3.1.4), got 511")]
    [InlineData("[limits]\ntext_line = 999", 2, "limits.text_line", "expected an integer from 1000 to 2147483647 (RFC 5321 §4.5.3.1.6), got 999")]
    [InlineData("[limits]\ncolour = 1", 2, "limits.colour", "unknown key \"colour\"")]
    [InlineData("hostname = \"mx_1.example.com\"", 1, "hostname", "expected a domain name such as mx.example.com, got \"mx_1.example.com\"")]
    [InlineData("hostname = 42", 1, "hostname", "expected a string, got 42")]
    [InlineData("data_dir = \"var/lib\"", 1, "data_dir", "expected an absolute path, got \"var/lib\"")]
    [InlineData("[[listen]]\nrole = \"mta\"\naddress = \"0.0.0.0:25\"", 2, "listen.role", "expected \"smtp\", \"submission\" or \"submissions\", got \"mta\"")]
    [InlineData("[[listen]]\nrole = \"smtp\"\naddress = \"0.0.0.0\"", 3, "listen.address", "expected an IP address and port such as \"0.0.0.0:25\" or \"[::]:25\", got \"0.0.0.0\"")]
    [InlineData("[[listen]]\nrole = \"smtp\"\naddress = \"::1:25\"", 3, "listen.address", "expected an IP address and port such as \"0.0.0.0:25\" or \"[::]:25\", got \"::1:25\"")]
    [InlineData("[[listen]]\nrole = \"smtp\"\naddress = \"1.2.3.4:65536\"", 3, "listen.address", "expected an IP address and port such as \"0.0.0.0:25\" or \"[::]:25\", got \"1.2.3.4:65536\"")]
    [InlineData("[[listen]]\nrole = \"smtp\"", 2, "listen", "missing key \"address\"")]
    [InlineData("[[listen]]\nrole = \"smtp\"\naddress = \"[::1]:25\"\n[[listen]]\nrole = \"submission\"\naddress = \"[::1]:25\"", 6, "listen.address", "[::1]:25 is already a listener")]
    [InlineData("listen = \"0.0.0.0:25\"", 1, "listen", "expected [[listen]] tables, got \"0.0.0.0:25\"")]
    [InlineData("[dns]\nservers = [\"dns.example\"]", 2, "dns.servers", "expected an IP address and port such as \"192.0.2.53\", \"192.0.2.53:53\" or \"[2001:db8::53]:53\", got \"dns.example\"")]
    [InlineData("[dns]\nservers = \"127.0.0.1\"", 2, "dns.servers", "expected an array of strings, got \"127.0.0.1\"")]
    [InlineData("[local]\ndomains = [\"example.com\", \"exa mple.com\"]", 2, "local.domains", "expected a domain name such as mx.example.com, got \"exa mple.com\"")]
    [InlineData("[local]\ndomains = [1]", 2, "local.domains", "expected a string, got 1")]
    [InlineData("[aliases]\n\"info@example.com\" = \"alice\"", 2, "aliases.\"info@example.com\"", "expected an address such as user@example.com, got \"alice\"")]
    [InlineData("[aliases]\n\"info\" = \"alice@example.com\"", 2, "aliases.\"info\"", "expected an address (\"user@example.com\") or a catch-all (\"@example.com\") as the alias")]
    [InlineData("[aliases]\n\"info@example.com\" = []", 2, "aliases.\"info@example.com\"", "expected at least one address")]
    [InlineData("[aliases]\n\"a@x.com\" = \"b@x.com\"\n\"A@X.com\" = \"c@x.com\"", 3, "aliases.\"A@X.com\"", "the alias A@x.com is defined twice")]
    [InlineData("[relay]\ntrusted_networks = [\"192.0.2.0/33\"]", 2, "relay.trusted_networks", "expected a network such as \"192.0.2.0/24\" or \"2001:db8::/32\", got \"192.0.2.0/33\"")]
    [InlineData("[relay]\ntrusted_networks = [\"192.0.2.1/24\"]", 2, "relay.trusted_networks", "expected a network such as \"192.0.2.0/24\" or \"2001:db8::/32\", got \"192.0.2.1/24\" (the address has bits set past the prefix: did you mean \"192.0.2.0/24\"?)")]
    [InlineData("[smtp]\nbare_line_ending = \"strip\"", 2, "smtp.bare_line_ending", "expected \"reject\" or \"normalize\", got \"strip\"")]
    [InlineData("smtp = 1", 1, "smtp", "expected a table ([smtp]), got 1")]
    public void EachErrorNamesItsLineAndKey(string text, int line, string key, string message)
    {
        var error = SingleError(text);

        Assert.Equal(new ConfigurationError("mailroom.toml", line, key, message), error);
    }

    [Fact]
    public void MissingCertificateFileIsAnError()
    {
        var key = Path.GetTempFileName();
        try
        {
            var error = SingleError($"[tls]\ncertificate = \"/nonexistent/mailroom-test.pem\"\nprivate_key = \"{key}\"");

            Assert.Equal(new ConfigurationError("mailroom.toml", 2, "tls.certificate", "no such file: /nonexistent/mailroom-test.pem"), error);
        }
        finally
        {
            File.Delete(key);
        }
    }

    [Fact]
    public void CertificateWithoutKeyIsAnError()
    {
        var file = Path.GetTempFileName();
        try
        {
            var result = ConfigurationLoader.LoadText($"\n[tls]\ncertificate = \"{file}\"", "mailroom.toml");

            Assert.Equal([new ConfigurationError("mailroom.toml", 2, "tls", "\"certificate\" and \"private_key\" go together: \"private_key\" is missing")], result.Errors);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void ErrorPrintsAsFileLineKeyMessage()
    {
        Assert.Equal(
            "mailroom.toml:12: limits.message_size: expected a positive integer, got \"ten\"",
            new ConfigurationError("mailroom.toml", 12, "limits.message_size", "expected a positive integer, got \"ten\"").ToString());
        Assert.Equal("mailroom.toml:3: oops", new ConfigurationError("mailroom.toml", 3, "", "oops").ToString());
    }

    [Fact]
    public void SeveralErrorsAreReportedAtOnceInLineOrder()
    {
        var result = ConfigurationLoader.LoadText("""
            [limits]
            message_size = "ten"
            [smtp]
            bare_line_ending = "strip"
            [local]
            domains = ["bad domain"]
            """, "mailroom.toml");

        Assert.Equal([2, 4, 6], result.Errors.Select(error => error.Line));
        Assert.Equal(["limits.message_size", "smtp.bare_line_ending", "local.domains"], result.Errors.Select(error => error.Key));
    }

    [Fact]
    public void SyntaxErrorsAreReportedWithTheirLines()
    {
        var result = ConfigurationLoader.LoadText("hostname = \"mx.example.com\"\nlimits = \n[unterminated\n", "mailroom.toml");

        Assert.False(result.IsValid);
        Assert.Equal([2, 3], result.Errors.Select(error => error.Line).Distinct());
        Assert.All(result.Errors, error => Assert.Equal("mailroom.toml", error.File));
    }

    [Fact]
    public void DuplicateKeyIsASyntaxError()
    {
        var error = SingleError("hostname = \"a.example\"\nhostname = \"b.example\"");

        Assert.Equal(2, error.Line);
        Assert.Contains("hostname", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileIsAnErrorNamingIt()
    {
        var path = Path.Combine(Path.GetTempPath(), "mailroom-" + Guid.NewGuid().ToString("N"), "mailroom.toml");

        var result = ConfigurationLoader.Load(path);

        Assert.Equal([new ConfigurationError(path, 0, "", "no such file")], result.Errors);
        Assert.Equal($"{path}: no such file", result.Errors[0].ToString());
    }

    [Fact]
    public void FileIsNamedInErrors()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "[limits]\nerrors = -1\n");

            var error = Assert.Single(ConfigurationLoader.Load(path).Errors);

            Assert.Equal($"{path}:2: limits.errors: expected a positive integer up to 2147483647, got -1", error.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }
}

using System.Net;
using System.Text.RegularExpressions;
using Mailroom.Authentication.Dkim;
using Mailroom.Cli;
using Mailroom.Dns;
using MimeKit;

namespace Mailroom.Tests.Cli;

public sealed partial class DkimKeygenTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("mailroom-dkim-");
    private readonly string _config;

    public DkimKeygenTests()
    {
        _config = Path.Combine(_directory.FullName, "mailroom.toml");
        File.WriteAllText(_config, $"""
            hostname = "mx.example.com"
            data_dir = "{_directory.FullName}"
            """);
    }

    public void Dispose() => _directory.Delete(recursive: true);

    private static async Task<(int Code, string Out, string Error)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CommandLine.RunAsync(args, new StringReader(""), stdout, stderr, promptPassword: _ => null);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("rsa", "k=rsa", 2048)]
    [InlineData("ed25519", "k=ed25519", 256)]
    public async Task KeygenWritesAKeyThatSignsAndPrintsItsRecord(string algorithm, string keyType, int bits)
    {
        var (code, output, error) = await Run("dkim", "keygen", "--domain", "Example.COM", "--selector", "m1", "--algorithm", algorithm, "--config", _config);

        Assert.Equal((0, ""), (code, error));
        var path = Path.Combine(_directory.FullName, "dkim", "example.com", "m1.key");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", File.ReadAllText(path), StringComparison.Ordinal);

        // The zone line: quoted strings of at most 255 characters, concatenated they are the key record.
        var zoneLine = output.Split('\n').Single(l => l.StartsWith("m1._domainkey.example.com IN TXT ( \"", StringComparison.Ordinal));
        Assert.EndsWith("\" )", zoneLine, StringComparison.Ordinal);
        var strings = QuotedString().Matches(zoneLine).Select(m => m.Groups[1].Value).ToList();
        Assert.All(strings, s => Assert.InRange(s.Length, 1, 255));
        var record = string.Concat(strings);
        Assert.StartsWith($"v=DKIM1; {keyType}; p=", record, StringComparison.Ordinal);
        Assert.Contains($"[[dkim]]\ndomain = \"example.com\"\nselector = \"m1\"\nprivate_key = \"{path}\"\n", output, StringComparison.Ordinal);

        // The key signs, and the signature verifies against the printed record.
        var signing = DkimSigning.Load([new DkimSigningKey("example.com", "m1", path)], out var errors);
        Assert.Empty(errors);
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("", "a@example.com"));
        message.Subject = "keygen";
        message.Body = new TextPart("plain") { Text = "hello\n" };
        Assert.Equal(1, signing.Sign(message, "example.com"));
        using var stream = new MemoryStream();
        message.WriteTo(stream);
        var results = await new DkimVerification(new OneTxtRecord("m1._domainkey.example.com", record), TimeProvider.System)
            .VerifyAsync(stream.ToArray(), CancellationToken.None);
        Assert.Equal((DkimResult.Pass, bits), (results.Single().Result, results.Single().KeyBits));
    }

    [Fact]
    public async Task KeygenNeverOverwritesAKey()
    {
        Assert.Equal(0, (await Run("dkim", "keygen", "--domain", "example.com", "--selector", "m1", "--config", _config)).Code);
        var before = File.ReadAllText(Path.Combine(_directory.FullName, "dkim", "example.com", "m1.key"));

        var (code, _, error) = await Run("dkim", "keygen", "--domain", "example.com", "--selector", "m1", "--config", _config);

        Assert.Equal(CommandLine.Failure, code);
        Assert.Contains("exists", error, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(Path.Combine(_directory.FullName, "dkim", "example.com", "m1.key")));
    }

    [Theory]
    [InlineData("dkim", "keygen", "--selector", "m1")]
    [InlineData("dkim", "keygen", "--domain", "example.com", "--selector", "m1", "--algorithm", "dsa")]
    [InlineData("dkim", "keygen", "--domain", "../etc", "--selector", "m1")]
    [InlineData("dkim", "keygen", "--domain", "example.com", "--selector", "../x")]
    [InlineData("dkim", "rotate")]
    public async Task BadUsage(params string[] args)
    {
        var (code, _, error) = await Run(args);

        Assert.Equal(CommandLine.Usage, code);
        Assert.StartsWith("mailroom: ", error, StringComparison.Ordinal);
    }

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex QuotedString();

    private sealed class OneTxtRecord(string name, string text) : IDnsResolver
    {
        public Task<DnsAnswer<MxRecord>> GetMxAsync(string domain, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<MxRecord>.NameNotFound);

        public Task<DnsAnswer<IPAddress>> GetAddressesAsync(string host, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<IPAddress>.NameNotFound);

        public Task<DnsAnswer<string>> GetTxtAsync(string query, CancellationToken cancellationToken) =>
            Task.FromResult(query == name ? DnsAnswer<string>.Ok([text]) : DnsAnswer<string>.NameNotFound);

        public Task<DnsAnswer<string>> GetPtrAsync(IPAddress address, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<string>.NameNotFound);
    }
}

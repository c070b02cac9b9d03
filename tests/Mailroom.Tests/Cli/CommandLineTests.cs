using Mailroom.Cli;

namespace Mailroom.Tests.Cli;

public sealed class CommandLineTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("mailroom-cli-");
    private readonly string _config;

    public CommandLineTests()
    {
        _config = Path.Combine(_directory.FullName, "mailroom.toml");
        File.WriteAllText(_config, $"""
            hostname = "mx.example.com"
            data_dir = "{_directory.FullName}"
            [local]
            domains = ["example.com"]
            """);
    }

    public void Dispose() => _directory.Delete(recursive: true);

    private static async Task<(int Code, string Out, string Error)> Run(string stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CommandLine.RunAsync(args, new StringReader(stdin), stdout, stderr, promptPassword: _ => null);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task UsersAddListRemove()
    {
        var added = await Run("s3cret\n", "users", "add", "Alice@Example.com", "--password-stdin", "--config", _config);
        Assert.Equal((0, "added Alice@example.com\n", ""), added);

        var listed = await Run("", "users", "list", "--config", _config);
        Assert.Equal((0, "Alice@example.com\n", ""), listed);
        Assert.Contains("Alice@example.com\tSCRAM-SHA-256$", File.ReadAllText(Path.Combine(_directory.FullName, "users")), StringComparison.Ordinal);

        var changed = await Run("other\n", "users", "add", "alice@example.com", "--password-stdin", "--config", _config);
        Assert.Equal((0, "changed the password of alice@example.com\n", ""), changed);

        var removed = await Run("", "users", "remove", "alice@example.com", "--config", _config);
        Assert.Equal((0, "removed alice@example.com\n", ""), removed);

        Assert.Equal((0, "", ""), await Run("", "users", "list", "--config", _config));
        Assert.Equal(1, (await Run("", "users", "remove", "alice@example.com", "--config", _config)).Code);
    }

    [Fact]
    public async Task UsersPasswdChangesOnlyAnExistingUser()
    {
        var missing = await Run("pw\n", "users", "passwd", "carol@example.com", "--password-stdin", "--config", _config);
        Assert.Equal(1, missing.Code);
        Assert.Contains("no such user: carol@example.com", missing.Error, StringComparison.Ordinal);

        await Run("first\n", "users", "add", "carol@example.com", "--password-stdin", "--config", _config);
        var before = File.ReadAllText(Path.Combine(_directory.FullName, "users"));
        var changed = await Run("second\n", "users", "passwd", "carol@example.com", "--password-stdin", "--config", _config);

        Assert.Equal((0, "changed the password of carol@example.com\n", ""), changed);
        Assert.NotEqual(before, File.ReadAllText(Path.Combine(_directory.FullName, "users")));
        var store = new Mailroom.Server.Users.UserStore(Path.Combine(_directory.FullName, "users"), TimeProvider.System);
        Assert.True(store.FindSecret("carol@example.com")!.Verify("second"));
    }

    [Fact]
    public async Task UsersAddWarnsAboutANonLocalDomain()
    {
        var (code, _, error) = await Run("pw\n", "users", "add", "bob@example.org", "--password-stdin", "--config", _config);

        Assert.Equal(0, code);
        Assert.Equal("warning: example.org is not a local domain (local domains: example.com)\n", error);
    }

    [Fact]
    public async Task UsersAddRefusesAnEmptyPasswordAndABadAddress()
    {
        Assert.Equal(1, (await Run("\n", "users", "add", "bob@example.com", "--password-stdin", "--config", _config)).Code);
        Assert.Equal(1, (await Run("pw\n", "users", "add", "bob", "--password-stdin", "--config", _config)).Code);
        Assert.False(File.Exists(Path.Combine(_directory.FullName, "users")));
    }

    [Fact]
    public async Task UsersAddWithoutATerminalAsksForPasswordStdin()
    {
        var (code, _, error) = await Run("", "users", "add", "bob@example.com", "--config", _config);

        Assert.Equal(1, code);
        Assert.Contains("--password-stdin", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersAddPromptsTwiceAndRefusesAMismatch()
    {
        var answers = new Queue<string>(["one", "two"]);
        var stderr = new StringWriter();

        var code = await CommandLine.RunAsync(
            ["users", "add", "bob@example.com", "--config", _config], TextReader.Null, TextWriter.Null, stderr, _ => answers.Dequeue());

        Assert.Equal(1, code);
        Assert.Equal("the passwords differ\n", stderr.ToString());
    }

    [Fact]
    public async Task ConfigCheckReportsOk()
    {
        var (code, output, error) = await Run("", "config", "check", "--config", _config);

        Assert.Equal(0, code);
        Assert.StartsWith($"configuration OK: {_config}\n", output, StringComparison.Ordinal);
        Assert.Contains("mx.example.com", output, StringComparison.Ordinal);
        Assert.Equal("", error);
    }

    [Fact]
    public async Task ConfigCheckPrintsEveryError()
    {
        File.WriteAllText(_config, "hostnme = \"x\"\n[limits]\nmessage_size = \"ten\"\n");

        var (code, output, error) = await Run("", "config", "check", "--config", _config);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal(
            $"{_config}:1: hostnme: unknown key \"hostnme\" (did you mean \"hostname\"?)\n" +
            $"{_config}:3: limits.message_size: expected a positive integer, got \"ten\"\n",
            error);
    }

    [Fact]
    public async Task ConfigCheckOfAMissingFileFails()
    {
        var missing = Path.Combine(_directory.FullName, "absent.toml");

        Assert.Equal((1, "", $"{missing}: no such file\n"), await Run("", "config", "check", "--config", missing));
    }

    [Fact]
    public async Task VersionPrintsTheVersion()
    {
        Assert.Equal((0, "mailroom 0.1.0\n", ""), await Run("", "version"));
    }

    [Theory]
    [InlineData("help")]
    [InlineData("--help")]
    [InlineData("users", "-h")]
    public async Task HelpPrintsUsage(params string[] args)
    {
        var (code, output, _) = await Run("", args);

        Assert.Equal(0, code);
        Assert.StartsWith("usage: mailroom", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData]
    [InlineData("frobnicate")]
    [InlineData("users")]
    [InlineData("users", "add")]
    [InlineData("config", "check", "--verbose")]
    [InlineData("config", "check", "--config")]
    [InlineData("users", "list", "--password-stdin")]
    public async Task BadUsageExitsWith2(params string[] args)
    {
        var (code, output, error) = await Run("", args);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("usage: mailroom", error, StringComparison.Ordinal);
    }
}

using Mailroom.Server.Users;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Server.Tests.Users;

public sealed class UserStoreTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();
    private readonly FakeTimeProvider _time = new();
    private readonly string _path;

    public UserStoreTests() => _path = Path.Combine(_directory.Path, "users");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void MissingFileMeansNoUsers()
    {
        var store = new UserStore(_path, _time);

        Assert.Empty(store.List());
        Assert.False(store.Contains("alice@example.com"));
    }

    [Fact]
    public void AddedUserVerifiesItsPasswordAndIsFoundCaseInsensitively()
    {
        var store = new UserStore(_path, _time);

        store.Add("Alice@Example.COM", "secret one");

        Assert.Equal(["Alice@example.com"], store.List());
        Assert.True(store.Contains("alice@example.com"));
        Assert.True(store.FindSecret("ALICE@example.com")!.Verify("secret one"));
        Assert.False(store.FindSecret("alice@example.com")!.Verify("secret two"));
        Assert.Null(store.FindSecret("bob@example.com"));
    }

    [Fact]
    public void AddAgainReplacesThePassword()
    {
        var store = new UserStore(_path, _time);
        store.Add("alice@example.com", "old");

        store.Add("alice@example.com", "new");

        Assert.Single(store.List());
        Assert.True(store.FindSecret("alice@example.com")!.Verify("new"));
        Assert.False(store.FindSecret("alice@example.com")!.Verify("old"));
    }

    [Fact]
    public void RemoveDeletesOnlyThatUser()
    {
        var store = new UserStore(_path, _time);
        store.Add("alice@example.com", "a");
        store.Add("bob@example.com", "b");

        Assert.True(store.Remove("ALICE@example.com"));
        Assert.False(store.Remove("alice@example.com"));

        Assert.Equal(["bob@example.com"], new UserStore(_path, _time).List());
    }

    [Fact]
    public void FileIsWrittenWithMode0600AndNoTemporaryLeft()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // no Unix file modes there; CI runs on Linux
        }

        var store = new UserStore(_path, _time);

        store.Add("alice@example.com", "a");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path));
        Assert.False(File.Exists(_path + ".tmp"));
        var line = Assert.Single(File.ReadAllLines(_path));
        Assert.StartsWith("alice@example.com\tSCRAM-SHA-256$100000:", line, StringComparison.Ordinal);
    }

    [Fact]
    public void ReloadsAfterAnExternalChangeOnceTheRecheckIntervalPassed()
    {
        var reader = new UserStore(_path, _time);
        Assert.False(reader.Contains("bob@example.com"));

        // Another process (`mailroom users add`) writes the file.
        new UserStore(_path, _time).Add("bob@example.com", "b");

        Assert.False(reader.Contains("bob@example.com"));
        _time.Advance(UserStore.RecheckInterval);
        Assert.True(reader.Contains("bob@example.com"));
    }

    [Fact]
    public void MalformedLineIsReportedWithFileAndLine()
    {
        File.WriteAllText(_path, "# users\n\nalice@example.com\tSCRAM-SHA-256$1:AAAA$AAAA:AAAA\n");

        var error = Assert.Throws<UsersFileException>(() => new UserStore(_path, _time).List());

        Assert.Equal(3, error.Line);
        Assert.StartsWith(_path + ":3: ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no tab here")]
    [InlineData("not-an-address\tSCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")]
    [InlineData("a@example.com\tx\ty")]
    public void EachKindOfMalformedLineIsRejected(string line)
    {
        File.WriteAllText(_path, line + "\n");

        Assert.Equal(1, Assert.Throws<UsersFileException>(() => new UserStore(_path, _time).List()).Line);
    }

    [Fact]
    public void KeepsTheLastGoodCopyWhenTheFileTurnsMalformed()
    {
        var store = new UserStore(_path, _time);
        store.Add("alice@example.com", "a");

        File.AppendAllText(_path, "garbage line\n");
        _time.Advance(UserStore.RecheckInterval);

        Assert.True(store.Contains("alice@example.com"));
        Assert.Equal(2, store.LastError?.Line);
    }

    [Fact]
    public void DoesNotRewriteAMalformedFile()
    {
        File.WriteAllText(_path, "garbage line\n");
        var store = new UserStore(_path, _time);

        Assert.Throws<UsersFileException>(() => store.Add("alice@example.com", "a"));
        Assert.Equal("garbage line\n", File.ReadAllText(_path));
    }

    [Theory]
    [InlineData("alice")]
    [InlineData("@example.com")]
    [InlineData("alice@")]
    [InlineData("al ice@example.com")]
    [InlineData("alice@exa_mple.com")]
    public void RefusesInvalidAddresses(string address)
    {
        var store = new UserStore(_path, _time);

        Assert.Throws<ArgumentException>(() => store.Add(address, "a"));
    }
}

using Mailroom.Server.Recipients;
using Mailroom.Server.Tests.Users;
using Mailroom.Server.Users;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Server.Tests.Recipients;

public sealed class LocalRecipientResolverTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();
    private readonly UserStore _users;

    public LocalRecipientResolverTests()
    {
        var path = Path.Combine(_directory.Path, "users");
        // Cheap secrets: these tests are about names, not passwords.
        File.WriteAllText(path, string.Concat(
            new[] { "alice@example.com", "Bob@example.com", "carol@example.org" }.Select(address =>
                $"{address}\t{ScramSecret.Create("x", new byte[16], 1)}\n")));
        _users = new UserStore(path, new FakeTimeProvider());
    }

    public void Dispose() => _directory.Dispose();

    private LocalRecipientResolver Resolver(params (string Key, string[] Targets)[] aliases) =>
        new(["example.com", "example.org"],
            aliases.ToDictionary(alias => alias.Key, alias => (IReadOnlyList<string>)alias.Targets),
            _users);

    [Fact]
    public void LocalDomainsAreMatchedCaseInsensitivelyWithTrailingDotAndIdn()
    {
        var resolver = new LocalRecipientResolver(["example.com", "bücher.example"], new Dictionary<string, IReadOnlyList<string>>(), _users);

        Assert.True(resolver.IsLocalDomain("EXAMPLE.com."));
        Assert.True(resolver.IsLocalDomain("xn--bcher-kva.example"));
        Assert.True(resolver.IsLocalDomain("BÜCHER.example"));
        Assert.False(resolver.IsLocalDomain("example.net"));
    }

    [Fact]
    public void UserGetsItsMaildirFolder()
    {
        var targets = Resolver().Resolve("ALICE", "Example.COM");

        Assert.Equal([new LocalTarget("ALICE@example.com", "example.com/alice")], targets);
    }

    [Fact]
    public void UnknownRecipientAndNonLocalDomainGiveNull()
    {
        Assert.Null(Resolver().Resolve("nobody", "example.com"));
        Assert.Null(Resolver().Resolve("alice", "example.net"));
    }

    [Fact]
    public void ExactAliasComesBeforeTheUser()
    {
        var targets = Resolver(("alice@example.com", ["carol@example.org"])).Resolve("alice", "example.com");

        Assert.Equal([new LocalTarget("carol@example.org", "example.org/carol")], targets);
    }

    [Fact]
    public void AliasTargetOutsideTheLocalDomainsIsRelayed()
    {
        var targets = Resolver(("info@example.com", ["alice@example.com", "Someone@Elsewhere.NET"])).Resolve("info", "example.com");

        Assert.Equal(
            [new LocalTarget("alice@example.com", "example.com/alice"), new LocalTarget("Someone@elsewhere.net", null)],
            targets);
    }

    [Fact]
    public void SubaddressIsStrippedForUsersAndAliases()
    {
        var resolver = Resolver(("sales@example.com", ["bob@example.com"]));

        Assert.Equal([new LocalTarget("alice@example.com", "example.com/alice")], resolver.Resolve("alice+lists", "example.com"));
        Assert.Equal([new LocalTarget("bob@example.com", "example.com/bob")], resolver.Resolve("sales+web", "example.com"));
    }

    [Fact]
    public void ExactAliasWithTagWinsOverStripping()
    {
        var targets = Resolver(("alice+spam@example.com", ["carol@example.org"])).Resolve("alice+spam", "example.com");

        Assert.Equal([new LocalTarget("carol@example.org", "example.org/carol")], targets);
    }

    [Fact]
    public void CatchAllTakesWhatNothingElseMatches()
    {
        var resolver = Resolver(("@example.com", ["alice@example.com"]));

        Assert.Equal([new LocalTarget("alice@example.com", "example.com/alice")], resolver.Resolve("whoever", "example.com"));
        Assert.Equal([new LocalTarget("bob@example.com", "example.com/bob")], resolver.Resolve("bob", "example.com"));
        Assert.Null(resolver.Resolve("whoever", "example.org"));
    }

    [Fact]
    public void PostmasterIsAlwaysAccepted()
    {
        Assert.Equal([new LocalTarget("postmaster@example.org", "example.org/postmaster")], Resolver().Resolve("PostMaster", "example.org"));
        Assert.Equal(
            [new LocalTarget("alice@example.com", "example.com/alice")],
            Resolver(("postmaster@example.com", ["alice@example.com"])).Resolve("postmaster", "example.com"));
    }

    [Fact]
    public void AliasesExpandRecursively()
    {
        var resolver = Resolver(
            ("all@example.com", ["staff@example.com", "carol@example.org"]),
            ("staff@example.com", ["alice@example.com", "bob@example.com"]));

        Assert.Equal(
            [
                new LocalTarget("alice@example.com", "example.com/alice"),
                new LocalTarget("bob@example.com", "example.com/bob"),
                new LocalTarget("carol@example.org", "example.org/carol"),
            ],
            resolver.Resolve("all", "example.com"));
    }

    [Fact]
    public void AliasNamingItselfMeansTheUser()
    {
        var targets = Resolver(("alice@example.com", ["alice@example.com", "archive@elsewhere.net"])).Resolve("alice", "example.com");

        Assert.Equal([new LocalTarget("alice@example.com", "example.com/alice"), new LocalTarget("archive@elsewhere.net", null)], targets);
    }

    [Fact]
    public void AliasLoopGivesNull()
    {
        var resolver = Resolver(("a@example.com", ["b@example.com"]), ("b@example.com", ["a@example.com"]));

        Assert.Null(resolver.Resolve("a", "example.com"));
    }

    [Fact]
    public void ChainLongerThanTheDepthLimitGivesNull()
    {
        // a0 -> a1 -> ... -> a10 -> alice: from a1 that is MaxAliasDepth expansions, from a0 one more.
        var chain = Enumerable.Range(0, LocalRecipientResolver.MaxAliasDepth)
            .Select(i => ($"a{i}@example.com", new[] { $"a{i + 1}@example.com" }))
            .Append(($"a{LocalRecipientResolver.MaxAliasDepth}@example.com", ["alice@example.com"]))
            .ToArray();
        var resolver = Resolver(chain);

        Assert.Null(resolver.Resolve("a0", "example.com"));
        Assert.Equal([new LocalTarget("alice@example.com", "example.com/alice")], resolver.Resolve("a1", "example.com"));
    }

    [Fact]
    public void AliasToAnUnknownLocalAddressGivesNull()
    {
        Assert.Null(Resolver(("info@example.com", ["alice@example.com", "ghost@example.com"])).Resolve("info", "example.com"));
    }

    [Theory]
    [InlineData("../alice")]
    [InlineData("a/b")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a\0b")]
    [InlineData("")]
    public void UnsafeFolderNamesAreRefusedEvenWithACatchAll(string localPart)
    {
        Assert.Null(Resolver(("@example.com", ["alice@example.com"])).Resolve(localPart, "example.com"));
    }
}

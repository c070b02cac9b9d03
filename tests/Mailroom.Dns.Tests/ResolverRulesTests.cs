using System.Net;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Dns.Tests;

/// <summary>The resolver's pure rules: RCODE mapping, A+AAAA merging, TTLs, names, and the cache.</summary>
public sealed class ResolverRulesTests
{
    [Theory]
    [InlineData(DnsHeaderResponseCode.NoError, DnsStatus.Ok)]
    [InlineData(DnsHeaderResponseCode.NotExistentDomain, DnsStatus.NameNotFound)]
    [InlineData(DnsHeaderResponseCode.ServerFailure, DnsStatus.TemporaryFailure)]
    [InlineData(DnsHeaderResponseCode.Refused, DnsStatus.TemporaryFailure)]
    [InlineData(DnsHeaderResponseCode.FormatError, DnsStatus.TemporaryFailure)]
    [InlineData(DnsHeaderResponseCode.NotImplemented, DnsStatus.TemporaryFailure)]
    public void ResponseCodes_MapToStatus(DnsHeaderResponseCode code, DnsStatus expected)
        => Assert.Equal(expected, DnsClientResolver.StatusOf(code));

    [Fact]
    public void Addresses_AnyRecordsMakeOk_IPv6First()
    {
        var v6 = DnsAnswer<IPAddress>.Ok([IPAddress.IPv6Loopback]);
        var v4 = DnsAnswer<IPAddress>.Ok([IPAddress.Loopback]);

        Assert.Equal([IPAddress.IPv6Loopback, IPAddress.Loopback], DnsClientResolver.CombineAddresses(v6, v4).Records);
        Assert.Equal(DnsStatus.Ok, DnsClientResolver.CombineAddresses(DnsAnswer<IPAddress>.TemporaryFailure, v4).Status);
        Assert.Equal(DnsStatus.Ok, DnsClientResolver.CombineAddresses(v6, DnsAnswer<IPAddress>.NoRecords).Status);
    }

    [Theory]
    [InlineData(DnsStatus.TemporaryFailure, DnsStatus.NoRecords, DnsStatus.TemporaryFailure)]
    [InlineData(DnsStatus.NameNotFound, DnsStatus.TemporaryFailure, DnsStatus.TemporaryFailure)]
    [InlineData(DnsStatus.NameNotFound, DnsStatus.NameNotFound, DnsStatus.NameNotFound)]
    [InlineData(DnsStatus.NoRecords, DnsStatus.NameNotFound, DnsStatus.NameNotFound)]
    [InlineData(DnsStatus.NoRecords, DnsStatus.NoRecords, DnsStatus.NoRecords)]
    public void Addresses_WithoutRecords_TemporaryWinsThenNxdomain(DnsStatus ipv6, DnsStatus ipv4, DnsStatus expected)
        => Assert.Equal(expected, DnsClientResolver.CombineAddresses(new(ipv6, []), new(ipv4, [])).Status);

    [Theory]
    [InlineData(3600, 300, 3600, 300)] // MINIMUM smaller than the SOA's TTL
    [InlineData(60, 300, 3600, 60)] // the SOA's own TTL smaller
    [InlineData(86400, 86400, 900, 900)] // capped
    public void NegativeTtl_IsTheSmallerOfSoaTtlAndMinimum_Capped(int soaTtl, uint minimum, int capSeconds, int expectedSeconds)
    {
        var soa = new SoaRecord(
            new ResourceRecordInfo("example.test.", ResourceRecordType.SOA, QueryClass.IN, soaTtl, 0),
            DnsString.Parse("ns.example.test."), DnsString.Parse("hostmaster.example.test."), 1, 1200, 120, 604800, minimum);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), DnsClientResolver.NegativeTtl([soa], TimeSpan.FromSeconds(capSeconds)));
    }

    [Fact]
    public void NegativeTtl_WithoutSoa_IsZero()
        => Assert.Equal(TimeSpan.Zero, DnsClientResolver.NegativeTtl([], TimeSpan.FromMinutes(15)));

    [Fact]
    public void PositiveTtl_IsTheSmallestRecordTtl_Capped()
    {
        DnsResourceRecord[] answers =
        [
            new CNameRecord(new ResourceRecordInfo("a.example.test.", ResourceRecordType.CNAME, QueryClass.IN, 120, 0), DnsString.Parse("b.example.test.")),
            new ARecord(new ResourceRecordInfo("b.example.test.", ResourceRecordType.A, QueryClass.IN, 600, 0), IPAddress.Loopback),
        ];

        Assert.Equal(TimeSpan.FromSeconds(120), DnsClientResolver.PositiveTtl(answers, TimeSpan.FromHours(1)));
        Assert.Equal(TimeSpan.FromSeconds(30), DnsClientResolver.PositiveTtl(answers, TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData("MX1.Example.TEST.", "mx1.example.test")]
    [InlineData("mx1.example.test", "mx1.example.test")]
    [InlineData(".", "")]
    public void HostNames_AreLowercaseWithoutTrailingDot(string name, string expected)
        => Assert.Equal(expected, DnsClientResolver.ToHostName(name));

    [Fact]
    public void Cache_ExpiresAtTheTtl()
    {
        var time = new FakeTimeProvider();
        var cache = new DnsCache(time, 10);
        var answer = DnsAnswer<string>.Ok(["v=spf1 -all"]);

        cache.Set("example.test", 16, answer, TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.True(cache.TryGet("example.test", 16, out DnsAnswer<string>? hit));
        Assert.Same(answer, hit);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.TryGet<string>("example.test", 16, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Cache_KeysByNameAndType_AndKeepsNothingForTtlZero()
    {
        var cache = new DnsCache(new FakeTimeProvider(), 10);

        cache.Set("example.test", 16, DnsAnswer<string>.NoRecords, TimeSpan.FromSeconds(10));
        cache.Set("zero.example.test", 16, DnsAnswer<string>.NoRecords, TimeSpan.Zero);

        Assert.False(cache.TryGet<string>("example.test", 15, out _));
        Assert.False(cache.TryGet<string>("zero.example.test", 16, out _));
        Assert.True(cache.TryGet<string>("example.test", 16, out _));
    }

    [Fact]
    public void Cache_IsBounded_DroppingExpiredThenSoonestToExpire()
    {
        var time = new FakeTimeProvider();
        var cache = new DnsCache(time, 10);
        for (int i = 0; i < 10; i++)
        {
            // entry i lives 100 + i seconds, except entry 5, which expires first.
            cache.Set($"n{i}.test", 1, DnsAnswer<string>.NoRecords, TimeSpan.FromSeconds(i == 5 ? 1 : 100 + i));
        }

        time.Advance(TimeSpan.FromSeconds(2));
        cache.Set("new1.test", 1, DnsAnswer<string>.NoRecords, TimeSpan.FromSeconds(500));
        Assert.Equal(10, cache.Count); // only the expired entry made room
        Assert.True(cache.TryGet<string>("n0.test", 1, out _));

        cache.Set("new2.test", 1, DnsAnswer<string>.NoRecords, TimeSpan.FromSeconds(500));
        Assert.Equal(10, cache.Count); // full of live entries: the one closest to expiry (n0) went
        Assert.False(cache.TryGet<string>("n0.test", 1, out _));
        Assert.True(cache.TryGet<string>("n1.test", 1, out _));
        Assert.True(cache.TryGet<string>("new1.test", 1, out _));
        Assert.True(cache.TryGet<string>("new2.test", 1, out _));
    }
}

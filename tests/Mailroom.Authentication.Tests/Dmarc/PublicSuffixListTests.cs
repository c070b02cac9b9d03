using Mailroom.Authentication.Dmarc;

namespace Mailroom.Authentication.Tests.Dmarc;

/// <summary>The official PSL test vectors (tests/testdata/dmarc/public-suffix-list/tests.txt) against the embedded list.</summary>
public sealed class PublicSuffixListTests
{
    public static TheoryData<int, string, string> Vectors()
    {
        var data = new TheoryData<int, string, string>();
        var lines = TestData.Text("dmarc", "public-suffix-list", "tests.txt").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = line.Split(' ');
            data.Add(i + 1, parts[0], parts[1]);
        }

        return data;
    }

    [Fact]
    public void ThereAre78Vectors() => Assert.Equal(78, Vectors().Count);

    [Theory]
    [MemberData(nameof(Vectors))]
    public void RegistrableDomain(int line, string input, string expected)
    {
        _ = line;
        var actual = PublicSuffixList.Embedded.GetRegistrableDomain(input == "null" ? "" : input);
        Assert.Equal(expected == "null" ? null : expected, actual);
    }

    [Fact]
    public void TheEmbeddedListIsTheShippedFile()
    {
        var fromFile = PublicSuffixList.Load(TestData.PathOf("dmarc", "public-suffix-list", "public_suffix_list.dat"));
        Assert.Equal(fromFile.Count, PublicSuffixList.Embedded.Count);
        Assert.True(PublicSuffixList.Embedded.Count > 9000);
    }

    [Fact]
    public void ANewerListCanBeLoadedFromAPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"psl-{Guid.NewGuid():N}.dat");
        File.WriteAllText(path, "// test\nexample\n*.wild.example\n!keep.wild.example\n");
        try
        {
            var list = PublicSuffixList.Load(path);
            Assert.Equal("a.example", list.GetRegistrableDomain("x.a.example"));
            Assert.Equal("b.c.wild.example", list.GetRegistrableDomain("a.b.c.wild.example"));
            Assert.Equal("keep.wild.example", list.GetRegistrableDomain("x.keep.wild.example"));
            Assert.Equal("www.com", list.GetOrganizationalDomain("WWW.com"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>Reads the shared smuggling corpus (tests/testdata/smtp/smtp-smuggling/eod-sequences.yaml) as it is (copied from Mailroom.Protocol.Tests).</summary>
internal static class SmugglingCorpus
{
    public static IEnumerable<(string Id, string Hex)> Sequences()
    {
        var path = TestData.Path("smtp", "smtp-smuggling", "eod-sequences.yaml");
        string? id = null;
        foreach (var line in File.ReadLines(path))
        {
            var trimmed = line.Trim();
            if (trimmed.StartsWith("- id:", StringComparison.Ordinal))
            {
                id = trimmed["- id:".Length..].Trim();
            }
            else if (trimmed.StartsWith("hex:", StringComparison.Ordinal) && id is not null)
            {
                yield return (id, trimmed["hex:".Length..].Trim());
                id = null;
            }
        }
    }

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));
}

internal static class TestData
{
    /// <summary>A file under tests/testdata, found from the test assembly's folder upwards.</summary>
    public static string Path(params string[] parts)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !Directory.Exists(System.IO.Path.Combine(directory.FullName, "tests", "testdata")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new DirectoryNotFoundException("tests/testdata not found above " + AppContext.BaseDirectory);
        }

        return System.IO.Path.Combine([directory.FullName, "tests", "testdata", .. parts]);
    }
}

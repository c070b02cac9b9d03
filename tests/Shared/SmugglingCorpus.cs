namespace Mailroom.Tests.Shared;

/// <summary>Reads the shared smuggling corpus (tests/testdata/smtp/smtp-smuggling/eod-sequences.yaml) as it is.</summary>
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

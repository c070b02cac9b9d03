namespace Mailroom.Tests.Shared;

/// <summary>One fake end-of-data sequence of the corpus: its id, its bytes in hex, and Python's repr of it (which the SEC Consult probe writes into its text).</summary>
internal readonly record struct SmugglingSequence(string Id, string Hex, string PythonRepr)
{
    public void Deconstruct(out string id, out string hex)
    {
        id = Id;
        hex = Hex;
    }
}

/// <summary>Reads the shared smuggling corpus (tests/testdata/smtp/smtp-smuggling/eod-sequences.yaml) as it is.</summary>
internal static class SmugglingCorpus
{
    public static IEnumerable<SmugglingSequence> Sequences()
    {
        var path = TestData.Path("smtp", "smtp-smuggling", "eod-sequences.yaml");
        string? id = null;
        string? hex = null;
        foreach (var line in File.ReadLines(path))
        {
            var trimmed = line.Trim();
            if (trimmed.StartsWith("- id:", StringComparison.Ordinal))
            {
                id = trimmed["- id:".Length..].Trim();
                hex = null;
            }
            else if (trimmed.StartsWith("hex:", StringComparison.Ordinal) && id is not null)
            {
                hex = trimmed["hex:".Length..].Trim();
            }
            else if (trimmed.StartsWith("python_repr:", StringComparison.Ordinal) && id is not null && hex is not null)
            {
                yield return new SmugglingSequence(id, hex, YamlSingleQuoted(trimmed["python_repr:".Length..].Trim()));
                id = null;
            }
        }
    }

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    // A YAML single-quoted scalar: 'text' where '' stands for one quote.
    private static string YamlSingleQuoted(string value) =>
        value.Length >= 2 && value[0] == '\'' && value[^1] == '\''
            ? value[1..^1].Replace("''", "'", StringComparison.Ordinal)
            : value;
}

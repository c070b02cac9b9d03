using System.Text;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>Reads the header fields of a delivered file (unfolded; names compared case-insensitively).</summary>
internal static class MaildirMessage
{
    public static IReadOnlyList<(string Name, string Value)> Headers(string path)
    {
        var text = Encoding.Latin1.GetString(File.ReadAllBytes(path));
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var header = end < 0 ? text : text[..end];
        var fields = new List<(string, string)>();
        foreach (var line in header.Split("\r\n"))
        {
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t') && fields.Count > 0)
            {
                fields[^1] = (fields[^1].Item1, fields[^1].Item2 + " " + line.Trim());
            }
            else if (line.IndexOf(':', StringComparison.Ordinal) is var colon and > 0)
            {
                fields.Add((line[..colon], line[(colon + 1)..].Trim()));
            }
        }

        return fields;
    }

    public static string? Header(string path, string name) =>
        Headers(path).FirstOrDefault(field => string.Equals(field.Name, name, StringComparison.OrdinalIgnoreCase)).Value;

    public static string ReturnPath(string path) => Header(path, "Return-Path") ?? "";
}

using System.Globalization;
using Tomlyn.Parsing;

namespace Mailroom.Configuration;

/// <summary>A TOML document as a small tree that remembers the line of every key and value.</summary>
internal abstract class TomlNode
{
    public int Line { get; set; }

    /// <summary>How the value is shown after "got" in an error message.</summary>
    public abstract string Describe();
}

internal sealed record TomlEntry(string Key, int Line, TomlNode Value);

internal sealed class TomlTable : TomlNode
{
    public List<TomlEntry> Entries { get; } = [];

    public override string Describe() => "a table";
}

internal sealed class TomlArray : TomlNode
{
    public List<TomlNode> Items { get; } = [];

    public override string Describe() => "an array";
}

internal sealed class TomlScalar(TomlParseEventKind kind, object value, string text) : TomlNode
{
    public TomlParseEventKind Kind { get; } = kind;

    public object Value { get; } = value;

    public override string Describe() => Kind == TomlParseEventKind.String ? Quote(text) : text;

    public static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

internal static class TomlTree
{
    /// <summary>Builds the tree from Tomlyn's event stream. Call only on text without syntax errors.</summary>
    public static TomlTable Build(string text)
    {
        var parser = TomlParser.Create(text, new TomlParserOptions { Mode = TomlParserMode.Tolerant });
        var root = new TomlTable { Line = 1 };
        var stack = new Stack<TomlNode>();
        string? key = null;
        var keyLine = 0;
        var lastLine = 1;
        while (parser.MoveNext())
        {
            var current = parser.Current;
            if (current.Line > 0)
            {
                lastLine = current.Line;
            }

            switch (current.Kind)
            {
                case TomlParseEventKind.PropertyName:
                    key = parser.GetPropertyName();
                    keyLine = current.Line > 0 ? current.Line : lastLine;
                    break;
                case TomlParseEventKind.StartTable:
                    // A [table] header's line is its name's; an element of [[array]] gets its first key's (see Add).
                    stack.Push(stack.Count == 0
                        ? root
                        : Add(stack.Peek(), key, keyLine, new TomlTable { Line = current.Line > 0 ? current.Line : stack.Peek() is TomlTable ? keyLine : 0 }));
                    break;
                case TomlParseEventKind.StartArray:
                    stack.Push(Add(stack.Peek(), key, keyLine, new TomlArray { Line = current.Line > 0 ? current.Line : keyLine }));
                    break;
                case TomlParseEventKind.EndTable:
                case TomlParseEventKind.EndArray:
                    var closed = stack.Pop();
                    if (closed.Line == 0)
                    {
                        closed.Line = lastLine;
                    }

                    break;
                case TomlParseEventKind.String:
                    Add(stack.Peek(), key, keyLine, Scalar(current, parser.GetString(), null));
                    break;
                case TomlParseEventKind.Integer:
                    Add(stack.Peek(), key, keyLine, Scalar(current, current.GetInt64(), null));
                    break;
                case TomlParseEventKind.Float:
                    Add(stack.Peek(), key, keyLine, Scalar(current, current.GetDouble(), null));
                    break;
                case TomlParseEventKind.Boolean:
                    Add(stack.Peek(), key, keyLine, Scalar(current, current.GetBoolean(), current.GetBoolean() ? "true" : "false"));
                    break;
                case TomlParseEventKind.DateTime:
                    var dateTime = current.GetTomlDateTime();
                    Add(stack.Peek(), key, keyLine, Scalar(current, dateTime, dateTime.ToString()));
                    break;
            }
        }

        return root;

        TomlScalar Scalar(TomlParseEvent current, object value, string? text) =>
            new(current.Kind, value, text ?? Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")
            {
                Line = current.Line > 0 ? current.Line : keyLine,
            };
    }

    // Adds a value to its container; a table or array of tables met again under the same key is merged
    // (TOML allows [a] then [a.b], and [[x]] headers interleaved with other tables).
    private static TomlNode Add(TomlNode container, string? key, int keyLine, TomlNode value)
    {
        if (container is TomlArray array)
        {
            array.Items.Add(value);
            return value;
        }

        var table = (TomlTable)container;
        if (table.Line == 0)
        {
            // An element of [[array]] gets no line from the parser: use its first key's.
            table.Line = keyLine;
        }

        var existing = table.Entries.Find(entry => entry.Key == key);
        if (existing is not null && existing.Value.GetType() == value.GetType() && value is TomlTable or TomlArray)
        {
            return existing.Value;
        }

        table.Entries.Add(new TomlEntry(key ?? "", keyLine, value));
        return value;
    }
}

namespace Mailroom.Queue;

/// <summary>
/// A queue ID, unique for the life of a spool and sortable by creation time, like Postfix's long
/// queue IDs: the value is the file name in the spool and the key every log line carries.
/// </summary>
public readonly record struct QueueId(string Value)
{
    /// <summary>The longest value <see cref="IsWellFormed"/> accepts.</summary>
    public const int MaxLength = 64;

    /// <summary>
    /// True when <paramref name="value"/> is usable as a spool file name: 1 to <see cref="MaxLength"/>
    /// ASCII letters and digits, so no path separator, dot or control character ever reaches the file system.
    /// </summary>
    public static bool IsWellFormed(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= MaxLength && !value.AsSpan().ContainsAnyExcept(s_idChars);

    private static readonly System.Buffers.SearchValues<char> s_idChars =
        System.Buffers.SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    public override string ToString() => Value;
}

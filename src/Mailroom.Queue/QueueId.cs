namespace Mailroom.Queue;

/// <summary>
/// A queue ID, unique for the life of a spool and sortable by creation time, like Postfix's long
/// queue IDs: the value is the file name in the spool and the key every log line carries.
/// </summary>
public readonly record struct QueueId(string Value)
{
    public override string ToString() => Value;
}

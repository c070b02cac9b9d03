namespace Mailroom.Server.Users;

/// <summary>The users file could not be read: names the file and the line.</summary>
public sealed class UsersFileException : Exception
{
    public UsersFileException(string path, int line, string reason)
        : base($"{path}:{line}: {reason}")
    {
        Path = path;
        Line = line;
        Reason = reason;
    }

    public UsersFileException(string path, string reason, Exception innerException)
        : base($"{path}: {reason}", innerException)
    {
        Path = path;
        Reason = reason;
    }

    public string Path { get; }

    /// <summary>1-based line number, 0 when the error is not about one line.</summary>
    public int Line { get; }

    public string Reason { get; }
}

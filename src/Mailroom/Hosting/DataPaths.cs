namespace Mailroom.Hosting;

/// <summary>The layout of data_dir (docs/operations.md).</summary>
internal sealed record DataPaths(string Root)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The queue: incoming/, active/, corrupt/.</summary>
    public string Spool => Path.Combine(Root, "queue");

    /// <summary>Maildirs: mail/{domain}/{local-part}/.</summary>
    public string Mail => Path.Combine(Root, "mail");

    /// <summary>The generated self-signed certificate.</summary>
    public string Tls => Path.Combine(Root, "tls");

    public void CreateFolders()
    {
        foreach (var folder in new[] { Root, Spool, Mail })
        {
            Directory.CreateDirectory(folder, OwnerOnly);
        }
    }
}

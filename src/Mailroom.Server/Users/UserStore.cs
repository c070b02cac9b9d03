using System.Text;

namespace Mailroom.Server.Users;

/// <summary>
/// The users file <c>{data_dir}/users</c>: one <c>address&lt;TAB&gt;SCRAM secret</c> per line; blank
/// lines and lines starting with '#' are ignored. Reads are served from a cache that is reloaded when
/// the file's last-write time or length changes (checked at most once per <see cref="RecheckInterval"/>),
/// so a running server picks up <c>mailroom users add</c>. A file that turns malformed keeps the last
/// good copy in use and is reported through <see cref="LastError"/>. Writes replace the file atomically.
/// </summary>
public sealed class UserStore : IUserSecrets
{
    // How stale a running server's view may be after `mailroom users add`: one second is
    // imperceptible to a person and keeps AUTH from costing a stat() each time.
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _lock = new();
    private Snapshot? _snapshot;
    private long _lastCheck;

    public UserStore(string path, TimeProvider timeProvider)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _path = path;
        _timeProvider = timeProvider;
    }

    public string Path => _path;

    /// <summary>The error of the last reload that failed while an older good copy stayed in use; null after a good load.</summary>
    public UsersFileException? LastError { get; private set; }

    /// <summary>True when the address is a user (case-insensitive on the whole address).</summary>
    public bool Contains(string address) => FindSecret(address) is not null;

    public ScramSecret? FindSecret(string address)
    {
        if (!AddressSyntax.TryNormalizeAddress(address, out var normalized))
        {
            return null;
        }

        return Current().Users.TryGetValue(normalized, out var user) ? user.Secret : null;
    }

    /// <summary>The users' addresses as written in the file, in ordinal order.</summary>
    public IReadOnlyList<string> List() =>
        [.. Current().Users.Values.Select(user => user.Address).Order(StringComparer.Ordinal)];

    /// <summary>Adds the user, or replaces the password of an existing one.</summary>
    /// <exception cref="ArgumentException">The address is not local@domain or the password is empty.</exception>
    /// <exception cref="UsersFileException">The current file is malformed (it is left untouched).</exception>
    public void Add(string address, string password)
    {
        if (!AddressSyntax.TryNormalizeAddress(address, out var normalized))
        {
            throw new ArgumentException($"not a valid address: \"{address}\"", nameof(address));
        }

        ArgumentException.ThrowIfNullOrEmpty(password);
        var secret = ScramSecret.Create(password);
        lock (_lock)
        {
            var users = new Dictionary<string, User>(LoadFromDisk().Users, StringComparer.OrdinalIgnoreCase);
            // A replaced user keeps the spelling of the new command.
            users.Remove(normalized);
            users[normalized] = new User(normalized, secret);
            Write(users);
        }
    }

    /// <summary>Removes the user; false when there was none.</summary>
    /// <exception cref="UsersFileException">The current file is malformed (it is left untouched).</exception>
    public bool Remove(string address)
    {
        if (!AddressSyntax.TryNormalizeAddress(address, out var normalized))
        {
            return false;
        }

        lock (_lock)
        {
            var users = new Dictionary<string, User>(LoadFromDisk().Users, StringComparer.OrdinalIgnoreCase);
            if (!users.Remove(normalized))
            {
                return false;
            }

            Write(users);
            return true;
        }
    }

    private Snapshot Current()
    {
        lock (_lock)
        {
            var now = _timeProvider.GetTimestamp();
            if (_snapshot is not null && _timeProvider.GetElapsedTime(_lastCheck, now) < RecheckInterval)
            {
                return _snapshot;
            }

            _lastCheck = now;
            var stamp = Stamp();
            if (_snapshot is not null && _snapshot.Stamp == stamp)
            {
                return _snapshot;
            }

            try
            {
                _snapshot = Read(stamp);
                LastError = null;
            }
            catch (UsersFileException error) when (_snapshot is not null)
            {
                // Keep serving the last good copy; remember the stamp so the bad file is not re-read every second.
                LastError = error;
                _snapshot = _snapshot with { Stamp = stamp };
            }

            return _snapshot;
        }
    }

    // Always reads the file as it is now (for a write: never edit a stale copy).
    private Snapshot LoadFromDisk()
    {
        var snapshot = Read(Stamp());
        _snapshot = snapshot;
        _lastCheck = _timeProvider.GetTimestamp();
        LastError = null;
        return snapshot;
    }

    private FileStamp Stamp()
    {
        var info = new FileInfo(_path);
        return info.Exists ? new FileStamp(info.LastWriteTimeUtc, info.Length) : new FileStamp(default, -1);
    }

    private Snapshot Read(FileStamp stamp)
    {
        var users = new Dictionary<string, User>(StringComparer.OrdinalIgnoreCase);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(_path, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            return new Snapshot(users, stamp);
        }
        catch (DirectoryNotFoundException)
        {
            return new Snapshot(users, stamp);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new UsersFileException(_path, error.Message, error);
        }

        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var fields = line.Split('\t');
            if (fields.Length != 2)
            {
                throw new UsersFileException(_path, i + 1, "expected \"address<TAB>secret\"");
            }

            if (!AddressSyntax.TryNormalizeAddress(fields[0], out var address))
            {
                throw new UsersFileException(_path, i + 1, $"not a valid address: \"{fields[0]}\"");
            }

            if (!ScramSecret.TryParse(fields[1], out var secret))
            {
                throw new UsersFileException(_path, i + 1, $"{address}: not a SCRAM-SHA-256 secret");
            }

            if (!users.TryAdd(address, new User(address, secret)))
            {
                throw new UsersFileException(_path, i + 1, $"{address}: listed twice");
            }
        }

        return new Snapshot(users, stamp);
    }

    private void Write(Dictionary<string, User> users)
    {
        var text = new StringBuilder();
        foreach (var user in users.Values.OrderBy(user => user.Address, StringComparer.Ordinal))
        {
            text.Append(user.Address).Append('\t').Append(user.Secret.ToString()).Append('\n');
        }

        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_path))!;
        Directory.CreateDirectory(directory);
        var temporary = _path + ".tmp";
        // A left-over .tmp may have another mode; UnixCreateMode applies only to a new file.
        File.Delete(temporary);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            // The secrets allow offline guessing: readable by the owner only.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
            stream.Flush(flushToDisk: true);
        }

        // rename(2) replaces the file atomically: a reader sees the old file or the new one.
        // (.NET has no portable fsync of the directory; the content itself is durable.)
        File.Move(temporary, _path, overwrite: true);
        LoadFromDisk();
    }

    private readonly record struct FileStamp(DateTime LastWriteUtc, long Length);

    private sealed record User(string Address, ScramSecret Secret);

    private sealed record Snapshot(IReadOnlyDictionary<string, User> Users, FileStamp Stamp);
}

using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Policy;

/// <summary>
/// Greylisting (RFC 6647, as postgrey does it): the first attempt of an unknown triplet (client
/// network: IPv4 /24, IPv6 /64; sender; recipient) is deferred with 451 4.7.1; a retry after
/// <see cref="PolicyLimits.GreylistDelay"/> and within <see cref="PolicyLimits.GreylistRetryWindow"/>
/// passes, and the triplet is then accepted at once until unseen for <see cref="PolicyLimits.GreylistMaxAge"/>.
/// A client network with <see cref="PolicyLimits.GreylistAutoWhitelistAfter"/> passed triplets
/// skips greylisting (postgrey's client auto-whitelist).
/// State is kept in memory and saved to one JSON-lines file (written to a temporary file, fsynced,
/// renamed over the old one) at most every <see cref="SaveInterval"/> and on <see cref="Save"/>;
/// losing the last seconds only greylists a few triplets again.
/// </summary>
internal sealed partial class Greylist
{
    /// <summary>How often changes are written at most. 10 s: our choice.</summary>
    public static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, Triplet> _triplets = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly PolicyLimits _limits;
    private readonly TimeProvider _time;
    private readonly string? _path;
    private readonly ILogger _logger;
    private DateTimeOffset _lastSave;
    private bool _dirty;

    public Greylist(PolicyLimits limits, TimeProvider time, string? path, ILogger logger)
    {
        _limits = limits;
        _time = time;
        _path = path;
        _logger = logger;
        _lastSave = time.GetUtcNow();
        Load();
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _triplets.Count;
            }
        }
    }

    /// <summary>Null to accept, or the time left before a retry can pass.</summary>
    public TimeSpan? Check(IPAddress client, string sender, string recipient)
    {
        var now = _time.GetUtcNow();
        var network = ClientKey.GreylistNetwork(client).ToString();
        var key = network + " " + sender.ToLowerInvariant() + " " + recipient.ToLowerInvariant();
        TimeSpan? result;
        lock (_lock)
        {
            if (IsWhitelisted(network, now))
            {
                result = null;
            }
            else if (!_triplets.TryGetValue(key, out var triplet) || Expired(triplet, now))
            {
                MakeRoom(now);
                _triplets[key] = new Triplet { Network = network, FirstSeen = now, LastSeen = now };
                result = _limits.GreylistDelay;
            }
            else if (triplet.Passed)
            {
                triplet.LastSeen = now;
                result = null;
            }
            else if (now - triplet.FirstSeen >= _limits.GreylistDelay)
            {
                triplet.Passed = true;
                triplet.LastSeen = now;
                result = null;
            }
            else
            {
                // A retry too early does not restart the clock (postgrey).
                triplet.LastSeen = now;
                result = _limits.GreylistDelay - (now - triplet.FirstSeen);
            }

            _dirty = true;
        }

        SaveIfDue(now);
        return result;
    }

    /// <summary>Writes the state now if it changed.</summary>
    public void Save()
    {
        if (_path is null)
        {
            return;
        }

        string text;
        lock (_lock)
        {
            if (!_dirty)
            {
                return;
            }

            var now = _time.GetUtcNow();
            var builder = new StringBuilder();
            foreach (var (key, triplet) in _triplets)
            {
                if (!Expired(triplet, now))
                {
                    builder.Append(JsonSerializer.Serialize(new Line(key, triplet.Network, triplet.FirstSeen, triplet.LastSeen, triplet.Passed), GreylistJson.Default.Line)).Append('\n');
                }
            }

            text = builder.ToString();
            _dirty = false;
            _lastSave = now;
        }

        try
        {
            WriteAtomically(_path, text);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Greylisting state is a cache: losing it only greylists again. Never fail a session for it.
            LogSaveFailed(_logger, _path, exception.Message);
            lock (_lock)
            {
                _dirty = true;
            }
        }
    }

    private void SaveIfDue(DateTimeOffset now)
    {
        if (_path is not null && now - _lastSave >= SaveInterval)
        {
            Save();
        }
    }

    private bool Expired(Triplet triplet, DateTimeOffset now) => triplet.Passed
        ? now - triplet.LastSeen > _limits.GreylistMaxAge
        : now - triplet.FirstSeen > _limits.GreylistRetryWindow;

    private bool IsWhitelisted(string network, DateTimeOffset now)
    {
        if (_limits.GreylistAutoWhitelistAfter <= 0)
        {
            return false;
        }

        var passed = 0;
        foreach (var triplet in _triplets.Values)
        {
            if (triplet.Passed && triplet.Network == network && !Expired(triplet, now) && ++passed >= _limits.GreylistAutoWhitelistAfter)
            {
                return true;
            }
        }

        return false;
    }

    private void MakeRoom(DateTimeOffset now)
    {
        if (_triplets.Count < _limits.GreylistMaxEntries)
        {
            return;
        }

        foreach (var (key, triplet) in _triplets)
        {
            if (Expired(triplet, now))
            {
                _triplets.Remove(key);
            }
        }

        if (_triplets.Count >= _limits.GreylistMaxEntries)
        {
            var drop = Math.Max(1, _limits.GreylistMaxEntries / 10);
            foreach (var key in _triplets.OrderBy(pair => pair.Value.LastSeen).Take(drop).Select(pair => pair.Key).ToArray())
            {
                _triplets.Remove(key);
            }
        }
    }

    private void Load()
    {
        if (_path is null || !File.Exists(_path))
        {
            return;
        }

        var now = _time.GetUtcNow();
        var lineNumber = 0;
        foreach (var text in File.ReadLines(_path))
        {
            lineNumber++;
            Line? line;
            try
            {
                line = JsonSerializer.Deserialize(text, GreylistJson.Default.Line);
            }
            catch (JsonException)
            {
                line = null;
            }

            if (line is null || line.Key is null || line.Network is null)
            {
                LogBadLine(_logger, _path, lineNumber);
                continue;
            }

            var triplet = new Triplet { Network = line.Network, FirstSeen = line.FirstSeen, LastSeen = line.LastSeen, Passed = line.Passed };
            if (!Expired(triplet, now) && _triplets.Count < _limits.GreylistMaxEntries)
            {
                _triplets[line.Key] = triplet;
            }
        }
    }

    private static void WriteAtomically(string path, string text)
    {
        var directory = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(directory);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        // rename(2) is atomic: a crash leaves the old file or the new one, never a torn one. The
        // directory is not synced (the queue's DirectorySync is internal to Mailroom.Queue): a
        // crash may bring back the previous copy, which only greylists a few triplets again.
        File.Move(temporary, path, overwrite: true);
    }

    private sealed class Triplet
    {
        public required string Network { get; init; }

        public DateTimeOffset FirstSeen { get; init; }

        public DateTimeOffset LastSeen { get; set; }

        public bool Passed { get; set; }
    }

    internal sealed record Line(string Key, string Network, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, bool Passed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "greylist state {Path}: cannot save: {Reason}")]
    private static partial void LogSaveFailed(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "greylist state {Path}:{Line}: unreadable line skipped")]
    private static partial void LogBadLine(ILogger logger, string path, int line);
}

[JsonSerializable(typeof(Greylist.Line))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
internal sealed partial class GreylistJson : JsonSerializerContext;

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mailroom.Queue.Tests;

/// <summary>A spool in a fresh temporary folder, deleted in Dispose.</summary>
internal sealed class TempSpool : IDisposable
{
    public TempSpool()
    {
        Root = Path.Combine(Path.GetTempPath(), "mailroom-queue-tests", Guid.NewGuid().ToString("N"));
    }

    public string Root { get; }

    public string Incoming => Path.Combine(Root, "incoming");

    public string Active => Path.Combine(Root, "active");

    public string Corrupt => Path.Combine(Root, "corrupt");

    public ListLogger<FileMessageStore> Logger { get; } = new();

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

    public string Segments => Path.Combine(Root, "segments");

    /// <summary>
    /// A new store instance over this spool, initialized: what a restart of the process gives. By
    /// default every message gets a file of its own (the file format's tests); pass
    /// <paramref name="segments"/> to receive small messages into segments.
    /// </summary>
    public async Task<FileMessageStore> OpenStoreAsync(SegmentOptions? segments = null)
    {
        var store = new FileMessageStore(Root, Time, Logger, segments ?? SegmentOptions.Off);
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }

    public void Dispose()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}

/// <summary>Keeps every log line, so tests can check what was said about which queue ID.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((logLevel, formatter(state, exception)));
}

using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Mailroom.Delivery.Tests.Fakes;

/// <summary>Collects formatted log lines; a test can await a line as a point of synchronisation.</summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly List<string> _all = [];

    public IReadOnlyList<string> All
    {
        get
        {
            lock (_all)
            {
                return [.. _all];
            }
        }
    }

    /// <summary>Waits (10 s at most) for a line equal to <paramref name="line"/>, consuming the lines before it.</summary>
    public async Task WaitForLineAsync(string line)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await _lines.Reader.ReadAsync(timeout.Token) is { } next)
        {
            if (next == line)
            {
                return;
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        lock (_all)
        {
            _all.Add(line);
        }

        _lines.Writer.TryWrite(line);
    }

    private sealed class Logger(LogCapture owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Add(formatter(state, exception));
    }
}

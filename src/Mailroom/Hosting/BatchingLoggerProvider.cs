using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Mailroom.Hosting;

/// <summary>
/// The log to standard output, in <see cref="MailroomLogFormatter"/>'s lines, written in batches:
/// callers format their line and put it in a bounded queue; one background thread takes every line
/// queued so far and writes them with one <c>write(2)</c> (the console logger wakes its thread and
/// writes once per line). A full queue (<see cref="Capacity"/> lines) makes callers wait, as the
/// console logger's does: no line is dropped. <see cref="Dispose"/> (the host's shutdown) writes
/// what is queued before it returns, so a normal stop loses nothing; on kill -9 the lines still in
/// the queue are lost, as a syslog daemon's buffer would be. docs/performance.md, "Third pass".
/// </summary>
[ProviderAlias("Console")]
internal sealed class BatchingLoggerProvider : ILoggerProvider
{
    public const int Capacity = 4096;

    private readonly Channel<string> _lines = Channel.CreateBounded<string>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });

    private readonly TextWriter _output;
    private readonly bool _ownsOutput;
    private readonly Lock _writeLock = new();
    private readonly Thread _thread;
    private readonly MailroomLogFormatter _formatter = new();

    [ThreadStatic]
    private static StringWriter? t_buffer;

    /// <param name="output">Where the lines go; <see cref="Console.Out"/> means standard output, written through a buffer of our own.</param>
    public BatchingLoggerProvider(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (ReferenceEquals(output, Console.Out))
        {
            // Console.Out flushes at every Write and through a 256-character buffer: a batch would
            // become several write(2)s. Our own writer on fd 1, flushed once per batch.
            _output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
            _ownsOutput = true;
        }
        else
        {
            _output = output;
        }

        _thread = new Thread(WriteLoop) { IsBackground = true, Name = "mailroom log writer" };
        _thread.Start();
    }

    public ILogger CreateLogger(string categoryName) => new BatchingLogger(this, categoryName);

    public void Dispose()
    {
        if (_lines.Writer.TryComplete())
        {
            _thread.Join();
            if (_ownsOutput)
            {
                lock (_writeLock)
                {
                    _output.Flush();
                }
            }
        }
    }

    private void Enqueue(string line)
    {
        if (_lines.Writer.TryWrite(line))
        {
            return;
        }

        try
        {
            // Full: wait for room, as the console logger's Wait mode does.
            _lines.Writer.WriteAsync(line).AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException)
        {
            // After shutdown (a late line from a component still stopping): written directly.
            lock (_writeLock)
            {
                _output.Write(line);
                _output.Flush();
            }
        }
    }

    private void WriteLoop()
    {
        var reader = _lines.Reader;
        try
        {
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                lock (_writeLock)
                {
                    while (reader.TryRead(out var line))
                    {
                        _output.Write(line);
                    }

                    _output.Flush();
                }
            }
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            // Standard output closed: nothing more can be logged; drain so that callers never wait.
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (reader.TryRead(out _))
                {
                }
            }
        }
    }

    private string Format<TState>(in LogEntry<TState> entry)
    {
        var buffer = t_buffer ??= new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var builder = buffer.GetStringBuilder();
        builder.Clear();
        _formatter.Write(entry, null, buffer);
        var line = builder.ToString();
        if (builder.Capacity > 4096)
        {
            builder.Capacity = 256; // one large exception does not keep its buffer for ever
        }

        return line;
    }

    private sealed class BatchingLogger(BatchingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        // The logger factory applies the levels (SetMinimumLevel, AddFilter, configuration).
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var line = provider.Format(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter));
            if (line.Length > 0)
            {
                provider.Enqueue(line);
            }
        }
    }
}

using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Mailroom.Hosting;

/// <summary>
/// The log to standard output, in <see cref="MailroomLogFormatter"/>'s lines, written in batches:
/// callers format their line and add it to a bounded list; one background thread takes every line
/// queued so far and writes them with one <c>write(2)</c> (the console logger wakes its thread and
/// writes once per line). After each write the thread lets the next batch gather for
/// <see cref="GatherMilliseconds"/> before it looks again, so a busy server wakes it about a hundred
/// times a second rather than once or twice per message; an idle one not at all. The waits block
/// without spinning (a <see cref="Task"/> wait spins with <c>sched_yield</c> first, which cost
/// 4 % of the server's CPU: docs/performance.md, "Fifth pass"). A full list
/// (<see cref="Capacity"/> lines) makes callers wait, as the console logger's does: no line is
/// dropped. <see cref="Dispose"/> (the host's shutdown) writes what is queued before it returns, so
/// a normal stop loses nothing; on kill -9 the lines still queued are lost, as a syslog daemon's
/// buffer would be.
/// </summary>
[ProviderAlias("Console")]
internal sealed class BatchingLoggerProvider : ILoggerProvider
{
    public const int Capacity = 4096;

    /// <summary>How long a batch gathers after a write; the most a line waits behind another batch.</summary>
    public const int GatherMilliseconds = 10;

    // Guards the lists and the flags; producers and the writer wait on it (Monitor.Wait blocks at once).
    private readonly object _gate = new();
    private List<string> _queued = new();
    private List<string> _writing = new();
    private bool _writerIdle;
    private bool _completed;

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
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            Monitor.PulseAll(_gate);
        }

        _thread.Join();
        if (_ownsOutput)
        {
            lock (_writeLock)
            {
                _output.Flush();
            }
        }
    }

    private void Enqueue(string line)
    {
        lock (_gate)
        {
            while (_queued.Count >= Capacity && !_completed)
            {
                // Full: wake the writer even while a batch gathers, and wait for room, as the
                // console logger's Wait mode does.
                Monitor.PulseAll(_gate);
                Monitor.Wait(_gate);
            }

            if (!_completed)
            {
                _queued.Add(line);
                if (_writerIdle)
                {
                    _writerIdle = false;
                    Monitor.PulseAll(_gate);
                }

                return;
            }
        }

        // After shutdown (a late line from a component still stopping): written directly.
        lock (_writeLock)
        {
            _output.Write(line);
            _output.Flush();
        }
    }

    private void WriteLoop()
    {
        var outputBroken = false;
        while (true)
        {
            List<string> batch;
            lock (_gate)
            {
                while (_queued.Count == 0 && !_completed)
                {
                    _writerIdle = true;
                    Monitor.Wait(_gate);
                }

                _writerIdle = false;
                if (_queued.Count == 0)
                {
                    return; // completed and drained
                }

                batch = _queued;
                _queued = _writing;
                _writing = batch;
                Monitor.PulseAll(_gate); // room for callers waiting on a full list
            }

            if (!outputBroken)
            {
                outputBroken = !TryWrite(batch);
            }

            batch.Clear();
            lock (_gate)
            {
                if (!_completed && _queued.Count < Capacity)
                {
                    // Lets the next batch gather; a full list or Dispose ends the wait early.
                    Monitor.Wait(_gate, GatherMilliseconds);
                }
            }
        }
    }

    /// <summary>Writes one batch; false when standard output is closed (the rest is dropped so that callers never wait).</summary>
    private bool TryWrite(List<string> batch)
    {
        try
        {
            lock (_writeLock)
            {
                foreach (var line in batch)
                {
                    _output.Write(line);
                }

                _output.Flush();
            }

            return true;
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException)
        {
            return false;
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

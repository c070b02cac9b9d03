using System.Text;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>
/// Every line the server wrote (stdout and stderr, of every start), kept for assertions and failure
/// messages, with waits for a line to appear. A wait registered while the server runs fails as soon
/// as the server's output ends, so a crash shows up at once with the log instead of after the timeout.
/// </summary>
internal sealed class ServerLog
{
    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];
    private readonly List<Waiter> _waiters = [];
    private bool _ended = true;

    /// <summary>How many lines there are now: pass it as <c>from</c> to wait only for later lines.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count;
            }
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lock)
            {
                return [.. _lines];
            }
        }
    }

    public IReadOnlyList<string> LinesFrom(int from)
    {
        lock (_lock)
        {
            return [.. _lines.Skip(from)];
        }
    }

    public override string ToString()
    {
        lock (_lock)
        {
            var text = new StringBuilder();
            foreach (var line in _lines)
            {
                text.Append(line).Append('\n');
            }

            return text.ToString();
        }
    }

    public void Add(string line)
    {
        List<Waiter> matched = [];
        lock (_lock)
        {
            _lines.Add(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Predicate(line))
                {
                    matched.Add(_waiters[i]);
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var waiter in matched)
        {
            waiter.Completion.TrySetResult(line);
        }
    }

    /// <summary>A new server process writes from now on.</summary>
    public void Started()
    {
        lock (_lock)
        {
            _ended = false;
        }
    }

    /// <summary>The server's output ended (it exited or was killed): pending waits fail.</summary>
    public void Ended(string why)
    {
        List<Waiter> pending;
        lock (_lock)
        {
            _ended = true;
            pending = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var waiter in pending)
        {
            waiter.Completion.TrySetException(new InvalidOperationException($"{why} while waiting for {waiter.Description}\n--- mailroom log ---\n{this}"));
        }
    }

    /// <summary>Waits for the first line at index <paramref name="from"/> or later that matches; fails with the log after the timeout.</summary>
    public async Task<string> WaitForAsync(Func<string, bool> predicate, string description, int from = 0, TimeSpan? timeout = null)
    {
        var waiter = new Waiter(predicate, description, new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_lock)
        {
            for (var i = from; i < _lines.Count; i++)
            {
                if (predicate(_lines[i]))
                {
                    return _lines[i];
                }
            }

            if (_ended)
            {
                throw new InvalidOperationException($"the server is not running; waiting for {description}\n--- mailroom log ---\n{this}");
            }

            _waiters.Add(waiter);
        }

        var limit = timeout ?? MailroomProcess.WaitTimeout;
        try
        {
            return await waiter.Completion.Task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            lock (_lock)
            {
                _waiters.Remove(waiter);
            }

            throw new TimeoutException($"no log line {description} within {limit.TotalSeconds} s\n--- mailroom log ---\n{this}");
        }
    }

    /// <summary>
    /// Checks <paramref name="condition"/> again each time a line matching <paramref name="wakeOn"/>
    /// is logged, until it holds; fails with the log after the timeout. The server logs the event
    /// after doing it, so no event between two checks is missed.
    /// </summary>
    public async Task WaitUntilAsync(Func<bool> condition, Func<string, bool> wakeOn, string description, TimeSpan? timeout = null)
    {
        var limit = timeout ?? MailroomProcess.WaitTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            var from = Count;
            if (condition())
            {
                return;
            }

            var left = deadline - DateTime.UtcNow;
            try
            {
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException();
                }

                await WaitForAsync(wakeOn, description, from, left);
            }
            catch (TimeoutException)
            {
                if (condition())
                {
                    return;
                }

                throw new TimeoutException($"not true within {limit.TotalSeconds} s: {description}\n--- mailroom log ---\n{this}");
            }
        }
    }

    private sealed record Waiter(Func<string, bool> Predicate, string Description, TaskCompletionSource<string> Completion);
}

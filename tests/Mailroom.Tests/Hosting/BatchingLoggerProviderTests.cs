using System.Text.RegularExpressions;
using Mailroom.Hosting;
using Microsoft.Extensions.Logging;

namespace Mailroom.Tests.Hosting;

public sealed class BatchingLoggerProviderTests
{
    [Fact]
    public void Dispose_WritesEveryQueuedLineInOrderInTheFormattersFormat()
    {
        var output = new StringWriter();
        var provider = new BatchingLoggerProvider(output);
        var logger = provider.CreateLogger("Mailroom.Delivery.QueueRunner");

        // More lines than the queue holds: callers wait for room, nothing is dropped.
        var count = BatchingLoggerProvider.Capacity * 3;
        for (var i = 0; i < count; i++)
        {
            logger.Log(LogLevel.Information, default, i, null, (state, _) => $"line {state}");
        }

        provider.Dispose();

        var lines = output.ToString().Split('\n');
        Assert.Equal(count + 1, lines.Length); // the last line ends with '\n'
        Assert.Equal(string.Empty, lines[^1]);
        for (var i = 0; i < count; i++)
        {
            Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info mailroom\.queuerunner: line " + i + "$"), lines[i]);
        }
    }

    [Fact]
    public async Task ALine_IsWrittenWithoutWaitingForDispose()
    {
        var output = new FlushSignallingWriter();
        using var provider = new BatchingLoggerProvider(output);
        var logger = provider.CreateLogger("other");

        logger.LogInformation("first");
        await output.Flushed.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.EndsWith(" info other: first\n", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void LinesAfterDispose_AreWrittenDirectly()
    {
        var output = new StringWriter();
        var provider = new BatchingLoggerProvider(output);
        var logger = provider.CreateLogger("other");
        provider.Dispose();

        logger.LogWarning("late {Value}", 42);

        Assert.EndsWith(" warning other: late 42\n", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Tells when the provider's writer thread flushed a batch.</summary>
    private sealed class FlushSignallingWriter : StringWriter
    {
        public TaskCompletionSource Flushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Flush()
        {
            base.Flush();
            Flushed.TrySetResult();
        }
    }
}

using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Mailroom.Hosting;

/// <summary>
/// One line per event, as mail administrators read Postfix's log:
/// "2026-11-30T02:11:46.123Z info mailroom.smtpd: 4ABC...: from=&lt;a@b&gt;, size=12, nrcpt=1 (queued)".
/// </summary>
internal sealed class MailroomLogFormatter() : ConsoleFormatter(Name)
{
    public new const string Name = "mailroom";

    // Category names are few and fixed (one per logger type): shortened once, then looked up.
    private static readonly ConcurrentDictionary<string, string> s_categories = new(StringComparer.Ordinal);

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        // The timestamp is formatted into the stack: no string, no culture lookup per line.
        Span<char> stamp = stackalloc char[32];
        DateTime now = DateTime.UtcNow;
        if (now.TryFormat(stamp, out int written, "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ", CultureInfo.InvariantCulture))
        {
            textWriter.Write(stamp[..written]);
        }

        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(' ');
        textWriter.Write(s_categories.GetOrAdd(logEntry.Category, ShortCategory));
        textWriter.Write(": ");
        textWriter.Write(message?.ReplaceLineEndings(" ")); // the same string when it has no line end
        if (logEntry.Exception is not null)
        {
            textWriter.Write(" exception: ");
            textWriter.Write(logEntry.Exception.ToString().ReplaceLineEndings(" | "));
        }

        textWriter.Write('\n');
    }

    /// <summary>"Mailroom.Delivery.Local.LocalDeliveryAgent" becomes "mailroom.localdeliveryagent": the part an admin greps for.</summary>
    private static string ShortCategory(string category) =>
        category.StartsWith("Mailroom.", StringComparison.Ordinal)
            ? "mailroom." + category[(category.LastIndexOf('.') + 1)..].ToLowerInvariant()
            : category;

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        LogLevel.Critical => "fatal",
        _ => "none",
    };
}

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

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        textWriter.Write(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z' ", System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write(Level(logEntry.LogLevel));
        textWriter.Write(' ');
        textWriter.Write(ShortCategory(logEntry.Category));
        textWriter.Write(": ");
        textWriter.Write(message?.ReplaceLineEndings(" "));
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

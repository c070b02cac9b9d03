using Microsoft.Extensions.Logging;

namespace Mailroom.Queue;

public sealed partial class FileMessageStore
{
    // Every line about a message starts with its queue ID, as in Postfix's log.
    private static partial class Log
    {
        // Queued and Removed are Debug: at Information the session logs the queued message (client,
        // from, size, nrcpt, as Postfix's smtpd and qmgr do) and the queue runner logs "removed",
        // once each per message, as Postfix does. Reports the runner queues are logged by the runner.
        [LoggerMessage(1, LogLevel.Debug, "{QueueId}: committed to the spool, {ContentLength} bytes, {RecipientCount} recipients")]
        public static partial void Queued(ILogger logger, QueueId queueId, long contentLength, int recipientCount);

        [LoggerMessage(2, LogLevel.Debug, "{QueueId}: removed from the spool")]
        public static partial void Removed(ILogger logger, QueueId queueId);

        [LoggerMessage(3, LogLevel.Information, "{QueueId}: deleted an uncommitted message left over from before the start")]
        public static partial void UncommittedDeleted(ILogger logger, string queueId);

        [LoggerMessage(4, LogLevel.Information, "{QueueId}: deleted a recipient state file whose message is gone")]
        public static partial void OrphanStateDeleted(ILogger logger, string queueId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "{QueueId}: annotations unreadable ({Reason}); delivering without the added headers")]
        public static partial void MalformedAnnotations(ILogger logger, string queueId, string reason);

        [LoggerMessage(5, LogLevel.Error, "{QueueId}: the queue file is corrupt ({Reason}); moved to {Path}")]
        public static partial void CorruptMovedAside(ILogger logger, QueueId queueId, string reason, string path);

        [LoggerMessage(6, LogLevel.Error, "{QueueId}: the queue file is corrupt ({Reason}) and could not be moved aside; it is skipped")]
        public static partial void CorruptNotMoved(ILogger logger, QueueId queueId, string reason, Exception exception);

        [LoggerMessage(7, LogLevel.Warning, "{QueueId}: ignored {Count} malformed lines in the recipient state file")]
        public static partial void MalformedStateLines(ILogger logger, QueueId queueId, int count);

        [LoggerMessage(8, LogLevel.Warning, "ignored {Path} in the spool: not a queue file")]
        public static partial void UnknownFileIgnored(ILogger logger, string path);

        [LoggerMessage(9, LogLevel.Warning, "{QueueId}: could not discard the uncommitted message file")]
        public static partial void DiscardFailed(ILogger logger, QueueId queueId, Exception exception);

        [LoggerMessage(10, LogLevel.Error, "{QueueId}: commit failed after the rename; withdrawing the message")]
        public static partial void CommitFailed(ILogger logger, QueueId queueId, Exception exception);

        [LoggerMessage(11, LogLevel.Error, "{QueueId}: could not withdraw the message after a failed commit; it may be delivered although the client was told to retry")]
        public static partial void WithdrawFailed(ILogger logger, QueueId queueId, Exception exception);
    }
}

using System.Text;
using Mailroom.Queue;

namespace Mailroom.Delivery.Local;

/// <summary>What became of one delivery into a Maildir.</summary>
internal enum MaildirDeliveryStatus
{
    /// <summary>The message was written into new/.</summary>
    Delivered,

    /// <summary>A file for this (queue ID, recipient) was already in new/ or cur/: an earlier attempt succeeded.</summary>
    AlreadyDelivered,

    /// <summary>A temporary failure (disk full, read-only, permissions, unsafe path...): the recipient stays queued.</summary>
    Deferred,
}

internal readonly record struct MaildirDeliveryResult(MaildirDeliveryStatus Status, string? Diagnostic = null)
{
    public bool Succeeded => Status is MaildirDeliveryStatus.Delivered or MaildirDeliveryStatus.AlreadyDelivered;
}

/// <summary>One message for one mailbox.</summary>
/// <param name="ReversePath">The envelope sender without angle brackets; empty for the null sender.</param>
/// <param name="Address">The recipient address, written in Delivered-To.</param>
/// <param name="LocalMailbox">The mailbox folder relative to the mail root, e.g. "example.com/alice".</param>
/// <param name="Annotations">Headers written before the content, and a quarantine reason (then the message goes to .Junk/).</param>
internal readonly record struct MaildirDelivery(
    QueueId QueueId,
    int RecipientIndex,
    DateTimeOffset ArrivalTime,
    string ReversePath,
    string Address,
    string LocalMailbox,
    MessageAnnotations? Annotations = null);

/// <summary>
/// Delivers one message into one Maildir (https://cr.yp.to/proto/maildir.html), like Postfix's
/// local(8): write into tmp/, fsync, rename into new/, fsync new/.
/// The file name is a function of (arrival time, queue ID, recipient index, host name), so a
/// redelivery after a crash between the rename and the queue's per-recipient record finds the
/// file of the earlier attempt (in new/, or in cur/ once a client has seen it) and does not write
/// it twice.
/// </summary>
internal sealed class MaildirWriter
{
    // Maildir folders and files are private to the mail owner, as Postfix and Dovecot create them.
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // Copy buffer for the content: large enough for few system calls, small enough to never hold the message.
    private const int CopyBufferSize = 64 * 1024;

    private static readonly string[] s_subdirectories = ["tmp", "new", "cur"];

    private readonly string _mailRoot;
    private readonly string _hostname;

    public MaildirWriter(string mailRoot, string hostname)
    {
        ArgumentException.ThrowIfNullOrEmpty(mailRoot);
        ArgumentException.ThrowIfNullOrEmpty(hostname);
        _mailRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mailRoot)) + Path.DirectorySeparatorChar;
        _hostname = EscapeUniquePart(hostname);
    }

    /// <summary>
    /// The file name for a delivery: "{arrival unix seconds}.M{queue ID}R{index}.{host}".
    /// The Maildir spec forbids '/' and ':' in a name; they are written \057 and \072.
    /// </summary>
    public string FileNameFor(QueueId queueId, int recipientIndex, DateTimeOffset arrivalTime) =>
        string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"{arrivalTime.ToUnixTimeSeconds()}.M{EscapeUniquePart(queueId.Value)}R{recipientIndex}.{_hostname}");

    /// <summary>
    /// The Maildir folder for a mailbox, or null when the mailbox would lead outside the mail root
    /// (an absolute path, "..", a NUL): the resolver should never produce one, and we refuse it.
    /// </summary>
    public string? MaildirFor(string localMailbox)
    {
        if (string.IsNullOrEmpty(localMailbox) || localMailbox.Contains('\0', StringComparison.Ordinal) || Path.IsPathRooted(localMailbox))
        {
            return null;
        }

        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.Combine(_mailRoot, localMailbox)));
        return full.Length > _mailRoot.Length && full.StartsWith(_mailRoot, StringComparison.Ordinal) ? full : null;
    }

    /// <summary>
    /// Delivers the content into the mailbox. Never throws for a disk or permission error: those
    /// are a <see cref="MaildirDeliveryStatus.Deferred"/> result (the message stays queued).
    /// Cancellation throws <see cref="OperationCanceledException"/> and leaves nothing in tmp/.
    /// </summary>
    /// <param name="openContent">Opens the stored content; called only when the file must be written.</param>
    public async ValueTask<MaildirDeliveryResult> DeliverAsync(MaildirDelivery delivery, Func<Stream> openContent, CancellationToken cancellationToken)
    {
        string? maildir = MaildirFor(delivery.LocalMailbox);
        if (maildir is null)
        {
            // A configuration or resolver error: defer (as Postfix does for an unsafe mailbox) so no mail is lost.
            return new(MaildirDeliveryStatus.Deferred, "mailbox path outside the mail root refused");
        }

        if (ContainsLineBreak(delivery.ReversePath) || ContainsLineBreak(delivery.Address))
        {
            // The SMTP grammar never lets these through; refuse rather than write a header injection.
            return new(MaildirDeliveryStatus.Deferred, "envelope address with a line break refused");
        }

        string name = FileNameFor(delivery.QueueId, delivery.RecipientIndex, delivery.ArrivalTime);
        string mailbox = maildir;
        if (delivery.Annotations?.QuarantineReason is not null)
        {
            // Maildir++: the Junk folder is the subfolder ".Junk" of the user's Maildir.
            EnsureMaildirOrDefer(maildir);
            maildir = Path.Combine(maildir, JunkFolder);
        }

        string tmpPath = Path.Combine(maildir, "tmp", name);
        string newDirectory = Path.Combine(maildir, "new");
        bool moved = false;
        try
        {
            EnsureMaildir(maildir);
            if (!ReferenceEquals(mailbox, maildir) && !File.Exists(Path.Combine(maildir, "maildirfolder")))
            {
                // Maildir++ marks a subfolder with an empty "maildirfolder" file.
                File.WriteAllBytes(Path.Combine(maildir, "maildirfolder"), []);
            }

            if (IsAlreadyDelivered(maildir, name))
            {
                // The earlier attempt may have crashed before its directory fsync: repeat it.
                DirectorySync.Sync(newDirectory);
                return new(MaildirDeliveryStatus.AlreadyDelivered);
            }

            var options = new FileStreamOptions
            {
                Mode = System.IO.FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0,
                Options = FileOptions.Asynchronous,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = FileMode;
            }

            // A tmp file left by a crashed attempt has our name; start it afresh (and with our mode).
            File.Delete(tmpPath);
            await using (var file = new FileStream(tmpPath, options))
            {
                await file.WriteAsync(DeliveryHeaders(delivery), cancellationToken).ConfigureAwait(false);
                await using (Stream content = openContent())
                {
                    await content.CopyToAsync(file, CopyBufferSize, cancellationToken).ConfigureAwait(false);
                }

                file.Flush(flushToDisk: true);
            }

            // Without overwrite: .NET links the new name and unlinks the old one, failing if the name exists.
            File.Move(tmpPath, Path.Combine(newDirectory, name), overwrite: false);
            moved = true;
            DirectorySync.Sync(newDirectory);
            return new(MaildirDeliveryStatus.Delivered);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // ENOSPC, EROFS, EACCES, EIO, a path component that is not a directory...: temporary.
            // (A failed fsync of new/ after the rename is retried too: the retry finds the file and syncs again.)
            return new(MaildirDeliveryStatus.Deferred, ex.Message);
        }
        finally
        {
            // On any failure or cancellation nothing stays in tmp/.
            if (!moved)
            {
                TryDelete(tmpPath);
            }
        }
    }

    /// <summary>
    /// Return-Path (RFC 5321 §4.4) and Delivered-To (as Postfix local(8) writes it), then the
    /// headers cleanup added (Authentication-Results...) and, for a quarantined message, why;
    /// CRLF-ended like the stored content.
    /// </summary>
    private static byte[] DeliveryHeaders(in MaildirDelivery delivery)
    {
        var headers = new StringBuilder($"Return-Path: <{delivery.ReversePath}>\r\nDelivered-To: {delivery.Address}\r\n");
        if (delivery.Annotations is { } annotations)
        {
            if (annotations.QuarantineReason is { } reason)
            {
                headers.Append(QuarantineHeader).Append(": ").Append(reason.ReplaceLineEndings(" ")).Append("\r\n");
            }

            foreach (var header in annotations.AddedHeaders)
            {
                headers.Append(header);
            }
        }

        return Encoding.UTF8.GetBytes(headers.ToString());
    }

    /// <summary>The Maildir++ folder quarantined mail goes to.</summary>
    public const string JunkFolder = ".Junk";

    /// <summary>The header that says why a message was quarantined.</summary>
    public const string QuarantineHeader = "X-Mailroom-Quarantine";

    private void EnsureMaildirOrDefer(string maildir)
    {
        try
        {
            EnsureMaildir(maildir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The write into .Junk below fails the same way and defers the delivery.
        }
    }

    private void EnsureMaildir(string maildir)
    {
        if (Directory.Exists(Path.Combine(maildir, "tmp")) && Directory.Exists(Path.Combine(maildir, "new")) && Directory.Exists(Path.Combine(maildir, "cur")))
        {
            return;
        }

        // Every missing folder from below the mail root down to tmp/, new/, cur/ is created with mode
        // 0700 (Directory.CreateDirectory(path, mode) would give missing parents the default mode).
        var missing = new List<string>();
        for (string? folder = maildir; folder is not null && folder.Length > _mailRoot.Length; folder = Path.GetDirectoryName(folder))
        {
            missing.Add(folder);
        }

        missing.Reverse();
        foreach (string sub in s_subdirectories)
        {
            missing.Add(Path.Combine(maildir, sub));
        }

        var parentsToSync = new List<string>();
        foreach (string folder in missing)
        {
            if (Directory.Exists(folder))
            {
                continue;
            }

            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, DirectoryMode);
            }

            string parent = Path.GetDirectoryName(folder)!;
            if (!parentsToSync.Contains(parent))
            {
                parentsToSync.Add(parent);
            }
        }

        // Make the new folders durable before the first message relies on them, deepest first.
        for (int i = parentsToSync.Count - 1; i >= 0; i--)
        {
            DirectorySync.Sync(parentsToSync[i]);
        }
    }

    private static bool IsAlreadyDelivered(string maildir, string name)
    {
        if (File.Exists(Path.Combine(maildir, "new", name)) || File.Exists(Path.Combine(maildir, "cur", name)))
        {
            return true;
        }

        // In cur/ a client appends the info part: "{name}:2,FLAGS". Compare names without allocating each one.
        string prefix = name + ":";
        var entries = new System.IO.Enumeration.FileSystemEnumerable<bool>(
            Path.Combine(maildir, "cur"),
            static (ref System.IO.Enumeration.FileSystemEntry _) => true,
            new EnumerationOptions { IgnoreInaccessible = false, RecurseSubdirectories = false })
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry entry) =>
                !entry.IsDirectory && entry.FileName.StartsWith(prefix, StringComparison.Ordinal),
        };
        return entries.Any();
    }

    /// <summary>Maildir: "/" is written \057 and ":" is written \072 in the unique part of a name.</summary>
    private static string EscapeUniquePart(string value) =>
        value.Replace("/", "\\057", StringComparison.Ordinal).Replace(":", "\\072", StringComparison.Ordinal);

    private static bool ContainsLineBreak(string value) => value.AsSpan().IndexOfAny('\r', '\n') >= 0;

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The failure being reported matters more; a stale tmp file is replaced by the next attempt.
        }
    }
}

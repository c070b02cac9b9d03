using System.Runtime.Versioning;
using System.Text;
using Mailroom.Delivery.Local;
using Mailroom.Delivery.Tests.Fakes;
using Mailroom.Queue;

namespace Mailroom.Delivery.Tests;

public sealed class MaildirWriterTests : IDisposable
{
    private static readonly DateTimeOffset s_arrival = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    // A Received header first, CRLF line ends, 8-bit bytes (UTF-8 and bytes that are not UTF-8).
    private static readonly byte[] s_content = Concat(
        "Received: from client.example.org by mx.example.com; Thu, 2 Jan 2025 03:04:05 +0000\r\n"u8.ToArray(),
        "Subject: caf\u00e9\r\n\r\nbody "u8.ToArray(),
        [0xFF, 0xFE, 0x80],
        "\r\n.\r\nend\r\n"u8.ToArray());

    private readonly TempDirectory _root = new();
    private readonly MaildirWriter _writer;

    public MaildirWriterTests()
    {
        _writer = new MaildirWriter(_root.Path, "mx1.example.com");
    }

    public void Dispose() => _root.Dispose();

    private string Maildir => Path.Combine(_root.Path, "example.com", "alice");

    [Fact]
    public async Task Delivers_ReturnPath_DeliveredTo_and_the_content_byte_for_byte_into_new()
    {
        MaildirDeliveryResult result = await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.Delivered, result.Status);
        string file = Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new")));
        byte[] expected = Concat("Return-Path: <bob@example.org>\r\nDelivered-To: alice@example.com\r\n"u8.ToArray(), s_content);
        Assert.Equal(expected, await File.ReadAllBytesAsync(file));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "tmp")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "cur")));
    }

    [Fact]
    public async Task Writes_the_headers_cleanup_added_before_the_content()
    {
        var annotations = new MessageAnnotations(["Authentication-Results: mx1.example.com; spf=pass\r\n", "Received-SPF: pass\r\n"]);

        await _writer.DeliverAsync(Delivery() with { Annotations = annotations }, () => new MemoryStream(s_content), CancellationToken.None);

        string file = Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new")));
        byte[] expected = Concat("Return-Path: <bob@example.org>\r\nDelivered-To: alice@example.com\r\nAuthentication-Results: mx1.example.com; spf=pass\r\nReceived-SPF: pass\r\n"u8.ToArray(), s_content);
        Assert.Equal(expected, await File.ReadAllBytesAsync(file));
    }

    [Fact]
    public async Task A_quarantined_message_goes_to_the_Maildir_plus_plus_Junk_folder_with_its_reason()
    {
        var annotations = new MessageAnnotations([], "DMARC policy of example.org: quarantine");

        MaildirDeliveryResult result = await _writer.DeliverAsync(Delivery() with { Annotations = annotations }, () => new MemoryStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.Delivered, result.Status);
        string junk = Path.Combine(Maildir, ".Junk");
        Assert.True(File.Exists(Path.Combine(junk, "maildirfolder")));
        Assert.Empty(Directory.GetFiles(Path.Combine(Maildir, "new")));
        string file = Assert.Single(Directory.GetFiles(Path.Combine(junk, "new")));
        Assert.Contains("X-Mailroom-Quarantine: DMARC policy of example.org: quarantine\r\n", await File.ReadAllTextAsync(file), StringComparison.Ordinal);

        // A redelivery of the same message finds it in .Junk and writes nothing again.
        result = await _writer.DeliverAsync(Delivery() with { Annotations = annotations }, () => new MemoryStream(s_content), CancellationToken.None);
        Assert.Equal(MaildirDeliveryStatus.AlreadyDelivered, result.Status);
        Assert.Single(Directory.GetFiles(Path.Combine(junk, "new")));
    }

    [Fact]
    public async Task Copies_content_larger_than_the_copy_buffer_exactly()
    {
        byte[] content = new byte[300_000 + 17];
        new Random(42).NextBytes(content);

        await _writer.DeliverAsync(Delivery(), () => new MemoryStream(content), CancellationToken.None);

        byte[] written = await File.ReadAllBytesAsync(Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new"))));
        byte[] headers = "Return-Path: <bob@example.org>\r\nDelivered-To: alice@example.com\r\n"u8.ToArray();
        Assert.Equal(Concat(headers, content), written);
    }

    [Fact]
    public async Task Names_the_file_after_arrival_time_queue_id_recipient_index_and_escaped_host()
    {
        var writer = new MaildirWriter(_root.Path, "mx1/a:b");

        await writer.DeliverAsync(Delivery(index: 3), () => new MemoryStream(s_content), CancellationToken.None);

        string name = Path.GetFileName(Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new"))));
        Assert.Equal(@"1735787045.MQ0001R3.mx1\057a\072b", name);
        Assert.Equal(name, writer.FileNameFor(new QueueId("Q0001"), 3, s_arrival));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task Creates_a_missing_Maildir_with_mode_0700_and_the_file_with_mode_0600()
    {
        Assert.False(Directory.Exists(Maildir));

        await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), CancellationToken.None);

        const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        foreach (string folder in new[] { Path.Combine(_root.Path, "example.com"), Maildir, Path.Combine(Maildir, "tmp"), Path.Combine(Maildir, "new"), Path.Combine(Maildir, "cur") })
        {
            Assert.Equal(Owner, File.GetUnixFileMode(folder));
        }

        string file = Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Fact]
    public async Task Redelivery_of_a_file_still_in_new_is_recognised_and_not_written_again()
    {
        await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), CancellationToken.None);
        int opened = 0;

        MaildirDeliveryResult again = await _writer.DeliverAsync(Delivery(), () => { opened++; return new MemoryStream(s_content); }, CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.AlreadyDelivered, again.Status);
        Assert.True(again.Succeeded);
        Assert.Equal(0, opened);
        Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "cur")));
    }

    [Fact]
    public async Task Redelivery_of_a_file_a_client_moved_to_cur_with_flags_is_recognised()
    {
        await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), CancellationToken.None);
        string delivered = Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new")));
        File.Move(delivered, Path.Combine(Maildir, "cur", Path.GetFileName(delivered) + ":2,S"));

        MaildirDeliveryResult again = await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.AlreadyDelivered, again.Status);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "new")));
        Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "cur")));
    }

    [Fact]
    public async Task Another_recipient_index_is_another_delivery_even_when_one_name_is_a_prefix_of_the_other()
    {
        await _writer.DeliverAsync(Delivery(index: 10), () => new MemoryStream(s_content), CancellationToken.None);
        string first = Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new")));
        File.Move(first, Path.Combine(Maildir, "cur", Path.GetFileName(first) + ":2,S"));

        MaildirDeliveryResult result = await _writer.DeliverAsync(Delivery(index: 1), () => new MemoryStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.Delivered, result.Status);
        Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new")));
    }

    [Fact]
    public async Task The_null_sender_is_written_as_an_empty_Return_Path()
    {
        await _writer.DeliverAsync(Delivery(reversePath: ""), () => new MemoryStream(s_content), CancellationToken.None);

        byte[] written = await File.ReadAllBytesAsync(Assert.Single(Directory.GetFiles(Path.Combine(Maildir, "new"))));
        Assert.StartsWith("Return-Path: <>\r\nDelivered-To: alice@example.com\r\nReceived: ", Encoding.UTF8.GetString(written), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Maildir_that_cannot_be_created_is_a_temporary_failure_and_leaves_no_file()
    {
        // The domain folder is a regular file: creating the Maildir below it fails as a full or read-only disk would.
        await File.WriteAllTextAsync(Path.Combine(_root.Path, "example.com"), "not a folder");

        MaildirDeliveryResult result = await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.Deferred, result.Status);
        Assert.False(result.Succeeded);
        Assert.False(string.IsNullOrEmpty(result.Diagnostic));
        Assert.Equal([Path.Combine(_root.Path, "example.com")], Directory.GetFileSystemEntries(_root.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_read_error_in_the_middle_of_the_content_is_a_temporary_failure_and_tmp_is_cleaned()
    {
        MaildirDeliveryResult result = await _writer.DeliverAsync(Delivery(), () => new FailingStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.Deferred, result.Status);
        Assert.Contains("disk read error", result.Diagnostic, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "tmp")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "new")));

        // The next attempt is not mistaken for a redelivery.
        MaildirDeliveryResult retry = await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), CancellationToken.None);
        Assert.Equal(MaildirDeliveryStatus.Delivered, retry.Status);
    }

    [Fact]
    public async Task Cancellation_throws_and_leaves_nothing_in_tmp_or_new()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await _writer.DeliverAsync(Delivery(), () => new MemoryStream(s_content), cancelled.Token));

        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "tmp")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(Maildir, "new")));
    }

    [Theory]
    [InlineData("../outside")]
    [InlineData("example.com/../../outside")]
    [InlineData("/tmp/outside")]
    [InlineData("..")]
    [InlineData(".")]
    public async Task A_mailbox_path_leading_outside_the_mail_root_is_refused(string mailbox)
    {
        string mailRoot = Path.Combine(_root.Path, "mail");
        Directory.CreateDirectory(mailRoot);
        var writer = new MaildirWriter(mailRoot, "mx1.example.com");

        MaildirDeliveryResult result = await writer.DeliverAsync(Delivery(mailbox: mailbox), () => new MemoryStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.Deferred, result.Status);
        Assert.Equal([mailRoot], Directory.GetFileSystemEntries(_root.Path, "*", SearchOption.AllDirectories));
        Assert.False(Directory.Exists("/tmp/outside"));
    }

    [Fact]
    public async Task An_address_with_a_line_break_is_refused_rather_than_injected_as_a_header()
    {
        MaildirDeliveryResult result = await _writer.DeliverAsync(
            Delivery(reversePath: "bob@example.org>\r\nX-Injected: <x"), () => new MemoryStream(s_content), CancellationToken.None);

        Assert.Equal(MaildirDeliveryStatus.Deferred, result.Status);
        Assert.False(Directory.Exists(Maildir));
    }

    private static MaildirDelivery Delivery(int index = 0, string reversePath = "bob@example.org", string mailbox = "example.com/alice") =>
        new(new QueueId("Q0001"), index, s_arrival, reversePath, "alice@example.com", mailbox);

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(part => part)];

    /// <summary>Returns the first bytes, then fails as a disk read error would.</summary>
    private sealed class FailingStream(byte[] content) : MemoryStream(content, 0, content.Length / 2)
    {
        private bool _first = true;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_first)
            {
                _first = false;
                return base.ReadAsync(buffer, cancellationToken);
            }

            throw new IOException("disk read error");
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

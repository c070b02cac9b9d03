namespace Mailroom.Delivery.Local;

/// <summary>How local (Maildir) delivery behaves.</summary>
public sealed class LocalDeliveryOptions
{
    /// <summary>
    /// The folder holding every mailbox ({data_dir}/mail): a recipient's Maildir is
    /// {MailRoot}/{LocalMailbox}/ with cur/, new/ and tmp/. Required.
    /// </summary>
    public string MailRoot { get; set; } = "";

    /// <summary>
    /// The host part of Maildir file names (https://cr.yp.to/proto/maildir.html: "the host's name").
    /// Default: the machine name, as Postfix's local(8) uses $myhostname.
    /// </summary>
    public string Hostname { get; set; } = Environment.MachineName;

    /// <summary>
    /// How many messages are delivered at once. Default 4: Maildir delivery is bound by fsyncs, and a
    /// few in flight keep one disk busy without contention (Postfix delivers locally with a
    /// per-user limit of 2, local_destination_concurrency_limit, and many users at once).
    /// </summary>
    public int Concurrency { get; set; } = 4;
}

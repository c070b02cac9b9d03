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
}

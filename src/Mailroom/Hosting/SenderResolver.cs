using System.Text;
using Mailroom.Delivery;
using Mailroom.Protocol;
using Mailroom.Queue;
using Mailroom.Server.Smtp;

namespace Mailroom.Hosting;

/// <summary>Resolves the envelope sender for a report: through the local recipient table when its domain is ours, else remote.</summary>
internal sealed class SenderResolver(ILocalRecipients recipients) : ISenderResolver
{
    public EnvelopeRecipient? Resolve(string address)
    {
        if (!SmtpPath.TryParseMailbox(Encoding.UTF8.GetBytes(address), out var path) || path.IsAddressLiteral || !recipients.IsLocalDomain(path.Domain))
        {
            return new EnvelopeRecipient { Address = address };
        }

        var target = recipients.Resolve(path.UnquotedLocalPart, path.Domain) is [var first, ..] ? first : null;
        return target is null ? null : new EnvelopeRecipient { Address = target.Address, LocalMailbox = target.Mailbox };
    }
}

using MimeKit;

namespace Mailroom.Authentication.Dmarc;

/// <summary>The RFC5322.From domain (RFC 7489 §3.1, §6.6.1).</summary>
public static class DmarcFromHeader
{
    /// <summary>
    /// The domain of the single From address, lowercased. Zero From headers, several, a list of
    /// several addresses, a group, an unparsable value or an address without a domain give null and
    /// a <paramref name="problem"/>: RFC 7489 §6.6.1 lets the receiver refuse such messages, and we do.
    /// </summary>
    public static string? TryGetDomain(HeaderList headers, out string? problem)
    {
        var from = headers.Where(h => h.Id == HeaderId.From).ToList();
        if (from.Count != 1)
        {
            problem = from.Count == 0 ? "no From header" : $"{from.Count} From headers";
            return null;
        }

        if (!InternetAddressList.TryParse(ParserOptions.Default, from[0].RawValue, out var addresses))
        {
            problem = "the From header cannot be parsed";
            return null;
        }

        if (addresses.Count != 1 || addresses[0] is not MailboxAddress mailbox)
        {
            problem = addresses.Count == 1 ? "the From header holds a group" : $"the From header holds {addresses.Count} addresses";
            return null;
        }

        var domain = mailbox.Domain.TrimEnd('.').ToLowerInvariant();
        if (domain.Length == 0 || !domain.Contains('.') || domain.StartsWith('['))
        {
            problem = $"the From address has no usable domain: {mailbox.Address}";
            return null;
        }

        problem = null;
        return domain;
    }
}

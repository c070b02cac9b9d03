namespace Mailroom.Protocol;

/// <summary>The commands of RFC 5321 §4.1 and the extensions Mailroom speaks.</summary>
public enum SmtpVerb : byte
{
    Unknown,
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Help,
    Vrfy,
    Expn,
    StartTls,
    Auth,
}

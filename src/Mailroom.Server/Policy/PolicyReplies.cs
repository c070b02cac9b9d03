using Mailroom.Protocol;

namespace Mailroom.Server.Policy;

/// <summary>
/// The replies of the policy checks. Texts are short and generic (DESIGN.md) and follow Postfix's
/// wording where Postfix has one; the details go to the log.
/// </summary>
internal static class PolicyReplies
{
    // RFC 3463 §3.2 X.1.8 "Bad sender's system address".
    public static readonly EnhancedStatusCode BadSenderSystem = new(5, 1, 8);
    public static readonly EnhancedStatusCode BadSenderSystemTemporary = new(4, 1, 8);

    // RFC 3463 §3.5 X.4.3 "Directory server failure" (DNS): Postfix uses 4.4.3 for a temporary DNS failure.
    public static readonly EnhancedStatusCode DirectoryServerFailure = new(4, 4, 3);

    // RFC 7505 §4.2: a sender domain with a null MX; 550 5.7.27 "Sender address has null MX".
    public static readonly EnhancedStatusCode SenderNullMx = new(5, 7, 27);

    // RFC 7372 §3.3: X.7.25 "Reverse DNS validation failed".
    public static readonly EnhancedStatusCode ReverseDnsFailed = new(5, 7, 25);
    public static readonly EnhancedStatusCode ReverseDnsFailedTemporary = new(4, 7, 25);

    // RFC 3463 §3.8 X.7.1 "Delivery not authorized, message refused".
    public static readonly EnhancedStatusCode NotAuthorizedTemporary = new(4, 7, 1);

    // RFC 3463 §3.6 X.5.1 / X.5.2.
    public static readonly EnhancedStatusCode ProtocolError = EnhancedStatusCode.InvalidCommand;

    // Postfix reject_unknown_sender_domain: "450 4.1.8 <a@b>: Sender address rejected: Domain not found".
    public static readonly SmtpReply SenderDomainNotFound = new(550, BadSenderSystem, "Sender address rejected: Domain not found");
    public static readonly SmtpReply SenderDomainLookupFailed = new(451, DirectoryServerFailure, "Sender address rejected: Domain lookup failed, try again later");
    public static readonly SmtpReply SenderDomainNullMx = new(550, SenderNullMx, "Sender address rejected: Domain does not accept mail (null MX)");

    // Postfix reject_invalid_helo_hostname: "501 5.5.2 <name>: Helo command rejected: Invalid name".
    public static readonly SmtpReply HeloInvalid = new(501, EnhancedStatusCode.SyntaxError, "Helo command rejected: Invalid name");
    public static readonly SmtpReply HeloIsUs = new(550, EnhancedStatusCode.DeliveryNotAuthorized, "Helo command rejected: You are not me");

    // Postfix reject_unknown_client_hostname: "Client host rejected: cannot find your hostname".
    public static readonly SmtpReply NoPtr = new(550, ReverseDnsFailed, "Client host rejected: cannot find your reverse hostname");
    public static readonly SmtpReply NoConfirmedPtr = new(550, ReverseDnsFailed, "Client host rejected: cannot find your hostname");
    public static readonly SmtpReply ReverseDnsTemporary = new(450, ReverseDnsFailedTemporary, "Client host rejected: cannot find your hostname, try again later");

    public static readonly SmtpReply TooManyUnknownRecipients = new(421, EnhancedStatusCode.TemporarySecurity, "Error: too many unknown recipients");
    public static readonly SmtpReply CoolingDown = new(421, EnhancedStatusCode.TemporarySecurity, "Error: too many errors from your address, try again later");

    // Postfix smtpd: "421 4.7.0 Error: too many connections from [ip]" (count and rate).
    public static readonly SmtpReply TooManyConnections = new(421, EnhancedStatusCode.TemporarySecurity, "Error: too many connections from your address");
    public static readonly SmtpReply ConnectionRate = new(421, EnhancedStatusCode.TemporarySecurity, "Error: too many connections from your address, slow down");

    // Postfix smtpd: "450 4.7.1 Error: too much mail from [ip]" / "too many recipients from [ip]".
    public static readonly SmtpReply MessageRate = new(450, NotAuthorizedTemporary, "Error: too much mail from your address");
    public static readonly SmtpReply RecipientRate = new(450, NotAuthorizedTemporary, "Error: too many recipients from your address");

    // postscreen pregreet (enforce): "550 5.5.1 Protocol error"; 554 is the refusal of RFC 5321 §3.1 at connection time.
    public static readonly SmtpReply Pregreet = new(554, ProtocolError, "Protocol error");

    // RFC 6647 §2.1 (greylisting): a temporary failure; postgrey's wording.
    public static readonly SmtpReply Greylisted = new(451, NotAuthorizedTemporary, "Greylisted, try again later");

    // DESIGN.md: an internal error is a 4xx.
    public static readonly SmtpReply InternalError = new(451, EnhancedStatusCode.TemporarySystem, "Error: local error in processing");
    public static readonly SmtpReply InternalErrorAtConnect = new(421, EnhancedStatusCode.TemporarySystem, "Error: local error in processing");

    /// <summary>Postfix reject_rbl_client: "554 5.7.1 Service unavailable; Client host [ip] blocked using zone".</summary>
    public static SmtpReply Blocked(System.Net.IPAddress client, string zone)
        => new(554, EnhancedStatusCode.DeliveryNotAuthorized, $"Service unavailable; client [{client}] blocked using {zone}");
}

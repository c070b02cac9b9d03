namespace Mailroom.Protocol;

/// <summary>
/// The fixed replies of the protocol, encoded once. Texts are short and generic (DESIGN.md: details
/// go to the log, not to the peer); most follow Postfix's wording, which clients and admins know.
/// </summary>
public static class SmtpReplies
{
    private static readonly EnhancedStatusCode Ok = EnhancedStatusCode.Ok;

    public static readonly SmtpReply Okay = new(250, Ok, "Ok");
    public static readonly SmtpReply SenderOk = new(250, EnhancedStatusCode.SenderOk, "Ok");
    public static readonly SmtpReply RecipientOk = new(250, EnhancedStatusCode.RecipientOk, "Ok");
    public static readonly SmtpReply Bye = new(221, Ok, "Bye");
    public static readonly SmtpReply StartData = new(354, null, "End data with <CR><LF>.<CR><LF>");
    public static readonly SmtpReply ReadyToStartTls = new(220, Ok, "Ready to start TLS");

    // RFC 5321 §3.5.3: VRFY that cannot verify answers 252; it must not reveal which users exist.
    public static readonly SmtpReply CannotVerify = new(252, Ok, "Cannot VRFY user, but will accept message and attempt delivery");
    public static readonly SmtpReply Help = new(214, Ok, "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS");

    public static readonly SmtpReply CommandUnrecognized = new(500, EnhancedStatusCode.SyntaxError, "Error: command not recognized");
    public static readonly SmtpReply LineTooLong = new(500, EnhancedStatusCode.SyntaxError, "Error: line too long");
    public static readonly SmtpReply ExpnDisabled = new(502, EnhancedStatusCode.InvalidCommand, "EXPN command is disabled");
    public static readonly SmtpReply HeloSyntax = new(501, EnhancedStatusCode.InvalidArguments, "Syntax: HELO hostname");
    public static readonly SmtpReply EhloSyntax = new(501, EnhancedStatusCode.InvalidArguments, "Syntax: EHLO hostname");
    public static readonly SmtpReply MailSyntax = new(501, EnhancedStatusCode.InvalidArguments, "Syntax: MAIL FROM:<address>");
    public static readonly SmtpReply RcptSyntax = new(501, EnhancedStatusCode.InvalidArguments, "Syntax: RCPT TO:<address>");
    public static readonly SmtpReply BdatSyntax = new(501, EnhancedStatusCode.InvalidArguments, "Syntax: BDAT size [LAST]");
    public static readonly SmtpReply NoArguments = new(501, EnhancedStatusCode.InvalidArguments, "Syntax: no parameters allowed");
    public static readonly SmtpReply BadSender = new(501, EnhancedStatusCode.BadSenderSyntax, "Bad sender address syntax");
    public static readonly SmtpReply BadRecipient = new(501, EnhancedStatusCode.BadDestinationSyntax, "Bad recipient address syntax");
    public static readonly SmtpReply BadParameterValue = new(501, EnhancedStatusCode.InvalidArguments, "Bad parameter value");
    public static readonly SmtpReply DuplicateParameter = new(501, EnhancedStatusCode.InvalidArguments, "Duplicate parameter");
    public static readonly SmtpReply UnsupportedParameter = new(555, EnhancedStatusCode.InvalidArguments, "Unsupported parameter");

    public static readonly SmtpReply NeedHelo = new(503, EnhancedStatusCode.InvalidCommand, "Error: send HELO/EHLO first");
    public static readonly SmtpReply NeedMail = new(503, EnhancedStatusCode.InvalidCommand, "Error: need MAIL command");
    public static readonly SmtpReply NestedMail = new(503, EnhancedStatusCode.InvalidCommand, "Error: nested MAIL command");
    public static readonly SmtpReply NeedRcpt = new(503, EnhancedStatusCode.InvalidCommand, "Error: need RCPT command");
    public static readonly SmtpReply DataAfterBdat = new(503, EnhancedStatusCode.InvalidCommand, "Error: DATA not allowed after BDAT");
    public static readonly SmtpReply AlreadyTls = new(503, EnhancedStatusCode.InvalidCommand, "Error: TLS already active");
    public static readonly SmtpReply BadSequence = new(503, EnhancedStatusCode.InvalidCommand, "Error: bad sequence of commands");

    // RFC 2920 §3.1: DATA after no accepted recipient.
    public static readonly SmtpReply NoValidRecipients = new(554, EnhancedStatusCode.InvalidCommand, "Error: no valid recipients");
    public static readonly SmtpReply TooManyRecipients = new(452, EnhancedStatusCode.TooManyRecipients, "Error: too many recipients");
    public static readonly SmtpReply MessageTooBig = new(552, EnhancedStatusCode.MessageTooBig, "Error: message size exceeds fixed limit");

    // RFC 5321 §2.3.8: bare CR and LF are not allowed; accepting them opens SMTP smuggling.
    public static readonly SmtpReply BareLineEnding = new(550, EnhancedStatusCode.SyntaxError, "Error: bare <CR> or <LF> received");
    public static readonly SmtpReply TextLineTooLong = new(500, EnhancedStatusCode.SyntaxError, "Error: message line too long");
    public static readonly SmtpReply NonAsciiSender = new(553, EnhancedStatusCode.NonAsciiAddress, "Non-ASCII addresses not permitted for that sender");
    public static readonly SmtpReply NonAsciiRecipient = new(553, EnhancedStatusCode.NonAsciiAddress, "Non-ASCII addresses not permitted for that recipient");

    public static readonly SmtpReply UnknownUser = new(550, EnhancedStatusCode.BadDestinationMailbox, "Recipient address rejected: user unknown");
    public static readonly SmtpReply RelayDenied = new(554, EnhancedStatusCode.DeliveryNotAuthorized, "Relay access denied");
    public static readonly SmtpReply TlsRequired = new(530, EnhancedStatusCode.SecurityPolicy, "Must issue a STARTTLS command first");
    public static readonly SmtpReply TlsUnavailable = new(454, EnhancedStatusCode.TemporarySecurity, "TLS not available due to local problem");

    public static readonly SmtpReply TooManyErrors = new(421, EnhancedStatusCode.TemporarySecurity, "Error: too many errors");
    public static readonly SmtpReply Timeout = new(421, EnhancedStatusCode.TemporaryTimeout, "Error: timeout exceeded");
    public static readonly SmtpReply ShuttingDown = new(421, EnhancedStatusCode.TemporarySystem, "Service shutting down");
    public static readonly SmtpReply TooManyConnections = new(421, EnhancedStatusCode.TemporarySecurity, "Error: too many connections");

    // DESIGN.md: an internal error is a 4xx, so that the sender retries; never a 5xx.
    public static readonly SmtpReply LocalError = new(451, EnhancedStatusCode.TemporarySystem, "Error: local error in processing");
    public static readonly SmtpReply InsufficientStorage = new(452, EnhancedStatusCode.TemporaryStorage, "Error: insufficient system storage");
}

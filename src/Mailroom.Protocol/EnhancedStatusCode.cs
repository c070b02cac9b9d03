namespace Mailroom.Protocol;

/// <summary>An RFC 3463 enhanced mail system status code: class.subject.detail.</summary>
public readonly record struct EnhancedStatusCode(byte Class, short Subject, short Detail)
{
    public override string ToString() => $"{Class}.{Subject}.{Detail}";

    // RFC 3463 §3 and the IANA registry (RFC 5248): the codes Mailroom uses.
    public static readonly EnhancedStatusCode Ok = new(2, 0, 0);
    public static readonly EnhancedStatusCode SenderOk = new(2, 1, 0);
    public static readonly EnhancedStatusCode RecipientOk = new(2, 1, 5);
    public static readonly EnhancedStatusCode TemporaryOther = new(4, 0, 0);
    public static readonly EnhancedStatusCode TemporarySystem = new(4, 3, 0);
    public static readonly EnhancedStatusCode TemporaryStorage = new(4, 3, 1);
    public static readonly EnhancedStatusCode TemporaryTimeout = new(4, 4, 2);
    public static readonly EnhancedStatusCode TooManyRecipients = new(4, 5, 3);
    public static readonly EnhancedStatusCode TemporarySecurity = new(4, 7, 0);
    public static readonly EnhancedStatusCode PermanentOther = new(5, 0, 0);
    public static readonly EnhancedStatusCode BadDestinationMailbox = new(5, 1, 1);
    public static readonly EnhancedStatusCode BadDestinationSyntax = new(5, 1, 3);
    public static readonly EnhancedStatusCode BadSenderSyntax = new(5, 1, 7);
    public static readonly EnhancedStatusCode MessageTooBig = new(5, 3, 4);
    public static readonly EnhancedStatusCode InvalidCommand = new(5, 5, 1);
    public static readonly EnhancedStatusCode SyntaxError = new(5, 5, 2);
    public static readonly EnhancedStatusCode InvalidArguments = new(5, 5, 4);
    public static readonly EnhancedStatusCode NonAsciiAddress = new(5, 6, 7);
    public static readonly EnhancedStatusCode SecurityPolicy = new(5, 7, 0);
    public static readonly EnhancedStatusCode DeliveryNotAuthorized = new(5, 7, 1);
}

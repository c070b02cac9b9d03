namespace Mailroom.Protocol;

/// <summary>Where an SMTP session stands (RFC 5321 §4.1.4 command ordering).</summary>
public enum SessionState : byte
{
    /// <summary>Greeting sent; no HELO/EHLO yet.</summary>
    Connected,

    /// <summary>HELO/EHLO done; no mail transaction.</summary>
    Ready,

    /// <summary>MAIL accepted; no recipient accepted yet.</summary>
    HaveMail,

    /// <summary>At least one RCPT accepted.</summary>
    HaveRecipients,

    /// <summary>BDAT chunks received, the LAST one not yet (RFC 3030).</summary>
    ReceivingChunks,
}

/// <summary>
/// The session's state table: which command is allowed in which state, and the reply when it is
/// not. The session consults this table instead of nesting ifs (DESIGN.md).
/// </summary>
public static class SessionStateTable
{
    private static readonly int StateCount = Enum.GetValues<SessionState>().Length;
    private static readonly SmtpReply?[] Table = Build();

    /// <summary>Null when <paramref name="verb"/> may run in <paramref name="state"/>; otherwise the 503 reply to send.</summary>
    public static SmtpReply? Check(SessionState state, SmtpVerb verb) => Table[((int)verb * StateCount) + (int)state];

    private static SmtpReply?[] Build()
    {
        var table = new SmtpReply?[Enum.GetValues<SmtpVerb>().Length * StateCount];

        void Rule(SmtpVerb verb, SmtpReply? connected, SmtpReply? ready, SmtpReply? haveMail, SmtpReply? haveRecipients, SmtpReply? receivingChunks)
        {
            var row = (int)verb * StateCount;
            table[row + (int)SessionState.Connected] = connected;
            table[row + (int)SessionState.Ready] = ready;
            table[row + (int)SessionState.HaveMail] = haveMail;
            table[row + (int)SessionState.HaveRecipients] = haveRecipients;
            table[row + (int)SessionState.ReceivingChunks] = receivingChunks;
        }

        SmtpReply? allowed = null;
        var needHelo = SmtpReplies.NeedHelo;
        var needMail = SmtpReplies.NeedMail;
        var bad = SmtpReplies.BadSequence;

        //                        Connected  Ready     HaveMail                 HaveRecipients  ReceivingChunks
        Rule(SmtpVerb.Helo,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.Ehlo,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.Mail,       needHelo,  allowed,  SmtpReplies.NestedMail,  SmtpReplies.NestedMail, SmtpReplies.NestedMail);
        Rule(SmtpVerb.Rcpt,       needMail,  needMail, allowed,                 allowed,        bad);
        Rule(SmtpVerb.Data,       needMail,  needMail, SmtpReplies.NeedRcpt,    allowed,        SmtpReplies.DataAfterBdat);
        Rule(SmtpVerb.Bdat,       needMail,  needMail, SmtpReplies.NeedRcpt,    allowed,        allowed);
        Rule(SmtpVerb.Rset,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.Noop,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.Quit,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.Help,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.Vrfy,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.Expn,       allowed,   allowed,  allowed,                 allowed,        allowed);
        Rule(SmtpVerb.StartTls,   needHelo,  allowed,  bad,                     bad,            bad);
        Rule(SmtpVerb.Auth,       needHelo,  allowed,  bad,                     bad,            bad);
        Rule(SmtpVerb.Unknown,    allowed,   allowed,  allowed,                 allowed,        allowed);
        return table;
    }
}

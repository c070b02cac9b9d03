namespace Mailroom.Protocol.Tests;

public sealed class SessionStateTableTests
{
    [Theory]
    [InlineData(SessionState.Connected, SmtpVerb.Mail, "5.5.1")]
    [InlineData(SessionState.Ready, SmtpVerb.Rcpt, "5.5.1")]
    [InlineData(SessionState.Ready, SmtpVerb.Data, "5.5.1")]
    [InlineData(SessionState.HaveMail, SmtpVerb.Data, "5.5.1")]
    [InlineData(SessionState.HaveMail, SmtpVerb.Mail, "5.5.1")]
    [InlineData(SessionState.ReceivingChunks, SmtpVerb.Data, "5.5.1")]
    [InlineData(SessionState.HaveRecipients, SmtpVerb.StartTls, "5.5.1")]
    [InlineData(SessionState.Connected, SmtpVerb.StartTls, "5.5.1")]
    public void RefusesOutOfOrderCommandsWith503(SessionState state, SmtpVerb verb, string status)
    {
        var reply = SessionStateTable.Check(state, verb);

        Assert.NotNull(reply);
        Assert.Equal(503, reply.Code);
        Assert.Equal(status, reply.Status.ToString());
    }

    [Theory]
    [InlineData(SessionState.Connected, SmtpVerb.Ehlo)]
    [InlineData(SessionState.Connected, SmtpVerb.Noop)]
    [InlineData(SessionState.Connected, SmtpVerb.Quit)]
    [InlineData(SessionState.Ready, SmtpVerb.Mail)]
    [InlineData(SessionState.HaveMail, SmtpVerb.Rcpt)]
    [InlineData(SessionState.HaveRecipients, SmtpVerb.Rcpt)]
    [InlineData(SessionState.HaveRecipients, SmtpVerb.Data)]
    [InlineData(SessionState.HaveRecipients, SmtpVerb.Bdat)]
    [InlineData(SessionState.ReceivingChunks, SmtpVerb.Bdat)]
    [InlineData(SessionState.ReceivingChunks, SmtpVerb.Rset)]
    [InlineData(SessionState.Ready, SmtpVerb.StartTls)]
    public void AllowsCommandsInTheirStates(SessionState state, SmtpVerb verb)
    {
        Assert.Null(SessionStateTable.Check(state, verb));
    }

    [Fact]
    public void EveryStateAndVerbHasAnEntry()
    {
        // RSET, NOOP and QUIT are allowed everywhere (RFC 5321 §4.1.4).
        foreach (var state in Enum.GetValues<SessionState>())
        {
            Assert.Null(SessionStateTable.Check(state, SmtpVerb.Rset));
            Assert.Null(SessionStateTable.Check(state, SmtpVerb.Noop));
            Assert.Null(SessionStateTable.Check(state, SmtpVerb.Quit));
        }
    }
}

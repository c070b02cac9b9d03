using System.Text;

namespace Mailroom.Protocol.Tests;

public sealed class SmtpReplyTests
{
    [Fact]
    public void EncodesSingleAndMultiLineReplies()
    {
        Assert.Equal("250 2.1.0 Ok\r\n", Encoding.ASCII.GetString(SmtpReplies.SenderOk.Wire));
        Assert.Equal("250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n", Encoding.ASCII.GetString(new SmtpReply(250, null, "mx.example", "PIPELINING", "SIZE 10").Wire));
    }

    [Fact]
    public void ALineBreakInTheTextCannotForgeASecondReply()
    {
        var reply = new SmtpReply(550, EnhancedStatusCode.BadDestinationMailbox, "no\r\n250 ok");

        Assert.Equal("550 5.1.1 no  250 ok\r\n", Encoding.ASCII.GetString(reply.Wire));
    }

    [Fact]
    public void EveryFixedReplyOfClass2To5CarriesAnEnhancedStatusOfTheSameClass()
    {
        foreach (var field in typeof(SmtpReplies).GetFields())
        {
            var reply = (SmtpReply)field.GetValue(null)!;
            if (reply.Code / 100 == 3)
            {
                Assert.Null(reply.Status);
                continue;
            }

            Assert.NotNull(reply.Status);
            Assert.Equal(reply.Code / 100, reply.Status.Value.Class);
        }
    }
}

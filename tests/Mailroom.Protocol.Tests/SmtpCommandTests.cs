using System.Text;

namespace Mailroom.Protocol.Tests;

public sealed class SmtpCommandTests
{
    [Theory]
    [InlineData("EHLO client.example", SmtpVerb.Ehlo, "client.example")]
    [InlineData("ehlo client.example", SmtpVerb.Ehlo, "client.example")]
    [InlineData("HeLo x", SmtpVerb.Helo, "x")]
    [InlineData("MAIL FROM:<a@b> SIZE=10", SmtpVerb.Mail, "FROM:<a@b> SIZE=10")]
    [InlineData("rcpt TO:<a@b>  ", SmtpVerb.Rcpt, "TO:<a@b>")]
    [InlineData("DATA", SmtpVerb.Data, "")]
    [InlineData("BDAT 100 LAST", SmtpVerb.Bdat, "100 LAST")]
    [InlineData("RSET", SmtpVerb.Rset, "")]
    [InlineData("NOOP anything", SmtpVerb.Noop, "anything")]
    [InlineData("QUIT", SmtpVerb.Quit, "")]
    [InlineData("HELP", SmtpVerb.Help, "")]
    [InlineData("VRFY bob", SmtpVerb.Vrfy, "bob")]
    [InlineData("EXPN list", SmtpVerb.Expn, "list")]
    [InlineData("STARTTLS", SmtpVerb.StartTls, "")]
    [InlineData("starttls", SmtpVerb.StartTls, "")]
    [InlineData("AUTH PLAIN", SmtpVerb.Auth, "PLAIN")]
    [InlineData("GET / HTTP/1.0", SmtpVerb.Unknown, "/ HTTP/1.0")]
    [InlineData("MAILX FROM:<a@b>", SmtpVerb.Unknown, "FROM:<a@b>")]
    [InlineData("", SmtpVerb.Unknown, "")]
    [InlineData("STARTTLSX", SmtpVerb.Unknown, "")]
    public void SplitsVerbAndArguments(string line, SmtpVerb verb, string arguments)
    {
        var bytes = Encoding.ASCII.GetBytes(line);
        var command = SmtpCommand.Parse(bytes);

        Assert.Equal(verb, command.Verb);
        Assert.Equal(arguments, Encoding.ASCII.GetString(command.Arguments(bytes)));
    }
}

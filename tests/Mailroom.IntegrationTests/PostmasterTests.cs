using System.Text;
using Mailroom.IntegrationTests.Infrastructure;

namespace Mailroom.IntegrationTests;

/// <summary>RFC 5321 §4.1.1.3: RCPT TO:&lt;postmaster&gt; without a domain must always be accepted.</summary>
public sealed class PostmasterTests
{
    [Fact]
    public async Task Domainless_postmaster_goes_to_the_first_local_domain_when_the_hostname_is_not_local()
    {
        // The default test configuration: hostname mx.example.test, local domain example.test only.
        await using var server = await MailroomProcess.StartAsync();
        await using var smtp = await RawSmtpClient.ConnectAsync(server.SmtpPort);
        await smtp.CommandAsync("EHLO client.example", 250);
        var reply = await smtp.SendMessageAsync("someone@sender.test", "postmaster", Encoding.ASCII.GetBytes("Subject: hi\r\n\r\nhello\r\n.\r\n"));
        Assert.Equal(250, reply.Code);
        var id = reply.Lines[^1].Split(' ')[^1];
        await server.WaitForDeliveryAsync(id, "postmaster@example.test");
    }
}

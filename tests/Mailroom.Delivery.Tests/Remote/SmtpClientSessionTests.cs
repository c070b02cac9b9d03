using System.Text;
using Mailroom.Delivery.Remote;
using Mailroom.Delivery.Tests.Fakes;
using Mailroom.Protocol;
using Mailroom.Queue;
using Microsoft.Extensions.Logging;

namespace Mailroom.Delivery.Tests.Remote;

/// <summary>The client against the scripted fake server: what smtp-sink cannot express.</summary>
public sealed class SmtpClientSessionTests
{
    private const string Ehlo = "250-mx.test\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n";

    internal static OutboundMessage Message(string content, params string[] recipients)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        return new OutboundMessage
        {
            ReversePath = "sender@example.com",
            Recipients = [.. recipients.Select(r => new OutboundRecipient(r))],
            Size = bytes.Length,
            OpenContent = () => new MemoryStream(bytes),
        };
    }

    private static async Task<SmtpConnectResult> ConnectAsync(FakeSmtpServer server, SmtpClientOptions? options = null, LogCapture? log = null, TimeProvider? time = null) =>
        await SmtpClientSession.ConnectAsync(server.EndPoint, "mx.test", options ?? new SmtpClientOptions { HeloName = "client.test" }, time ?? TimeProvider.System, (log ?? new LogCapture()).CreateLogger("smtp"), CancellationToken.None);

    internal static async Task GreetAsync(FakePeer peer, string ehloReply = Ehlo)
    {
        await peer.SendAsync("220 mx.test ESMTP\r\n");
        await peer.ExpectAsync("EHLO client.test");
        await peer.SendAsync(ehloReply);
    }

    internal static async Task QuitAsync(FakePeer peer)
    {
        await peer.ExpectAsync("QUIT");
        await peer.SendAsync("221 2.0.0 Bye\r\n");
    }

    /// <summary>Reads one message's pipelined MAIL (from sender@example.com), RCPT and DATA.</summary>
    internal static async Task ExpectCommandGroupAsync(FakePeer peer, string recipient)
    {
        await peer.ExpectAsync("MAIL FROM:<sender@example.com>");
        await peer.ExpectAsync($"RCPT TO:<{recipient}>");
        await peer.ExpectAsync("DATA");
    }

    [Fact]
    public async Task A421GreetingIsATemporaryFailure()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await peer.SendAsync("421 4.3.2 mx.test busy, try later\r\n");
            await peer.ExpectAsync("QUIT");
        });

        var result = await ConnectAsync(server);

        Assert.False(result.Connected);
        Assert.Equal(421, result.Failure.Code);
        Assert.Equal(DeliveryOutcome.Deferred, result.Failure.Outcome);
        Assert.Equal("smtp; 421 4.3.2 mx.test busy, try later", result.Failure.DiagnosticCode);
        await server.Completion;
    }

    [Fact]
    public async Task PipelinesMailRcptAndDataAndReportsEachRecipient()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");

            // RFC 2920: every command up to DATA arrives before the server has said anything.
            await peer.ExpectAsync("MAIL FROM:<sender@example.com>");
            await peer.ExpectAsync("RCPT TO:<a@example.org>");
            await peer.ExpectAsync("RCPT TO:<b@example.org>");
            await peer.ExpectAsync("RCPT TO:<c@example.org>");
            await peer.ExpectAsync("DATA");
            await peer.SendAsync("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n450 4.2.0 <b@example.org>: greylisted\r\n550 5.1.1 <c@example.org>: user unknown\r\n354 go ahead\r\n");
            var data = await peer.ReadDataAsync();
            Assert.Equal("Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n", Encoding.ASCII.GetString(data));
            await peer.SendAsync("250 2.0.0 Ok: queued as ABC\r\n");
            await QuitAsync(peer);
        });

        var connect = await ConnectAsync(server);
        Assert.True(connect.Connected);
        TransactionResult result;
        await using (var session = connect.Session)
        {
            result = await session.SendAsync(Message("Subject: x\r\n\r\n.hidden\nend", "a@example.org", "b@example.org", "c@example.org"), CancellationToken.None);
        }

        Assert.Equal([DeliveryOutcome.Delivered, DeliveryOutcome.Deferred, DeliveryOutcome.Failed], result.Recipients.Select(r => r.Outcome));
        Assert.Equal([true, false, false], result.Recipients.Select(r => r.Accepted));
        Assert.Equal("smtp; 250 2.0.0 Ok: queued as ABC", result.Recipients[0].Reply.DiagnosticCode);
        Assert.Equal(new EnhancedStatusCode(4, 2, 0), result.Recipients[1].EnhancedStatusCode);
        Assert.Equal("smtp; 550 5.1.1 <c@example.org>: user unknown", result.Recipients[2].Reply.DiagnosticCode);
        Assert.Equal(250, result.DataReply?.Code);
        await server.Completion;
    }

    [Fact]
    public async Task TheNextTransactionOnTheSameConnectionStartsWithAPipelinedRset()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
            await peer.ExpectAsync("MAIL FROM:<sender@example.com>");
            await peer.ExpectAsync("RCPT TO:<a@example.org>");
            await peer.ExpectAsync("DATA");
            await peer.SendAsync("250 Ok\r\n250 Ok\r\n354 go\r\n");
            await peer.ReadDataAsync();
            await peer.SendAsync("250 2.0.0 Ok: queued as 1\r\n");

            // Nothing between the transactions; the second one begins with RSET in the same write as MAIL.
            await peer.ExpectAsync("RSET");
            await peer.ExpectAsync("MAIL FROM:<sender@example.com>");
            await peer.ExpectAsync("RCPT TO:<b@example.org>");
            await peer.ExpectAsync("DATA");
            await peer.SendAsync("250 2.0.0 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n");
            await peer.ReadDataAsync();
            await peer.SendAsync("250 2.0.0 Ok: queued as 2\r\n");
            await QuitAsync(peer);
        });

        var connect = await ConnectAsync(server);
        await using (var session = connect.Session!)
        {
            Assert.Equal(DeliveryOutcome.Delivered, Assert.Single((await session.SendAsync(Message("one\r\n", "a@example.org"), CancellationToken.None)).Recipients).Outcome);
            var second = await session.SendAsync(Message("two\r\n", "b@example.org"), CancellationToken.None);
            Assert.Equal(DeliveryOutcome.Delivered, Assert.Single(second.Recipients).Outcome);
            Assert.Equal("smtp; 250 2.0.0 Ok: queued as 2", second.DataReply?.DiagnosticCode);
            Assert.False(session.ClosedBeforeTransaction);
        }

        await server.Completion;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AConnectionTheServerClosedBetweenTransactionsIsReportedAsClosedBeforeTheTransaction(bool pipelining)
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, pipelining ? "250-mx.test\r\n250 PIPELINING\r\n" : "250 mx.test\r\n");
            await peer.ExpectAsync("MAIL FROM:<sender@example.com>");
            if (pipelining)
            {
                await peer.ExpectAsync("RCPT TO:<a@example.org>");
                await peer.ExpectAsync("DATA");
                await peer.SendAsync("250 Ok\r\n250 Ok\r\n354 go\r\n");
            }
            else
            {
                await peer.SendAsync("250 Ok\r\n");
                await peer.ExpectAsync("RCPT TO:<a@example.org>");
                await peer.SendAsync("250 Ok\r\n");
                await peer.ExpectAsync("DATA");
                await peer.SendAsync("354 go\r\n");
            }

            await peer.ReadDataAsync();
            await peer.SendAsync("250 2.0.0 Ok\r\n");
            peer.Close(); // an idle timeout on the server's side
        });

        var connect = await ConnectAsync(server);
        await using (var session = connect.Session!)
        {
            await session.SendAsync(Message("one\r\n", "a@example.org"), CancellationToken.None);
            await server.Completion;

            var second = await session.SendAsync(Message("two\r\n", "b@example.org"), CancellationToken.None);
            Assert.True(session.ClosedBeforeTransaction);
            Assert.False(session.IsUsable);
            Assert.Equal(DeliveryOutcome.Deferred, Assert.Single(second.Recipients).Outcome);
        }
    }

    [Fact]
    public async Task NoAcceptedRecipientMeansNoDataButRset()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer);
            await peer.ExpectAsync("MAIL FROM:<sender@example.com>");
            await peer.SendAsync("250 2.1.0 Ok\r\n");
            await peer.ExpectAsync("RCPT TO:<a@example.org>");
            await peer.SendAsync("550 5.1.1 no such user\r\n");
            await peer.ExpectAsync("RSET");
            await peer.SendAsync("250 2.0.0 Ok\r\n");
            await QuitAsync(peer);
        });

        var connect = await ConnectAsync(server);
        await using (var session = connect.Session!)
        {
            var result = await session.SendAsync(Message("x\r\n", "a@example.org"), CancellationToken.None);
            Assert.Equal(DeliveryOutcome.Failed, Assert.Single(result.Recipients).Outcome);
            Assert.Null(result.DataReply);
            Assert.True(session.IsUsable);
        }

        await server.Completion;
    }

    [Fact]
    public async Task ALargerMessageThanTheServersSizeFailsWith534WithoutData()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250-SIZE 100\r\n250 8BITMIME\r\n");
            await QuitAsync(peer); // no MAIL, no DATA
        });

        var connect = await ConnectAsync(server);
        await using (var session = connect.Session!)
        {
            Assert.Equal(100, session.Capabilities.Size);
            var result = await session.SendAsync(Message(new string('x', 200), "a@example.org", "b@example.org"), CancellationToken.None);
            Assert.All(result.Recipients, r =>
            {
                Assert.Equal(DeliveryOutcome.Failed, r.Outcome);
                Assert.Equal(EnhancedStatusCode.MessageTooBig, r.EnhancedStatusCode);
                Assert.True(r.Reply.IsLocal);
            });
        }

        await server.Completion;
    }

    [Fact]
    public async Task AnInternationalAddressToAServerWithoutSmtpUtf8Fails567()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer);
            await QuitAsync(peer);
        });

        var connect = await ConnectAsync(server);
        await using (var session = connect.Session!)
        {
            var result = await session.SendAsync(Message("x\r\n", "jörg@example.de", "ascii@example.de"), CancellationToken.None);
            Assert.All(result.Recipients, r =>
            {
                Assert.Equal(DeliveryOutcome.Failed, r.Outcome);
                Assert.Equal(new EnhancedStatusCode(5, 6, 7), r.EnhancedStatusCode);
            });
        }

        await server.Completion;
    }

    [Fact]
    public async Task AnInternationalAddressGoesWithSmtpUtf8ToAServerThatHasIt()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n");
            await peer.ExpectAsync("MAIL FROM:<sender@example.com> SMTPUTF8");
            await peer.SendAsync("250 Ok\r\n");
            await peer.ExpectAsync("RCPT TO:<jörg@example.de>");
            await peer.SendAsync("250 Ok\r\n");
            await peer.ExpectAsync("DATA");
            await peer.SendAsync("354 go\r\n");
            await peer.ReadDataAsync();
            await peer.SendAsync("250 Ok\r\n");
            await QuitAsync(peer);
        });

        var connect = await ConnectAsync(server);
        await using (var session = connect.Session!)
        {
            var result = await session.SendAsync(Message("x\r\n", "jörg@example.de"), CancellationToken.None);
            Assert.Equal(DeliveryOutcome.Delivered, Assert.Single(result.Recipients).Outcome);
        }

        await server.Completion;
    }

    [Fact]
    public async Task AConnectionDroppedMidDataDefersEveryRecipient()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer);
            await peer.ExpectAsync("MAIL");
            await peer.SendAsync("250 Ok\r\n");
            await peer.ExpectAsync("RCPT TO:<a@example.org>");
            await peer.SendAsync("250 Ok\r\n");
            await peer.ExpectAsync("RCPT TO:<b@example.org>");
            await peer.SendAsync("550 5.1.1 unknown\r\n");
            await peer.ExpectAsync("RCPT TO:<c@example.org>");
            await peer.SendAsync("250 Ok\r\n");
            await peer.ExpectAsync("DATA");
            await peer.SendAsync("354 go\r\n");
            Assert.True(await peer.ReadSomeAsync(100) > 0);
            peer.Close();
        });

        var log = new LogCapture();
        var connect = await ConnectAsync(server, log: log);
        await using (var session = connect.Session!)
        {
            var body = "Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(new string('x', 76) + "\r\n", 100_000));
            var result = await session.SendAsync(Message(body, "a@example.org", "b@example.org", "c@example.org"), CancellationToken.None);

            Assert.Equal([DeliveryOutcome.Deferred, DeliveryOutcome.Failed, DeliveryOutcome.Deferred], result.Recipients.Select(r => r.Outcome));
            Assert.Equal(new EnhancedStatusCode(4, 4, 2), result.Recipients[0].EnhancedStatusCode);
            Assert.True(result.Recipients[0].Reply.IsLocal);
            Assert.Equal("smtp; 550 5.1.1 unknown", result.Recipients[1].Reply.DiagnosticCode);
            Assert.False(session.IsUsable);

            var again = await session.SendAsync(Message("x", "a@example.org"), CancellationToken.None);
            Assert.Equal(DeliveryOutcome.Deferred, Assert.Single(again.Recipients).Outcome);
        }

        await server.Completion;
    }

    [Fact]
    public async Task ASilentServerTimesOutAsATemporaryFailure()
    {
        var time = new ObservedTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new SmtpClientOptions { HeloName = "client.test", ConnectTimeout = TimeSpan.FromSeconds(1), HeloTimeout = TimeSpan.FromSeconds(2), MailTimeout = TimeSpan.FromSeconds(123) };
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer);
            await peer.ExpectAsync("MAIL");
            Assert.True(await peer.AtEndAsync()); // no reply; the client gives up and closes
        });

        var connect = await ConnectAsync(server, options, time: time);
        await using var session = connect.Session!;
        var sending = session.SendAsync(Message("x\r\n", "a@example.org"), CancellationToken.None);

        // The flush and then the reply wait each arm a MAIL timer; fire the second.
        var mailTimers = 0;
        while (mailTimers < 2)
        {
            if (await time.TimersCreated.Reader.ReadAsync() == options.MailTimeout)
            {
                mailTimers++;
            }
        }

        time.Fake.Advance(options.MailTimeout);
        var result = await sending;

        var recipient = Assert.Single(result.Recipients);
        Assert.Equal(DeliveryOutcome.Deferred, recipient.Outcome);
        Assert.Equal(new EnhancedStatusCode(4, 4, 1), recipient.EnhancedStatusCode);
        await session.DisposeAsync();
        await server.Completion;
    }

    [Fact]
    public async Task OpportunisticTlsWithASelfSignedCertificateIsEncryptedButNotVerified()
    {
        using var certificate = FakeSmtpServer.SelfSignedCertificate();
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n");
            await peer.ExpectAsync("STARTTLS");
            await peer.SendAsync("220 2.0.0 Ready to start TLS\r\n");
            await peer.StartTlsAsync(certificate);
            await peer.ExpectAsync("EHLO client.test");
            await peer.SendAsync("250-mx.test\r\n250 PIPELINING\r\n");
            await QuitAsync(peer);
        });

        var log = new LogCapture();
        var connect = await ConnectAsync(server, log: log);
        Assert.True(connect.Connected);
        await using (var session = connect.Session)
        {
            var tls = Assert.IsType<TlsInfo>(session.Tls);
            Assert.False(tls.CertificateVerified);
            Assert.Contains("RemoteCertificateChainErrors", tls.ValidationError, StringComparison.Ordinal);
            Assert.True(session.Capabilities.Pipelining);
            Assert.False(session.Capabilities.StartTls);
            var line = Assert.Single(log.All, l => l.Contains("TLS connection", StringComparison.Ordinal));
            Assert.StartsWith($"Untrusted TLS connection established to mx.test[127.0.0.1]:{server.EndPoint.Port}: {tls.Protocol} with cipher {tls.CipherSuite}, certificate not verified", line, StringComparison.Ordinal);
        }

        await server.Completion;
    }

    [Fact]
    public async Task RequiredTlsRefusesAnUnverifiableCertificate()
    {
        using var certificate = FakeSmtpServer.SelfSignedCertificate();
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250 STARTTLS\r\n");
            await peer.ExpectAsync("STARTTLS");
            await peer.SendAsync("220 2.0.0 Ready to start TLS\r\n");
            // With TLS 1.3 the server may finish its side before the client rejects the certificate.
            if (await peer.TryStartTlsAsync(certificate))
            {
                await peer.AtEndAsync();
            }
        });

        var log = new LogCapture();
        var result = await ConnectAsync(server, new SmtpClientOptions { HeloName = "client.test", TlsPolicy = TlsPolicy.Required }, log);

        Assert.False(result.Connected);
        Assert.Equal(DeliveryOutcome.Deferred, result.Failure.Outcome);
        Assert.Equal(EnhancedStatusCode.TemporarySecurity, result.Failure.Status);
        Assert.Contains("server certificate not verified", result.Failure.Text, StringComparison.Ordinal);
        Assert.Contains(log.All, l => l.StartsWith("TLS with mx.test[127.0.0.1]", StringComparison.Ordinal));
        await server.Completion;
    }

    [Fact]
    public async Task RequiredTlsFailsWhenStartTlsIsNotOfferedAndOpportunisticGoesPlain()
    {
        await using (var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer);
            await peer.ExpectAsync("QUIT");
        }))
        {
            var result = await ConnectAsync(server, new SmtpClientOptions { HeloName = "client.test", TlsPolicy = TlsPolicy.Required });
            Assert.False(result.Connected);
            Assert.Equal(EnhancedStatusCode.TemporarySecurity, result.Failure.Status);
            await server.Completion;
        }

        await using (var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer);
            await QuitAsync(peer);
        }))
        {
            var log = new LogCapture();
            var result = await ConnectAsync(server, log: log);
            Assert.True(result.Connected);
            Assert.Null(result.Session.Tls);
            await result.Session.DisposeAsync();
            Assert.Contains($"Plaintext connection to mx.test[127.0.0.1]:{server.EndPoint.Port}: not encrypted (STARTTLS not offered)", log.All);
            await server.Completion;
        }
    }

    [Fact]
    public async Task CredentialsGoOnlyOverTlsWithAuthPlain()
    {
        using var certificate = FakeSmtpServer.SelfSignedCertificate();
        var options = new SmtpClientOptions { HeloName = "client.test", Credentials = new System.Net.NetworkCredential("user", "secret") };
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n");
            await peer.ExpectAsync("STARTTLS");
            await peer.SendAsync("220 Ready\r\n");
            await peer.StartTlsAsync(certificate);
            await peer.ExpectAsync("EHLO client.test");
            await peer.SendAsync("250-mx.test\r\n250 AUTH PLAIN LOGIN\r\n");
            var auth = await peer.ExpectAsync("AUTH PLAIN ");
            Assert.Equal("\0user\0secret", Encoding.UTF8.GetString(Convert.FromBase64String(auth["AUTH PLAIN ".Length..])));
            await peer.SendAsync("235 2.7.0 Authentication successful\r\n");
            await QuitAsync(peer);
        });

        var result = await ConnectAsync(server, options);
        Assert.True(result.Connected);
        Assert.True(result.Session.Authenticated);
        await result.Session.DisposeAsync();
        await server.Completion;
    }

    [Fact]
    public async Task ADataInjectedAfterTheStartTlsReplyIsRefused()
    {
        await using var server = new FakeSmtpServer(async peer =>
        {
            await GreetAsync(peer, "250-mx.test\r\n250 STARTTLS\r\n");
            await peer.ExpectAsync("STARTTLS");
            await peer.SendAsync("220 Ready\r\n250 injected\r\n");
            await peer.AtEndAsync();
        });

        var result = await ConnectAsync(server);
        Assert.False(result.Connected);
        Assert.Equal(EnhancedStatusCode.TemporarySecurity, result.Failure.Status);
        await server.Completion;
    }
}

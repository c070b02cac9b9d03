using System.Text;

namespace Mailroom.Server.Tests.Smtp;

/// <summary>CHUNKING (RFC 3030) over a real socket.</summary>
public sealed class SmtpBdatTests
{
    [Fact]
    public async Task ChunksAreStoredExactlyAsSent()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");

        const string first = "Subject: chunks\r\n\r\n";
        const string second = ".not unstuffed\r\nbare\nlf kept\r\n";
        await client.SendAsync($"BDAT {first.Length}\r\n{first}");
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        await client.SendAsync($"BDAT {second.Length}\r\n{second}");
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        var last = await client.CommandAsync("BDAT 0 LAST");

        Assert.Equal("250 2.0.0", last.CodeAndStatus);
        var id = await server.NextCommittedAsync();
        Assert.EndsWith("queued as " + id.Value, last.Lines[0], StringComparison.Ordinal);
        var stored = Encoding.UTF8.GetString(await server.ReadContentAsync(id));
        Assert.StartsWith("Received: ", stored, StringComparison.Ordinal);
        Assert.EndsWith("\r\n" + first + second, stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunkSplitOverSeveralWritesIsReassembled()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");

        var content = "Subject: split\r\n\r\n" + string.Concat(Enumerable.Range(0, 50).Select(i => $"line {i}\r\n"));
        var bytes = Encoding.ASCII.GetBytes(content);
        await client.SendAsync($"BDAT {bytes.Length} LAST\r\n");
        for (var offset = 0; offset < bytes.Length; offset += 37)
        {
            await client.SendAsync(bytes[offset..Math.Min(bytes.Length, offset + 37)]);
        }

        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        var stored = Encoding.ASCII.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));
        Assert.EndsWith("\r\n" + content, stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BdatBeforeRcptIsConsumedAndRefused()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        Assert.Equal(250, (await client.CommandAsync("EHLO client.example")).Code);
        Assert.Equal("250 2.1.0", (await client.CommandAsync("MAIL FROM:<sender@remote.example>")).CodeAndStatus);

        // The chunk looks like a command; executing it would desynchronise the session.
        await client.SendAsync("BDAT 6\r\nRSET\r\nNOOP\r\n");

        Assert.Equal("503 5.5.1", (await client.ReadReplyAsync()).CodeAndStatus);
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus); // the NOOP
        Assert.Equal("503 5.5.1", (await client.CommandAsync("DATA")).CodeAndStatus); // MAIL still in force, no RCPT
    }

    [Fact]
    public async Task DataAfterBdatIs503()
    {
        await using var server = await SmtpServerFixture.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        await client.SendAsync("BDAT 5\r\nhello");
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);

        Assert.Equal("503 5.5.1", (await client.CommandAsync("DATA")).CodeAndStatus);
        await client.SendAsync("BDAT 7 LAST\r\n world\n");
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        var stored = Encoding.ASCII.GetString(await server.ReadContentAsync(await server.NextCommittedAsync()));
        Assert.EndsWith("\r\nhello world\n", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SizeLimitCountsEveryChunk()
    {
        await using var server = await SmtpServerFixture.StartAsync(o => o with { Limits = o.Limits with { MessageSize = 100 } });
        await using var client = await server.ConnectAsync();
        await client.BeginMailAsync("sender@remote.example", "alice@example.test");
        var chunk = new string('x', 58) + "\r\n";

        await client.SendAsync($"BDAT 60\r\n{chunk}");
        Assert.Equal("250 2.0.0", (await client.ReadReplyAsync()).CodeAndStatus);
        await client.SendAsync($"BDAT 60 LAST\r\n{chunk}");
        Assert.Equal("552 5.3.4", (await client.ReadReplyAsync()).CodeAndStatus);

        Assert.Equal("250 2.0.0", (await client.CommandAsync("NOOP")).CodeAndStatus);
        Assert.True(server.NothingCommitted);
        Assert.Empty(await server.QueuedAsync());
    }
}

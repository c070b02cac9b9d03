using Mailroom.Delivery.Remote;

namespace Mailroom.Delivery.Tests.Remote;

public sealed class PrefixedReadStreamTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task ReadsThePrefixThenTheContent(int bufferSize)
    {
        var content = new MemoryStream("Subject: x\r\n\r\nbody\r\n"u8.ToArray());
        using var stream = new PrefixedReadStream("DKIM-Signature: v=1\r\n"u8.ToArray(), content);
        var output = new MemoryStream();

        await stream.CopyToAsync(output, bufferSize);

        Assert.Equal("DKIM-Signature: v=1\r\nSubject: x\r\n\r\nbody\r\n"u8.ToArray(), output.ToArray());
        Assert.Equal(output.Length, stream.Length);
    }
}

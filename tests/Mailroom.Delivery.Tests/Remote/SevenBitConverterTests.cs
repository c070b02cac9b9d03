using System.Text;
using Mailroom.Delivery.Remote;

namespace Mailroom.Delivery.Tests.Remote;

public sealed class SevenBitConverterTests
{
    [Fact]
    public async Task EightBitBodyBecomesSevenBitWithTheSameText()
    {
        var original = "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln\r\n.dot line\r\n";
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(original));
        using var output = new MemoryStream();

        await SevenBitConverter.ConvertAsync(input, output, CancellationToken.None);

        var bytes = output.ToArray();
        Assert.All(bytes, b => Assert.True(b < 0x80));
        var text = Encoding.ASCII.GetString(bytes);
        // RFC 6152 §3: text is converted to quoted-printable, which keeps it readable.
        Assert.Matches("(?im)^Content-Transfer-Encoding: quoted-printable\r$", text);

        var reparsed = await MimeKit.MimeMessage.LoadAsync(new MemoryStream(bytes), CancellationToken.None);
        Assert.Equal("Grüße aus Köln\n.dot line\n", reparsed.TextBody?.Replace("\r\n", "\n", StringComparison.Ordinal));
        Assert.Equal("hi", reparsed.Subject);
    }

    [Fact]
    public async Task AnEightBitAttachmentBecomesBase64AndTheTextQuotedPrintable()
    {
        var original = "From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nK\u00f6ln\r\n" +
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\u00ff\u00fe\r\n--b--\r\n";
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(original));
        using var output = new MemoryStream();

        await SevenBitConverter.ConvertAsync(input, output, CancellationToken.None);

        var text = Encoding.ASCII.GetString(output.ToArray());
        Assert.All(output.ToArray(), b => Assert.True(b < 0x80));
        Assert.Matches("(?is)text/plain.*?Content-Transfer-Encoding: quoted-printable", text);
        Assert.Matches("(?is)application/octet-stream.*?Content-Transfer-Encoding: base64", text);
    }
}

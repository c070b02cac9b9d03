using System.Buffers;
using System.Text;
using Mailroom.Delivery.Remote;
using Mailroom.Protocol;

using Mailroom.Tests.Shared;

namespace Mailroom.Delivery.Tests.Remote;

public sealed class DataEncoderTests
{
    private static byte[] Encode(byte[] content, int chunk = int.MaxValue)
    {
        var encoder = new DataEncoder();
        var output = new ArrayBufferWriter<byte>();
        for (var offset = 0; offset < content.Length; offset += chunk)
        {
            encoder.Encode(content.AsSpan(offset, Math.Min(chunk, content.Length - offset)), output);
        }

        encoder.Complete(output);
        return output.WrittenSpan.ToArray();
    }

    private static string Encode(string content, int chunk = int.MaxValue) =>
        Encoding.Latin1.GetString(Encode(Encoding.Latin1.GetBytes(content), chunk));

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(1)]
    public void StuffsDotsAndTerminates(int chunk)
    {
        Assert.Equal("a\r\n..b\r\n...\r\nc.d\r\n.\r\n", Encode("a\r\n.b\r\n..\r\nc.d\r\n", chunk));
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(1)]
    public void NormalizesBareLineEndsAndAddsAFinalCrLf(int chunk)
    {
        Assert.Equal("a\r\nb\r\nc\r\n\r\n..\r\nd\r\n.\r\n", Encode("a\rb\nc\r\r\n.\nd", chunk));
        Assert.Equal("x\r\n.\r\n", Encode("x\r", chunk));
    }

    [Fact]
    public void FirstByteDotIsStuffedAndEmptyContentIsJustTheDot()
    {
        Assert.Equal("..x\r\n.\r\n", Encode(".x"));
        Assert.Equal(".\r\n", Encode(string.Empty));
    }

    public static TheoryData<string, string> CorpusSequences()
    {
        var data = new TheoryData<string, string>();
        foreach (var (id, hex) in SmugglingCorpus.Sequences())
        {
            data.Add(id, hex);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusSequences))]
    public void NeverEmitsASmugglingSequenceBeforeTheEnd(string id, string hex)
    {
        Assert.False(string.IsNullOrEmpty(id));
        var sequence = SmugglingCorpus.Bytes(hex);
        var prefix = "Subject: test\r\n\r\nSMUGGLINGSTART\r\n"u8.ToArray();
        var suffix = "\r\nMAIL FROM:<smuggled@example.com>\r\nSMUGGLINGEND\r\n"u8.ToArray();
        foreach (var content in new[] { [.. prefix, .. sequence, .. suffix], [.. prefix, .. sequence], sequence })
        {
            foreach (var chunk in new[] { int.MaxValue, 1, 2 })
            {
                var encoded = Encode(content, chunk);
                AssertOnlyCrLf(encoded);
                Assert.Equal(encoded.Length - 5, IndexOf(encoded, "\r\n.\r\n"u8));
                Assert.Equal(1, Count(encoded, "\r\n.\r\n"u8));
                Assert.False(encoded.AsSpan().StartsWith(".\r\n"u8));
                Assert.True(encoded.AsSpan().EndsWith("\r\n.\r\n"u8));
            }
        }
    }

    [Fact]
    public void RoundTripsThroughTheServersDecoder()
    {
        var random = new Random(5321);
        byte[] alphabet = [(byte)'.', (byte)'\r', (byte)'\n', (byte)'a', 0xC3, 0x00, (byte)' '];
        for (var iteration = 0; iteration < 3000; iteration++)
        {
            var content = new byte[random.Next(0, 120)];
            for (var i = 0; i < content.Length; i++)
            {
                content[i] = alphabet[random.Next(alphabet.Length)];
            }

            var encoded = Encode(content, random.Next(1, 16));
            AssertOnlyCrLf(encoded);

            var decoder = new DataDecoder(BareLineEndingPolicy.Normalize, int.MaxValue);
            var decoded = new ArrayBufferWriter<byte>();
            Assert.True(decoder.Decode(encoded, decoded, out var consumed));
            Assert.Equal(encoded.Length, consumed);
            Assert.Equal(DataDefects.None, decoder.Defects);
            Assert.Equal(Normalize(content), Encoding.Latin1.GetString(decoded.WrittenSpan));
        }
    }

    /// <summary>What the content should arrive as: every CRLF, bare CR or bare LF as CRLF, and a final CRLF.</summary>
    private static string Normalize(byte[] content)
    {
        var text = Encoding.Latin1.GetString(content).Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Replace("\n", "\r\n", StringComparison.Ordinal);
        return text.Length == 0 || text.EndsWith("\r\n", StringComparison.Ordinal) ? text : text + "\r\n";
    }

    private static void AssertOnlyCrLf(byte[] encoded)
    {
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] == (byte)'\r')
            {
                Assert.True(i + 1 < encoded.Length && encoded[i + 1] == (byte)'\n', $"bare CR at {i}");
            }
            else if (encoded[i] == (byte)'\n')
            {
                Assert.True(i > 0 && encoded[i - 1] == (byte)'\r', $"bare LF at {i}");
            }
        }
    }

    private static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle) => haystack.AsSpan().IndexOf(needle);

    private static int Count(byte[] haystack, ReadOnlySpan<byte> needle)
    {
        var count = 0;
        var span = haystack.AsSpan();
        int at;
        while ((at = span.IndexOf(needle)) >= 0)
        {
            count++;
            span = span[(at + 1)..];
        }

        return count;
    }
}

using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Mailroom.Protocol;

namespace Mailroom.Benchmarks;

/// <summary>
/// The DATA reader: DataDecoder over 1 MiB of typical message text (lines of 20 to 78 characters,
/// CRLF, some dot-stuffed lines), ending with CRLF "." CRLF, into a reused buffer.
/// Throughput = 1 MiB / Mean (the target is at least 1 GB/s).
/// </summary>
[MemoryDiagnoser]
public class DataDecoderBenchmarks
{
    public const int Size = 1024 * 1024;

    private byte[] _input = [];
    private ArrayBufferWriter<byte> _output = new();

    /// <summary>Input handed to the decoder in pieces of this size, as reads from a socket arrive.</summary>
    [Params(4096, 65536)]
    public int ReadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var text = new StringBuilder(Size + 128);
        var random = new Random(42);
        const string words = "the quick brown fox jumps over the lazy dog while mail moves one way through five rooms ";
        while (text.Length < Size)
        {
            if (random.Next(50) == 0)
            {
                text.Append(".."); // a dot-stuffed line
            }

            var length = random.Next(20, 79);
            var start = random.Next(words.Length - 1);
            for (var i = 0; i < length; i++)
            {
                text.Append(words[(start + i) % words.Length]);
            }

            text.Append("\r\n");
        }

        text.Append(".\r\n");
        _input = Encoding.ASCII.GetBytes(text.ToString());
        _output = new ArrayBufferWriter<byte>(_input.Length);
    }

    [Benchmark]
    public int Decode()
    {
        _output.ResetWrittenCount();
        var decoder = new DataDecoder(BareLineEndingPolicy.Reject, 1000);
        ReadOnlySpan<byte> input = _input;
        for (var offset = 0; offset < input.Length;)
        {
            var chunk = input.Slice(offset, Math.Min(ReadSize, input.Length - offset));
            if (decoder.Decode(chunk, _output, out var consumed))
            {
                return _output.WrittenCount;
            }

            offset += consumed;
        }

        throw new InvalidOperationException("no end of data");
    }
}

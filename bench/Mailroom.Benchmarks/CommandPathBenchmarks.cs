using System.Buffers;
using BenchmarkDotNet.Attributes;
using Mailroom.Protocol;

namespace Mailroom.Benchmarks;

/// <summary>
/// The command path of one message's SMTP transaction as smtp-source sends it: find each line
/// (SmtpLineReader), split verb and arguments (SmtpCommand.Parse), parse MAIL and RCPT
/// (EnvelopeCommandParser). One operation = the 6 command lines of one message.
/// </summary>
[MemoryDiagnoser]
public class CommandPathBenchmarks
{
    private const int CommandLineLimit = 512; // RFC 5321 §4.5.3.1.4

    private static readonly byte[] s_session =
        "EHLO client.example.test\r\nMAIL FROM:<sender@client.example.test> SIZE=1024 BODY=8BITMIME\r\nRCPT TO:<rcpt@example.test>\r\nDATA\r\nRSET\r\nQUIT\r\n"u8.ToArray();

    private ReadOnlySequence<byte> _input;

    [GlobalSetup]
    public void Setup() => _input = new ReadOnlySequence<byte>(s_session);

    /// <summary>Line framing and verb split only: what every command pays.</summary>
    [Benchmark(Baseline = true)]
    public int ReadAndSplit()
    {
        var reader = new SequenceReader<byte>(_input);
        var verbs = 0;
        while (SmtpLineReader.TryReadLine(ref reader, CommandLineLimit, out var line) == LineReadStatus.Complete)
        {
            var span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
            verbs += (int)SmtpCommand.Parse(span).Verb;
        }

        return verbs;
    }

    /// <summary>As the session does it, with MAIL and RCPT parsed into their paths and parameters.</summary>
    [Benchmark]
    public int ReadSplitAndParseEnvelope()
    {
        var reader = new SequenceReader<byte>(_input);
        var result = 0;
        while (SmtpLineReader.TryReadLine(ref reader, CommandLineLimit, out var line) == LineReadStatus.Complete)
        {
            var span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
            var command = SmtpCommand.Parse(span);
            switch (command.Verb)
            {
                case SmtpVerb.Mail:
                    result += EnvelopeCommandParser.ParseMail(command.Arguments(span), out var reversePath, out _) is null ? reversePath.Address.Length : -1;
                    break;
                case SmtpVerb.Rcpt:
                    result += EnvelopeCommandParser.ParseRcpt(command.Arguments(span), out var forwardPath, out _) is null ? forwardPath.Address.Length : -1;
                    break;
                default:
                    result += (int)command.Verb;
                    break;
            }
        }

        return result;
    }
}

namespace Mailroom.TransportFloor;

/// <summary>
/// The protocol part both transports share: one connection's input buffer and its replies. It
/// answers EHLO/HELO/MAIL/RCPT/RSET with 250, DATA with 354, the final dot with 250 and QUIT with
/// 221, as smtp-sink does; nothing is parsed beyond the verb and nothing is stored.
/// </summary>
internal sealed class BareSmtp
{
    public static readonly byte[] Greeting = "220 transport-floor ESMTP\r\n"u8.ToArray();

    private static readonly byte[] EhloReply = "250-transport-floor\r\n250-PIPELINING\r\n250 8BITMIME\r\n"u8.ToArray();
    private static readonly byte[] Ok = "250 2.0.0 Ok\r\n"u8.ToArray();
    private static readonly byte[] Queued = "250 2.0.0 Ok: queued\r\n"u8.ToArray();
    private static readonly byte[] StartData = "354 End data with <CR><LF>.<CR><LF>\r\n"u8.ToArray();
    private static readonly byte[] Bye = "221 2.0.0 Bye\r\n"u8.ToArray();
    private static readonly byte[] Unknown = "500 5.5.2 Error: command not recognized\r\n"u8.ToArray();

    private readonly byte[] _replies = new byte[4096];
    private bool _inData;

    /// <summary>Where received bytes go: <see cref="Input"/>[<see cref="Received"/>..].</summary>
    public byte[] Input { get; } = new byte[16384];

    public int Received { get; set; }

    /// <summary>The replies <see cref="Process"/> produced, to be sent.</summary>
    public ReadOnlyMemory<byte> Replies => _replies.AsMemory(0, ReplyLength);

    public int ReplyLength { get; private set; }

    /// <summary>Answers every complete line received; returns false after QUIT. Clears the previous replies.</summary>
    public bool Process()
    {
        ReplyLength = 0;
        var start = 0;
        var keepOpen = true;
        while (keepOpen)
        {
            var end = Array.IndexOf(Input, (byte)'\n', start, Received - start);
            if (end < 0)
            {
                break;
            }

            var line = Input.AsSpan(start, end - start).TrimEnd((byte)'\r');
            start = end + 1;
            keepOpen = Answer(line);
        }

        // A line longer than the buffer is dropped whole: this responder only serves the benchmark.
        Received = start == 0 && Received == Input.Length ? 0 : Received - start;
        Input.AsSpan(start, Received).CopyTo(Input);
        return keepOpen;
    }

    private bool Answer(ReadOnlySpan<byte> line)
    {
        if (_inData)
        {
            if (line.SequenceEqual("."u8))
            {
                _inData = false;
                Add(Queued);
            }

            return true;
        }

        var verb = line.Length >= 4 ? line[..4] : line;
        if (verb.SequenceEqual("QUIT"u8))
        {
            Add(Bye);
            return false;
        }

        if (verb.SequenceEqual("DATA"u8))
        {
            _inData = true;
            Add(StartData);
        }
        else if (verb.SequenceEqual("EHLO"u8))
        {
            Add(EhloReply);
        }
        else if (verb.SequenceEqual("HELO"u8) || verb.SequenceEqual("MAIL"u8) || verb.SequenceEqual("RCPT"u8) || verb.SequenceEqual("RSET"u8))
        {
            Add(Ok);
        }
        else
        {
            Add(Unknown);
        }

        return true;
    }

    private void Add(byte[] reply)
    {
        reply.CopyTo(_replies, ReplyLength);
        ReplyLength += reply.Length;
    }
}

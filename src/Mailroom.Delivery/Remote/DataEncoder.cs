using System.Buffers;

namespace Mailroom.Delivery.Remote;

/// <summary>
/// Encodes message content for DATA (RFC 5321 §4.5.2, §2.3.8), streaming: every line end becomes
/// CRLF (a bare CR or bare LF is written as CRLF), a line starting with "." gets a second ".", and
/// <see cref="Complete"/> ends the data with CRLF "." CRLF, adding a CRLF first when the content
/// did not end with one. So the output never holds CRLF "." CRLF, or any of the bare-CR/LF
/// variants receivers have been fooled by (SMTP smuggling), before the real end. The state is
/// kept between calls, so content may be given in any pieces.
/// </summary>
internal struct DataEncoder
{
    private bool _started;
    private bool _lineStart;
    private bool _pendingCarriageReturn;

    /// <summary>Encodes <paramref name="input"/> into <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        if (!_started)
        {
            // DATA's own CRLF precedes the content: the first byte starts a line.
            _started = true;
            _lineStart = true;
        }

        var i = 0;
        while (i < input.Length)
        {
            var b = input[i];
            if (_pendingCarriageReturn)
            {
                // CR then anything: a line end. CRLF is one; a bare CR is written as CRLF too.
                _pendingCarriageReturn = false;
                output.Write("\r\n"u8);
                _lineStart = true;
                if (b == (byte)'\n')
                {
                    i++;
                    continue;
                }
            }

            if (b == (byte)'\r')
            {
                _pendingCarriageReturn = true;
                i++;
                continue;
            }

            if (b == (byte)'\n')
            {
                output.Write("\r\n"u8);
                _lineStart = true;
                i++;
                continue;
            }

            if (_lineStart && b == (byte)'.')
            {
                output.Write("."u8);
            }

            // Copy the run of ordinary bytes up to the next CR or LF.
            var run = input[i..].IndexOfAny((byte)'\r', (byte)'\n');
            var length = run < 0 ? input.Length - i : run;
            output.Write(input.Slice(i, length));
            _lineStart = false;
            i += length;
        }
    }

    /// <summary>Writes the end of data: the last line's CRLF if missing, then "." CRLF.</summary>
    public void Complete(IBufferWriter<byte> output)
    {
        if (_pendingCarriageReturn)
        {
            output.Write("\r\n"u8);
            _pendingCarriageReturn = false;
            _lineStart = true;
        }

        if (_started && !_lineStart)
        {
            output.Write("\r\n"u8);
        }

        output.Write(".\r\n"u8);
    }
}

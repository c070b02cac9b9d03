using System.Buffers;

namespace Mailroom.Protocol;

/// <summary>What DATA does with a CR or LF that is not part of a CRLF pair (RFC 5321 §2.3.8).</summary>
public enum BareLineEndingPolicy : byte
{
    /// <summary>Read to the real end of data, then refuse the message (Postfix smtpd_forbid_bare_newline = reject).</summary>
    Reject,

    /// <summary>Store it as CRLF; it never ends the message (Postfix's "normalize").</summary>
    Normalize,
}

/// <summary>Problems seen in the data; the message is refused once the end of data is reached.</summary>
[Flags]
public enum DataDefects : byte
{
    None = 0,
    BareLineEnding = 1,
    LineTooLong = 2,
}

/// <summary>
/// Decodes the DATA stream (RFC 5321 §4.1.1.4, §4.5.2): finds the end of data, which is only
/// CRLF "." CRLF, and removes the leading dot of dot-stuffed lines. A bare CR or LF never ends the
/// message and never starts a line that could: depending on the policy it is recorded as a defect
/// (the message is refused) or stored as CRLF. That closes every SMTP smuggling sequence
/// (CVE-2023-51764 and relatives). The decoder keeps its state between calls, so input may arrive
/// split anywhere, even one byte at a time.
/// </summary>
public struct DataDecoder
{
    private readonly BareLineEndingPolicy _policy;
    private readonly int _maxLineLength;
    private State _state;
    private int _lineLength;

    /// <param name="policy">What to do with a bare CR or LF.</param>
    /// <param name="maxLineLength">Longest text line including CRLF (RFC 5321 §4.5.3.1.6: 1000).</param>
    public DataDecoder(BareLineEndingPolicy policy, int maxLineLength)
    {
        _policy = policy;
        _maxLineLength = maxLineLength;
        _state = State.LineStart;
    }

    private enum State : byte
    {
        /// <summary>After a CRLF (the DATA command's line counts): a dot here is special.</summary>
        LineStart,

        /// <summary>Inside a line.</summary>
        Middle,

        /// <summary>Saw CR inside a line; only LF may follow.</summary>
        CarriageReturn,

        /// <summary>Saw "." at the start of a line.</summary>
        Dot,

        /// <summary>Saw "." CR at the start of a line; LF ends the data.</summary>
        DotCarriageReturn,
    }

    public DataDefects Defects { get; private set; }

    /// <summary>
    /// Decodes as much of <paramref name="input"/> as possible, writing message content to
    /// <paramref name="output"/>. Returns true when the end of data was found; then
    /// <paramref name="consumed"/> counts the bytes up to and including its final LF, and what
    /// follows belongs to the next command.
    /// </summary>
    public bool Decode(ReadOnlySpan<byte> input, IBufferWriter<byte> output, out int consumed)
    {
        var i = 0;
        while (i < input.Length)
        {
            var b = input[i];
            switch (_state)
            {
                case State.Middle:
                    {
                        // The hot path: copy the run of ordinary bytes up to the next CR or LF.
                        var run = input[i..].IndexOfAny((byte)'\r', (byte)'\n');
                        var length = run < 0 ? input.Length - i : run;
                        Write(output, input.Slice(i, length));
                        CountLine(length);
                        i += length;
                        if (run >= 0)
                        {
                            if (input[i] == (byte)'\r')
                            {
                                _state = State.CarriageReturn;
                            }
                            else
                            {
                                BareLineEnding(output);
                            }

                            i++;
                        }

                        continue;
                    }

                case State.LineStart:
                    if (b == (byte)'.')
                    {
                        _state = State.Dot;
                    }
                    else if (b == (byte)'\r')
                    {
                        _state = State.CarriageReturn;
                    }
                    else if (b == (byte)'\n')
                    {
                        BareLineEnding(output);
                    }
                    else
                    {
                        _state = State.Middle;
                        continue; // the Middle state copies this byte with its run
                    }

                    break;

                case State.CarriageReturn:
                    if (b == (byte)'\n')
                    {
                        Write(output, "\r\n"u8);
                        _lineLength = 0;
                        _state = State.LineStart;
                    }
                    else
                    {
                        // A bare CR; the byte after it is reprocessed as part of the line.
                        BareLineEnding(output);
                        continue;
                    }

                    break;

                case State.Dot:
                    if (b == (byte)'\r')
                    {
                        _state = State.DotCarriageReturn;
                    }
                    else if (b == (byte)'\n')
                    {
                        // ".<LF>": the dot is content (stuffing only applies before other text).
                        Write(output, "."u8);
                        BareLineEnding(output);
                    }
                    else
                    {
                        // RFC 5321 §4.5.2: the first dot of a line with more text is removed.
                        _state = State.Middle;
                        continue;
                    }

                    break;

                case State.DotCarriageReturn:
                    if (b == (byte)'\n')
                    {
                        consumed = i + 1;
                        return true;
                    }

                    // ".<CR>x": a bare CR after a lone dot; keep the dot as content.
                    Write(output, "."u8);
                    BareLineEnding(output);
                    continue;
            }

            i++;
        }

        consumed = input.Length;
        return false;
    }

    private void BareLineEnding(IBufferWriter<byte> output)
    {
        Defects |= DataDefects.BareLineEnding;
        if (_policy == BareLineEndingPolicy.Normalize)
        {
            Write(output, "\r\n"u8);
        }

        // The next line does not start after a real CRLF, so a dot there is plain content and
        // can never begin an end-of-data sequence.
        _lineLength = 0;
        _state = State.Middle;
    }

    private void CountLine(int length)
    {
        _lineLength += length;
        if (_lineLength > _maxLineLength - 2)
        {
            Defects |= DataDefects.LineTooLong;
        }
    }

    private static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        if (!bytes.IsEmpty)
        {
            output.Write(bytes);
        }
    }
}

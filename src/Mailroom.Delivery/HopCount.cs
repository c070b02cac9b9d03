namespace Mailroom.Delivery;

/// <summary>
/// Counts the Received headers of a stored message: past <see cref="Limit"/> the message is in a
/// loop and fails with 5.4.6 (RFC 5321 §6.3 asks for a limit of at least 100 hops).
/// </summary>
public static class HopCount
{
    /// <summary>RFC 5321 §6.3: "a threshold of at least 100 Received headers".</summary>
    public const int Limit = 100;

    /// <summary>The header block is read up to this size; a hop is a line of a few hundred bytes at most.</summary>
    private const int MaxHeaderBytes = 256 * 1024;

    /// <summary>The number of Received header fields before the first empty line.</summary>
    public static int CountReceived(Stream content)
    {
        var buffer = new byte[MaxHeaderBytes];
        var length = content.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

        var headers = buffer.AsSpan(0, length);
        var count = 0;
        var atLineStart = true;
        for (var i = 0; i < headers.Length; i++)
        {
            if (atLineStart)
            {
                if (headers[i] is (byte)'\r' or (byte)'\n')
                {
                    break; // the empty line ends the header block
                }

                if (headers.Length - i >= 9 && System.Text.Ascii.EqualsIgnoreCase(headers.Slice(i, 9), "Received:"u8))
                {
                    count++;
                }
            }

            atLineStart = headers[i] == (byte)'\n';
        }

        return count;
    }
}

using MimeKit;

namespace Mailroom.Delivery.Remote;

/// <summary>
/// Converts an 8-bit (or binary) MIME message to 7 bit for a server without 8BITMIME
/// (RFC 6152 §3: the client must either convert the message or return it). Every part with 8-bit or
/// binary content is re-encoded: text as quoted-printable, which keeps it readable, anything else as
/// base64. Headers are kept as they are. The parser keeps the parts' content in the queue file
/// (persistent load), so the message is not held in memory.
/// Converting changes the bytes, so a DKIM signature over the body no longer verifies; almost every
/// server has offered 8BITMIME for decades, so this is rare.
/// </summary>
internal static class SevenBitConverter
{
    public static async Task ConvertAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        var message = await MimeMessage.LoadAsync(ParserOptions.Default, input, persistent: input.CanSeek, cancellationToken).ConfigureAwait(false);
        foreach (var part in message.BodyParts.OfType<MimePart>())
        {
            if (part.ContentTransferEncoding is ContentEncoding.EightBit or ContentEncoding.Binary or ContentEncoding.Default
                && part.GetBestEncoding(EncodingConstraint.SevenBit) != ContentEncoding.SevenBit)
            {
                part.ContentTransferEncoding = part.ContentType.IsMimeType("text", "*") ? ContentEncoding.QuotedPrintable : ContentEncoding.Base64;
            }
        }

        // Whatever is left (e.g. a message without MIME structure) gets MimeKit's own choice.
        message.Prepare(EncodingConstraint.SevenBit);
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        await message.WriteToAsync(format, output, cancellationToken).ConfigureAwait(false);
    }
}

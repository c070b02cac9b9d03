using MimeKit;

namespace Mailroom.Delivery.Remote;

/// <summary>
/// Converts an 8-bit (or binary) MIME message to 7 bit for a server without 8BITMIME
/// (RFC 6152 §3: the client must either convert the message or return it). MimeKit re-encodes every
/// part with 8-bit or binary content as quoted-printable or base64. Headers are kept as they are.
/// Converting changes the bytes, so a DKIM signature over the body no longer verifies; almost every
/// server has offered 8BITMIME for decades, so this is rare.
/// </summary>
internal static class SevenBitConverter
{
    public static async Task ConvertAsync(Stream input, Stream output, CancellationToken cancellationToken)
    {
        var message = await MimeMessage.LoadAsync(input, cancellationToken).ConfigureAwait(false);
        message.Prepare(EncodingConstraint.SevenBit);
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        await message.WriteToAsync(format, output, cancellationToken).ConfigureAwait(false);
    }
}

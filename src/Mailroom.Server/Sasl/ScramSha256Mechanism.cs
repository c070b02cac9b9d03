using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Mailroom.Server.Users;

namespace Mailroom.Server.Sasl;

/// <summary>
/// SCRAM-SHA-256 (RFC 5802, RFC 7677) against the stored StoredKey/ServerKey: the server never
/// sees the password. Without channel binding: we do not offer -PLUS, so a client flag "y" is
/// accepted (RFC 5802 §6: "y" is only a downgrade sign when the server advertises -PLUS) and "p="
/// is refused. The authorization identity, if given, must be the user itself.
/// </summary>
internal sealed class ScramSha256Mechanism(SaslAuthenticator authenticator) : SaslMechanism
{
    public const string MechanismName = "SCRAM-SHA-256";

    // 18 random bytes → 24 base64 characters of server nonce (RFC 5802 §5.1 asks only for "fresh and random").
    private const int ServerNonceBytes = 18;

    // A SCRAM message is short; this bounds the work on a hostile one (the session bounds the line at 12288 octets anyway).
    private const int MaxMessageLength = 4096;

    private State _state = State.ClientFirst;
    private string _gs2Header = "";
    private string _clientFirstBare = "";
    private string _serverFirst = "";
    private string _nonce = "";
    private string? _address;
    private ScramSecret? _secret;

    private enum State
    {
        ClientFirst,
        ClientFinal,
        Done,
    }

    public override string Name => MechanismName;

    public override SaslStep Respond(ReadOnlySpan<byte> response)
    {
        if (response.Length > MaxMessageLength || !System.Text.Unicode.Utf8.IsValid(response))
        {
            _state = State.Done;
            return SaslStep.Failed("malformed SCRAM message", ClaimedUser);
        }

        var message = Encoding.UTF8.GetString(response);
        switch (_state)
        {
            case State.ClientFirst:
                return ClientFirst(message);
            case State.ClientFinal:
                _state = State.Done;
                return ClientFinal(message);
            default:
                return SaslStep.Failed("unexpected response", ClaimedUser);
        }
    }

    // client-first-message = gs2-header client-first-message-bare (RFC 5802 §7)
    private SaslStep ClientFirst(string message)
    {
        _state = State.Done;
        var parts = message.Split(',');
        if (parts.Length < 4)
        {
            return SaslStep.Failed("malformed client-first-message");
        }

        // gs2-cbind-flag: "n" (client does not support channel binding), "y" (client does, thinks we don't), "p=" (wants it).
        switch (parts[0])
        {
            case "n":
            case "y":
                break;
            case var flag when flag.StartsWith("p=", StringComparison.Ordinal):
                return SaslStep.Failed("channel binding requested, not supported");
            default:
                return SaslStep.Failed("malformed gs2-cbind-flag");
        }

        string? authzid = null;
        if (parts[1].Length > 0)
        {
            if (!parts[1].StartsWith("a=", StringComparison.Ordinal) || !TryDecodeSaslName(parts[1][2..], out authzid))
            {
                return SaslStep.Failed("malformed authzid");
            }
        }

        _gs2Header = parts[0] + "," + parts[1] + ",";
        _clientFirstBare = message[_gs2Header.Length..];
        if (parts[2].StartsWith("m=", StringComparison.Ordinal))
        {
            // RFC 5802 §5.1: a mandatory extension we do not know: fail.
            return SaslStep.Failed("unsupported mandatory extension");
        }

        if (!parts[2].StartsWith("n=", StringComparison.Ordinal) || !TryDecodeSaslName(parts[2][2..], out var user) || user.Length == 0)
        {
            return SaslStep.Failed("malformed username");
        }

        ClaimedUser = user;
        if (!parts[3].StartsWith("r=", StringComparison.Ordinal) || parts[3].Length == 2 || !IsPrintable(parts[3].AsSpan(2)))
        {
            return SaslStep.Failed("malformed nonce", user);
        }

        if (authzid is not null && !string.Equals(authzid, user, StringComparison.OrdinalIgnoreCase))
        {
            return SaslStep.Failed("authorization identity differs from the user", user);
        }

        var (address, secret) = authenticator.Find(user);
        _address = address;
        _secret = secret;
        var salt = secret is null ? authenticator.FakeSalt(user) : secret.Salt.ToArray();
        var iterations = secret?.Iterations ?? ScramSecret.DefaultIterations;

        _nonce = parts[3][2..] + Convert.ToBase64String(RandomNumberGenerator.GetBytes(ServerNonceBytes));
        _serverFirst = string.Create(CultureInfo.InvariantCulture, $"r={_nonce},s={Convert.ToBase64String(salt)},i={iterations}");
        _state = State.ClientFinal;
        return SaslStep.Challenge(Encoding.UTF8.GetBytes(_serverFirst));
    }

    // client-final-message = channel-binding "," nonce ["," extensions] "," proof (RFC 5802 §7)
    private SaslStep ClientFinal(string message)
    {
        var proofAt = message.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0)
        {
            return SaslStep.Failed("malformed client-final-message", ClaimedUser);
        }

        var withoutProof = message[..proofAt];
        var parts = withoutProof.Split(',');
        var expectedBinding = "c=" + Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header));
        if (parts.Length < 2 || parts[0] != expectedBinding)
        {
            // The channel-binding attribute must repeat the gs2 header exactly (no binding data: we offer none).
            return SaslStep.Failed("channel binding mismatch", ClaimedUser);
        }

        if (parts[1] != "r=" + _nonce)
        {
            return SaslStep.Failed("nonce mismatch", ClaimedUser);
        }

        var proof = new byte[SHA256.HashSizeInBytes];
        if (!Convert.TryFromBase64String(message[(proofAt + 3)..], proof, out var proofLength) || proofLength != SHA256.HashSizeInBytes)
        {
            return SaslStep.Failed("malformed proof", ClaimedUser);
        }

        if (_secret is null || _address is null)
        {
            return SaslStep.Failed("unknown user", ClaimedUser);
        }

        // RFC 5802 §3: ClientSignature = HMAC(StoredKey, AuthMessage); ClientKey = ClientProof XOR ClientSignature;
        // the client is authentic when H(ClientKey) = StoredKey.
        var authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + _serverFirst + "," + withoutProof);
        var clientSignature = HMACSHA256.HashData(_secret.StoredKey, authMessage);
        for (var i = 0; i < proof.Length; i++)
        {
            proof[i] ^= clientSignature[i];
        }

        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(proof), _secret.StoredKey))
        {
            return SaslStep.Failed("wrong password", ClaimedUser);
        }

        var serverSignature = HMACSHA256.HashData(_secret.ServerKey, authMessage);
        return SaslStep.Succeeded(_address, Encoding.ASCII.GetBytes("v=" + Convert.ToBase64String(serverSignature)));
    }

    // saslname: "," and "=" appear as "=2C" and "=3D"; any other "=" is an error (RFC 5802 §5.1).
    private static bool TryDecodeSaslName(string text, out string name)
    {
        name = "";
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '=')
            {
                builder.Append(text[i]);
                continue;
            }

            if (i + 2 >= text.Length)
            {
                return false;
            }

            var code = text.AsSpan(i + 1, 2);
            if (code.SequenceEqual("2C"))
            {
                builder.Append(',');
            }
            else if (code.SequenceEqual("3D"))
            {
                builder.Append('=');
            }
            else
            {
                return false;
            }

            i += 2;
        }

        name = builder.ToString();
        return true;
    }

    // RFC 5802 §7: printable = %x21-2B / %x2D-7E (no comma).
    private static bool IsPrintable(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is < '\x21' or > '\x7E' or ',')
            {
                return false;
            }
        }

        return true;
    }
}

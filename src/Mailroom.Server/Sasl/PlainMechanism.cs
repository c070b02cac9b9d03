using System.Text;

namespace Mailroom.Server.Sasl;

/// <summary>
/// PLAIN (RFC 4616): one message <c>[authzid] NUL authcid NUL passwd</c>. An authorization
/// identity other than the user itself is refused (we do not let one user act as another).
/// </summary>
internal sealed class PlainMechanism(SaslAuthenticator authenticator) : SaslMechanism
{
    public const string MechanismName = "PLAIN";

    // RFC 4616 §2: each of the three fields is at most 255 octets.
    private const int MaxFieldLength = 255;

    private bool _done;

    public override string Name => MechanismName;

    public override SaslStep Respond(ReadOnlySpan<byte> response)
    {
        if (_done)
        {
            return SaslStep.Failed("unexpected response");
        }

        _done = true;
        var first = response.IndexOf((byte)0);
        var second = first < 0 ? -1 : response[(first + 1)..].IndexOf((byte)0);
        if (first < 0 || second < 0)
        {
            return SaslStep.Failed("malformed PLAIN message");
        }

        var authzid = response[..first];
        var authcid = response.Slice(first + 1, second);
        var password = response[(first + 1 + second + 1)..];
        if (authcid.IsEmpty || password.IsEmpty || authzid.Length > MaxFieldLength || authcid.Length > MaxFieldLength || password.Length > MaxFieldLength ||
            password.Contains((byte)0) || !Utf8(authzid) || !Utf8(authcid) || !Utf8(password))
        {
            return SaslStep.Failed("malformed PLAIN message");
        }

        var user = Encoding.UTF8.GetString(authcid);
        ClaimedUser = user;
        if (!authzid.IsEmpty && !string.Equals(Encoding.UTF8.GetString(authzid), user, StringComparison.OrdinalIgnoreCase))
        {
            return SaslStep.Failed("authorization identity differs from the user", user);
        }

        return authenticator.CheckPassword(user, Encoding.UTF8.GetString(password));
    }

    private static bool Utf8(ReadOnlySpan<byte> text) => System.Text.Unicode.Utf8.IsValid(text);
}

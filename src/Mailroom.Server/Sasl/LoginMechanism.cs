using System.Text;

namespace Mailroom.Server.Sasl;

/// <summary>
/// LOGIN (draft-murchison-sasl-login, obsolete but what many clients still send): the server asks
/// "Username:" then "Password:". An initial response is taken as the user name.
/// </summary>
internal sealed class LoginMechanism(SaslAuthenticator authenticator) : SaslMechanism
{
    public const string MechanismName = "LOGIN";

    // As for PLAIN (RFC 4616 §2): 255 octets per field.
    private const int MaxFieldLength = 255;

    private static readonly byte[] UsernamePrompt = "Username:"u8.ToArray();
    private static readonly byte[] PasswordPrompt = "Password:"u8.ToArray();

    private string? _user;
    private bool _done;

    public override string Name => MechanismName;

    public override SaslStep Begin() => SaslStep.Challenge(UsernamePrompt);

    public override SaslStep Respond(ReadOnlySpan<byte> response)
    {
        if (_done)
        {
            return SaslStep.Failed("unexpected response");
        }

        if (response.IsEmpty || response.Length > MaxFieldLength || response.Contains((byte)0) || !System.Text.Unicode.Utf8.IsValid(response))
        {
            _done = true;
            return SaslStep.Failed("malformed LOGIN response", _user);
        }

        if (_user is null)
        {
            _user = Encoding.UTF8.GetString(response);
            ClaimedUser = _user;
            return SaslStep.Challenge(PasswordPrompt);
        }

        _done = true;
        return authenticator.CheckPassword(_user, Encoding.UTF8.GetString(response));
    }
}

using System.Security.Cryptography;
using System.Text;
using Mailroom.Server.Users;

namespace Mailroom.Server.Sasl;

/// <summary>
/// The mechanisms the server offers and the checks they share, against the users' SCRAM secrets.
/// The answer never tells whether a user exists: an unknown user costs the same PBKDF2 as a known
/// one (PLAIN, LOGIN: a dummy secret is verified), and SCRAM answers an unknown user with a salt
/// derived from the name and a key of this process, so the exchange looks the same (RFC 5802 §9).
/// </summary>
public sealed class SaslAuthenticator
{
    /// <summary>The mechanisms in EHLO order: SCRAM first, as the strongest (RFC 7677 §1).</summary>
    public static readonly IReadOnlyList<string> MechanismNames = [ScramSha256Mechanism.MechanismName, PlainMechanism.MechanismName, LoginMechanism.MechanismName];

    private readonly IUserSecrets _users;
    private readonly byte[] _fakeSaltKey = RandomNumberGenerator.GetBytes(32);
    private readonly Lazy<ScramSecret> _dummy = new(() => ScramSecret.Create(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))));

    public SaslAuthenticator(IUserSecrets users)
    {
        ArgumentNullException.ThrowIfNull(users);
        _users = users;
    }

    /// <summary>A new exchange of the named mechanism (case-insensitive, RFC 4422 §3.1); null when it is not offered.</summary>
    internal SaslMechanism? Create(string name) => name.ToUpperInvariant() switch
    {
        PlainMechanism.MechanismName => new PlainMechanism(this),
        LoginMechanism.MechanismName => new LoginMechanism(this),
        ScramSha256Mechanism.MechanismName => new ScramSha256Mechanism(this),
        _ => null,
    };

    /// <summary>Checks a user name and password (PLAIN, LOGIN).</summary>
    internal SaslStep CheckPassword(string user, string password)
    {
        var (address, secret) = Find(user);
        if (secret is null)
        {
            // Spend the same PBKDF2 as for a real user, so that timing does not tell either.
            _dummy.Value.Verify(password);
            return SaslStep.Failed("unknown user", user);
        }

        return secret.Verify(password) ? SaslStep.Succeeded(address!) : SaslStep.Failed("wrong password", user);
    }

    /// <summary>The user's normalised address and secret; null for both when there is no such user.</summary>
    internal (string? Address, ScramSecret? Secret) Find(string user)
    {
        if (!AddressSyntax.TryNormalizeAddress(user, out var address))
        {
            return (null, null);
        }

        return _users.FindSecret(address) is { } secret ? (address, secret) : (null, null);
    }

    /// <summary>A salt for a user that does not exist: stable per name within this process, unpredictable outside it.</summary>
    internal byte[] FakeSalt(string user) =>
        HMACSHA256.HashData(_fakeSaltKey, Encoding.UTF8.GetBytes(user.ToLowerInvariant()))[..ScramSecret.SaltLength];

    /// <summary>Printable form of a claimed user name for the log (it comes from the client).</summary>
    internal static string Printable(string? text)
    {
        if (text is null)
        {
            return "";
        }

        var builder = new StringBuilder(Math.Min(text.Length, 256));
        foreach (var c in text.Length > 256 ? text[..256] : text)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }
}

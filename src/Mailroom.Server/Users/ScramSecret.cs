using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Mailroom.Server.Users;

/// <summary>
/// A SCRAM-SHA-256 verifier (RFC 5802 §3, RFC 7677) in PostgreSQL's text form
/// <c>SCRAM-SHA-256$&lt;iterations&gt;:&lt;salt&gt;$&lt;StoredKey&gt;:&lt;ServerKey&gt;</c>.
/// The password itself is never stored. The password is used as its UTF-8 bytes: SASLprep
/// (RFC 4013) is not applied, which makes no difference for ASCII passwords.
/// </summary>
public sealed class ScramSecret
{
    private const string Prefix = "SCRAM-SHA-256$";

    // The project's choice (see the users file docs); PostgreSQL's scram_iterations default is 4096,
    // RFC 7677 §4 asks for at least 4096. 100000 costs a few tens of ms per AUTH on one core.
    public const int DefaultIterations = 100_000;

    // 16 random bytes, as PostgreSQL (SCRAM_DEFAULT_SALT_LEN) generates.
    public const int SaltLength = 16;

    // SHA-256 output length.
    private const int KeyLength = 32;

    private readonly byte[] _salt;
    private readonly byte[] _storedKey;
    private readonly byte[] _serverKey;

    private ScramSecret(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey)
    {
        Iterations = iterations;
        _salt = salt;
        _storedKey = storedKey;
        _serverKey = serverKey;
    }

    public int Iterations { get; }

    public ReadOnlySpan<byte> Salt => _salt;

    /// <summary>H(ClientKey), RFC 5802 §3.</summary>
    public ReadOnlySpan<byte> StoredKey => _storedKey;

    /// <summary>HMAC(SaltedPassword, "Server Key"), RFC 5802 §3.</summary>
    public ReadOnlySpan<byte> ServerKey => _serverKey;

    /// <summary>A new secret with a fresh random salt and <see cref="DefaultIterations"/>.</summary>
    public static ScramSecret Create(string password) =>
        Create(password, RandomNumberGenerator.GetBytes(SaltLength), DefaultIterations);

    public static ScramSecret Create(string password, ReadOnlySpan<byte> salt, int iterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var saltedPassword = SaltedPassword(password, salt, iterations);
        var clientKey = HMACSHA256.HashData(saltedPassword, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(saltedPassword, "Server Key"u8);
        return new ScramSecret(iterations, salt.ToArray(), storedKey, serverKey);
    }

    /// <summary>Checks a plain password (AUTH PLAIN/LOGIN) by recomputing StoredKey, in constant time.</summary>
    public bool Verify(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        var saltedPassword = SaltedPassword(password, _salt, Iterations);
        var clientKey = HMACSHA256.HashData(saltedPassword, "Client Key"u8);
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(clientKey), _storedKey);
    }

    public static ScramSecret Parse(string text) =>
        TryParse(text, out var secret) ? secret : throw new FormatException("not a SCRAM-SHA-256 secret");

    public static bool TryParse(string text, [NotNullWhen(true)] out ScramSecret? secret)
    {
        secret = null;
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = text[Prefix.Length..].Split('$');
        if (parts.Length != 2)
        {
            return false;
        }

        var head = parts[0].Split(':');
        var keys = parts[1].Split(':');
        if (head.Length != 2 || keys.Length != 2 ||
            !int.TryParse(head[0], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 1 ||
            !TryBase64(head[1], out var salt) || salt.Length == 0 ||
            !TryBase64(keys[0], out var storedKey) || storedKey.Length != KeyLength ||
            !TryBase64(keys[1], out var serverKey) || serverKey.Length != KeyLength)
        {
            return false;
        }

        secret = new ScramSecret(iterations, salt, storedKey, serverKey);
        return true;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Prefix}{Iterations}:{Convert.ToBase64String(_salt)}${Convert.ToBase64String(_storedKey)}:{Convert.ToBase64String(_serverKey)}");

    private static byte[] SaltedPassword(string password, ReadOnlySpan<byte> salt, int iterations) =>
        // RFC 5802 §2.2: Hi(str, salt, i) is PBKDF2 (RFC 2898) with HMAC as the PRF.
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, KeyLength);

    private static bool TryBase64(string text, out byte[] bytes)
    {
        bytes = new byte[text.Length];
        if (!Convert.TryFromBase64String(text, bytes, out var written))
        {
            return false;
        }

        bytes = bytes[..written];
        return true;
    }
}

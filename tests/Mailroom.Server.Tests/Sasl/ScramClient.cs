using System.Security.Cryptography;
using System.Text;

namespace Mailroom.Server.Tests.Sasl;

/// <summary>The client side of SCRAM-SHA-256 (RFC 5802 §3), written from the RFC for the tests.</summary>
internal sealed class ScramClient(string user, string password, string gs2Header = "n,,", string? clientNonce = null)
{
    private readonly string _nonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
    private byte[] _serverSignature = [];

    public string ClientFirstBare => $"n={user.Replace("=", "=3D").Replace(",", "=2C")},r={_nonce}";

    public string ClientFirst => gs2Header + ClientFirstBare;

    /// <summary>The client-final-message for the server-first-message; <paramref name="tamperNonce"/> replaces the nonce.</summary>
    public string ClientFinal(string serverFirst, string? tamperNonce = null)
    {
        var attributes = serverFirst.Split(',').ToDictionary(part => part[..1], part => part[2..]);
        var nonce = tamperNonce ?? attributes["r"];
        var salt = Convert.FromBase64String(attributes["s"]);
        var iterations = int.Parse(attributes["i"], System.Globalization.CultureInfo.InvariantCulture);
        var withoutProof = $"c={Convert.ToBase64String(Encoding.UTF8.GetBytes(gs2Header))},r={nonce}";
        var authMessage = Encoding.UTF8.GetBytes(ClientFirstBare + "," + serverFirst + "," + withoutProof);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var signature = HMACSHA256.HashData(SHA256.HashData(clientKey), authMessage);
        var proof = clientKey.Zip(signature, (a, b) => (byte)(a ^ b)).ToArray();
        _serverSignature = HMACSHA256.HashData(HMACSHA256.HashData(salted, "Server Key"u8), authMessage);
        return withoutProof + ",p=" + Convert.ToBase64String(proof);
    }

    /// <summary>True when the server-final-message proves the server knows the ServerKey.</summary>
    public bool VerifyServerFinal(string serverFinal) => serverFinal == "v=" + Convert.ToBase64String(_serverSignature);
}

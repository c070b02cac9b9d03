using System.Security.Cryptography;
using System.Text;
using Mailroom.Server.Users;

namespace Mailroom.Server.Tests.Users;

public sealed class ScramSecretTests
{
    // RFC 7677 §3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096.
    private static readonly byte[] _rfcSalt = Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ==");

    [Fact]
    public void KeysMatchValuesComputedIndependently()
    {
        var secret = ScramSecret.Create("pencil", _rfcSalt, 4096);

        // Computed once with Python 3's hashlib/hmac:
        //   sp = hashlib.pbkdf2_hmac('sha256', b'pencil', salt, 4096)
        //   StoredKey = sha256(hmac(sp, b'Client Key')), ServerKey = hmac(sp, b'Server Key')
        Assert.Equal("WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", Convert.ToBase64String(secret.StoredKey));
        Assert.Equal("wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", Convert.ToBase64String(secret.ServerKey));
    }

    [Fact]
    public void ServerKeyGivesTheServerSignatureOfRfc7677()
    {
        var secret = ScramSecret.Create("pencil", _rfcSalt, 4096);
        const string authMessage =
            "n=user,r=rOprNGfwEbeRWgbNEkqO," +
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

        var serverSignature = HMACSHA256.HashData(secret.ServerKey.ToArray(), Encoding.ASCII.GetBytes(authMessage));

        Assert.Equal("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", Convert.ToBase64String(serverSignature));
    }

    [Fact]
    public void FormatsInPostgreSqlsForm()
    {
        var secret = ScramSecret.Create("pencil", _rfcSalt, 4096);

        Assert.Equal(
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
            secret.ToString());
    }

    [Fact]
    public void RoundTripsThroughText()
    {
        var secret = ScramSecret.Create("correct horse");

        var parsed = ScramSecret.Parse(secret.ToString());

        Assert.Equal(secret.ToString(), parsed.ToString());
        Assert.Equal(ScramSecret.DefaultIterations, parsed.Iterations);
        Assert.Equal(ScramSecret.SaltLength, parsed.Salt.Length);
        Assert.True(parsed.Verify("correct horse"));
    }

    [Fact]
    public void WrongPasswordFails()
    {
        var secret = ScramSecret.Create("pencil", _rfcSalt, 4096);

        Assert.True(secret.Verify("pencil"));
        Assert.False(secret.Verify("Pencil"));
        Assert.False(secret.Verify(""));
    }

    [Fact]
    public void SaltsAreRandom()
    {
        Assert.NotEqual(ScramSecret.Create("same").ToString(), ScramSecret.Create("same").ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain")]
    [InlineData("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==")]
    [InlineData("SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")]
    [InlineData("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$c2hvcnQ=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")]
    [InlineData("SCRAM-SHA-256$4096:!!!$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")]
    [InlineData("SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")]
    public void RejectsMalformedText(string text)
    {
        Assert.False(ScramSecret.TryParse(text, out _));
        Assert.Throws<FormatException>(() => ScramSecret.Parse(text));
    }
}

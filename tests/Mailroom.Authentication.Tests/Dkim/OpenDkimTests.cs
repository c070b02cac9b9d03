using System.Text;
using System.Text.RegularExpressions;
using Mailroom.Authentication.Dkim;
using MimeKit;

namespace Mailroom.Authentication.Tests.Dkim;

/// <summary>
/// OpenDKIM (Debian package opendkim, 2.11) as a second DKIM oracle for signatures made by
/// <see cref="DkimSigning"/>: <c>opendkim -x conf -vv -t message</c> verifies a message file and exits.
/// It needs no DNS: the configuration's <c>TestPublicKeys</c> option (opendkim.conf(5): "a file from which
/// public keys should be read ... for use only during automated testing") names a file of
/// <c>selector._domainkey.domain key-record</c> lines, our generated records. With <c>-vv</c> it prints the
/// Authentication-Results field it would add (one dkim= per signature) on standard output.
/// OpenDKIM's exit code is 0 whether or not a signature verified, so the output is what is asserted.
/// </summary>
public sealed partial class OpenDkimTests : IDisposable
{
    private const string OpenDkim = "/usr/sbin/opendkim";

    private readonly string _folder = Directory.CreateTempSubdirectory("mailroom-opendkim-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Rsa2048SignatureVerifies()
    {
        var results = await SignAndVerifyAsync([("r1", DkimKeyAlgorithm.Rsa)]);

        Assert.Equal(["pass r1 rsa-sha256"], results);
    }

    [Fact]
    public async Task Ed25519SignatureVerifies()
    {
        var results = await SignAndVerifyAsync([("e1", DkimKeyAlgorithm.Ed25519)]);

        Assert.Equal(["pass e1 ed25519-sha256"], results);
    }

    [Fact]
    public async Task DualSignaturesVerify()
    {
        var results = await SignAndVerifyAsync([("r1", DkimKeyAlgorithm.Rsa), ("e1", DkimKeyAlgorithm.Ed25519)]);

        Assert.Equal(["pass r1 rsa-sha256", "pass e1 ed25519-sha256"], results);
    }

    /// <summary>The oracle can say no: a body changed after signing fails both signatures.</summary>
    [Fact]
    public async Task AlteredBodyFails()
    {
        var results = await SignAndVerifyAsync([("r1", DkimKeyAlgorithm.Rsa), ("e1", DkimKeyAlgorithm.Ed25519)],
            signed => signed.Replace("Hello Bob", "Hello Eve", StringComparison.Ordinal));

        Assert.Equal(["fail r1 rsa-sha256", "fail e1 ed25519-sha256"], results);
    }

    /// <summary>Signs a message with fresh keys of example.com and returns OpenDKIM's "result selector algorithm" per signature.</summary>
    private async Task<List<string>> SignAndVerifyAsync((string Selector, DkimKeyAlgorithm Algorithm)[] keys, Func<string, string>? alter = null)
    {
        Assert.True(File.Exists(OpenDkim), $"{OpenDkim} is missing: install Debian's opendkim package (test.sh does)");
        var signingKeys = new List<DkimSigningKey>();
        var keyLines = new StringBuilder();
        foreach (var (selector, algorithm) in keys)
        {
            var generated = DkimKeyGenerator.Generate(algorithm);
            var path = Path.Combine(_folder, selector + ".key");
            await File.WriteAllTextAsync(path, generated.PrivateKeyPem);
            signingKeys.Add(new DkimSigningKey("example.com", selector, path));
            keyLines.Append($"{selector}._domainkey.example.com {generated.KeyRecord}\n");
        }

        var signing = DkimSigning.Load(signingKeys, out var errors);
        Assert.Empty(errors);
        var message = DkimSigningTests.Message();
        Assert.Equal(keys.Length, signing.Sign(message, "example.com"));

        var bytes = DkimSigningTests.Bytes(message);
        if (alter is not null)
        {
            bytes = Encoding.ASCII.GetBytes(alter(Encoding.ASCII.GetString(bytes)));
        }

        var messagePath = Path.Combine(_folder, "signed.eml");
        var keysPath = Path.Combine(_folder, "keys");
        var configPath = Path.Combine(_folder, "opendkim.conf");
        await File.WriteAllBytesAsync(messagePath, bytes);
        await File.WriteAllTextAsync(keysPath, keyLines.ToString());
        // Mode v: verify only; no syslog; keys from the file above, never from DNS.
        await File.WriteAllTextAsync(configPath, $"Mode v\nSyslog no\nTestPublicKeys {keysPath}\n");

        var (exit, output) = await DkimSigningTests.RunAsync(OpenDkim, ["-x", configPath, "-vv", "-t", messagePath]);

        Assert.True(exit == 0, output);
        var results = OpenDkimResinfo().Matches(output)
            .Select(m => $"{m.Groups["result"].Value} {m.Groups["s"].Value} {m.Groups["a"].Value}")
            .ToList();
        Assert.True(results.Count == keys.Length, output);
        return results;
    }

    // One resinfo of the Authentication-Results field OpenDKIM prints with -vv, e.g.
    // "dkim=pass (2048-bit key) header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=r1 header.b=…".
    [GeneratedRegex(@"dkim=(?<result>\w+)[^;]*?header\.a=(?<a>[\w-]+) header\.s=(?<s>[\w.-]+)")]
    private static partial Regex OpenDkimResinfo();
}

using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Mailroom.Authentication.Dkim;
using Microsoft.Extensions.Time.Testing;
using MimeKit;

namespace Mailroom.Authentication.Tests.Dkim;

/// <summary>Signing with generated RSA 2048 and Ed25519 keys, checked by our verifier and by dkimpy (Debian python3-dkim).</summary>
public sealed class DkimSigningTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mailroom-dkim-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private (DkimSigning Signing, Dictionary<string, string> Records) DualKeys()
    {
        var records = new Dictionary<string, string>();
        var keys = new List<DkimSigningKey>();
        foreach (var (selector, algorithm) in new[] { ("r1", DkimKeyAlgorithm.Rsa), ("e1", DkimKeyAlgorithm.Ed25519) })
        {
            var generated = DkimKeyGenerator.Generate(algorithm);
            var path = Path.Combine(_folder, selector + ".key");
            File.WriteAllText(path, generated.PrivateKeyPem);
            keys.Add(new DkimSigningKey("example.com", selector, path));
            records[$"{selector}._domainkey.example.com"] = generated.KeyRecord;
        }

        var signing = DkimSigning.Load(keys, out var errors);
        Assert.Empty(errors);
        return (signing, records);
    }

    internal static MimeMessage Message()
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Alice", "alice@example.com"));
        message.To.Add(new MailboxAddress("Bob", "bob@example.org"));
        message.Subject = "Dual signed";
        message.Date = new DateTimeOffset(2026, 9, 1, 12, 0, 0, TimeSpan.Zero);
        message.MessageId = "test@example.com";
        message.Body = new TextPart("plain") { Text = "Hello Bob,\n\n  with  spaces\tand tabs \nand a trailing line.\n" };
        return message;
    }

    internal static byte[] Bytes(MimeMessage message)
    {
        using var stream = new MemoryStream();
        message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, stream);
        return stream.ToArray();
    }

    [Fact]
    public async Task DualSignaturesVerifyWithOurVerifier()
    {
        var (signing, records) = DualKeys();
        var message = Message();

        Assert.Equal(2, signing.Sign(message, "EXAMPLE.com"));

        var zone = new ZoneResolver();
        foreach (var (name, record) in records)
        {
            zone.AddTxt(name, record);
        }

        var results = await new DkimVerification(zone, new FakeTimeProvider(DateTimeOffset.UtcNow)).VerifyAsync(Bytes(message), CancellationToken.None);
        Assert.Equal(["r1:rsa-sha256:Pass:2048", "e1:ed25519-sha256:Pass:256"], results.Select(r => $"{r.Selector}:{r.Algorithm}:{r.Result}:{r.KeyBits}"));
        var signature = message.Headers[HeaderId.DkimSignature]!;
        Assert.Contains("c=relaxed/relaxed", signature, StringComparison.Ordinal);
        Assert.Matches("h=from:from:", signature.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant());
    }

    [Fact]
    public void NoKeyForTheDomainSignsNothing()
    {
        var (signing, _) = DualKeys();

        Assert.Equal(0, signing.Sign(Message(), "example.net"));
    }

    [Fact]
    public void AnUnreadableKeyIsReported()
    {
        var path = Path.Combine(_folder, "bad.key");
        File.WriteAllText(path, "not a key");

        var signing = DkimSigning.Load([new DkimSigningKey("example.com", "s", path), new DkimSigningKey("example.com", "t", Path.Combine(_folder, "missing.key"))], out var errors);

        Assert.Equal(2, errors.Count);
        Assert.Empty(signing.Domains);
    }

    [Fact]
    public async Task DualSignaturesVerifyWithDkimpy()
    {
        var (signing, records) = DualKeys();
        var message = Message();
        signing.Sign(message, "example.com");
        var messagePath = Path.Combine(_folder, "signed.eml");
        var recordsPath = Path.Combine(_folder, "records.json");
        await File.WriteAllBytesAsync(messagePath, Bytes(message));
        await File.WriteAllTextAsync(recordsPath, JsonSerializer.Serialize(records));

        // dkimpy verifies one signature per call (idx); its dnsfunc answers from our records, so no DNS is used.
        const string script = """
            import dkim, json, sys
            records = json.load(open(sys.argv[2]))
            def dnsfunc(name, timeout=5):
                name = name.decode() if isinstance(name, bytes) else name
                return records.get(name.rstrip('.'), '').encode()
            msg = open(sys.argv[1], 'rb').read()
            d = dkim.DKIM(msg)
            print(' '.join(str(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(2)))
            """;
        var (exit, output) = await RunAsync("/usr/bin/python3", ["-c", script, messagePath, recordsPath]);

        Assert.True(exit == 0, output);
        Assert.Equal("True True", output.Trim());
    }

    /// <summary>Runs a program to its end (at most 60 s; on timeout it is killed by its process object, then the test fails).</summary>
    internal static async Task<(int Exit, string Output)> RunAsync(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, new StringBuilder(await stdout).Append(await stderr).ToString());
    }
}

using System.Text;
using System.Text.Json;

namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>
/// dkimpy (Debian's python3-dkim, run with /usr/bin/python3) as a DKIM oracle: it signs messages
/// the tests send, and verifies the signatures in delivered files with the TXT records the test
/// published (a dnsfunc that answers from them: no DNS in Python). Ed25519 needs python3-nacl.
/// </summary>
internal static class Dkimpy
{
    private const string Python = "/usr/bin/python3";

    // argv: message file, selector, domain, private key file (PKCS#1 PEM), header names (comma-separated).
    // Prints the DKIM-Signature field (relaxed/simple, rsa-sha256), CRLF line endings.
    private const string SignScript = """
        import sys, dkim
        message = open(sys.argv[1], 'rb').read()
        key = open(sys.argv[4], 'rb').read()
        headers = [h.encode() for h in sys.argv[5].split(',')]
        signature = dkim.sign(message, sys.argv[2].encode(), sys.argv[3].encode(), key, include_headers=headers, linesep=b'\r\n')
        sys.stdout.write(signature.decode('ascii'))
        """;

    // argv: message file, JSON {name: TXT text}. Prints one line per DKIM-Signature, in order:
    // "<index> <d=> <s=> <a=> pass|fail".
    private const string VerifyScript = """
        import sys, json, dkim
        message = open(sys.argv[1], 'rb').read()
        records = json.loads(sys.argv[2])
        def dnsfunc(name, timeout=5):
            text = records.get(name.decode('ascii').rstrip('.').lower())
            return text.encode('ascii') if text is not None else None
        verifier = dkim.DKIM(message)
        signatures = [value for (name, value) in verifier.headers if name.lower() == b'dkim-signature']
        for index, value in enumerate(signatures):
            tags = dict((k.strip(), v.strip()) for k, v in (t.split(b'=', 1) for t in value.replace(b'\r\n', b'').split(b';') if b'=' in t))
            ok = dkim.DKIM(message).verify(idx=index, dnsfunc=dnsfunc)
            print(index, tags.get(b'd', b'').decode(), tags.get(b's', b'').decode(), tags.get(b'a', b'').decode(), 'pass' if ok else 'fail')
        """;

    /// <summary>The DKIM-Signature field (with its CRLF) dkimpy makes for <paramref name="message"/>.</summary>
    public static async Task<string> SignAsync(byte[] message, string selector, string domain, string privateKeyPem, params string[] headers)
    {
        var folder = Directory.CreateTempSubdirectory("mailroom-dkimpy-").FullName;
        try
        {
            var messagePath = Path.Combine(folder, "message.eml");
            var keyPath = Path.Combine(folder, "key.pem");
            await File.WriteAllBytesAsync(messagePath, message);
            await File.WriteAllTextAsync(keyPath, privateKeyPem);
            var result = await ProcessRunner.RunAsync(Python, ["-c", SignScript, messagePath, selector, domain, keyPath, string.Join(',', headers)]);
            return result.ExitCode == 0 && result.StandardOutput.StartsWith("DKIM-Signature:", StringComparison.Ordinal)
                ? result.StandardOutput
                : throw new InvalidOperationException($"dkimpy could not sign\n{result}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>dkimpy's verdict on each DKIM-Signature of the file, in order: (d=, s=, a=, passed).</summary>
    public static async Task<IReadOnlyList<(string Domain, string Selector, string Algorithm, bool Pass)>> VerifyAsync(string path, IReadOnlyDictionary<string, string> txtRecords)
    {
        var records = JsonSerializer.Serialize(txtRecords.ToDictionary(pair => pair.Key.ToLowerInvariant(), pair => pair.Value));
        var result = await ProcessRunner.RunAsync(Python, ["-c", VerifyScript, path, records]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"dkimpy could not verify\n{result}");
        }

        return [.. result.StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .Select(parts => (parts[1], parts[2], parts[3], parts[4] == "pass"))];
    }

    /// <summary>
    /// Splits a TXT text into several strings (each at most <paramref name="size"/>) for a dnsmasq
    /// --txt-record argument passed without a shell: comma-separated, unquoted (the text must hold no comma).
    /// </summary>
    public static string DnsmasqStrings(string text, int size = 200)
    {
        var parts = new StringBuilder();
        for (var i = 0; i < text.Length; i += size)
        {
            parts.Append(i == 0 ? "" : ",").Append(text.AsSpan(i, Math.Min(size, text.Length - i)));
        }

        return parts.ToString();
    }
}

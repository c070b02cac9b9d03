using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Dmarc;
using Mailroom.Authentication.Spf;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using YamlDotNet.RepresentationModel;

namespace Mailroom.Authentication.Tests.Dmarc;

/// <summary>
/// FastMail's authentication_milter end-to-end corpus (tests/testdata/dmarc/authentication-milter):
/// for every case run under the reference's <c>config/normal</c> or <c>config/normal.smtp</c> (45 cases,
/// 52 transactions: the two smtp-multi cases pipeline 3 and 6), SPF (MAIL FROM <c>from</c>, HELO
/// <c>name</c>, client <c>ip</c>), DKIM on <c>source/&lt;source&gt;</c> (LF → CRLF) and DMARC from those
/// results, all over the corpus's <c>zonefile</c>; the spf, dkim (per signature: result and header.d)
/// and dmarc results are compared with the Authentication-Results the reference wrote at the top of
/// <c>expected/&lt;dest&gt;</c>.
/// </summary>
/// <remarks>
/// Not compared: iprev (the server's check, not this library's), and the methods we do not implement:
/// x-google-dkim (the X-Google-DKIM-Signature field), dkim-adsp (ADSP, RFC 5617, historic), senderid
/// (RFC 4406, historic), x-ptr, x-local-ip, x-trusted-ip, x-tls. Where the reference skipped a method
/// (its LocalIP/TrustedIP handlers add no spf or dmarc for 127.0.0.1 and 123.123.12.3) there is
/// nothing to compare. Its <c>ip_map</c> configuration (4.3.2.1 and 5.4.3.0/24 are checked as
/// 74.125.82.171 / mail-we0-f171.google.com) is applied before the checks, as the reference does.
/// Each difference from the reference is listed in <see cref="KnownDifferences"/> with its reason
/// (and in src/Mailroom.Authentication/README.md); any other difference fails the test.
/// </remarks>
public sealed partial class AuthenticationMilterCorpusTests
{
    private const string Folder = "authentication-milter";

    /// <summary>2015-01-25, the day the Gmail signatures were made (they carry no x=; the clock does not matter, but is fixed).</summary>
    private static readonly FakeTimeProvider s_clock = new(new DateTimeOffset(2015, 1, 25, 4, 0, 0, TimeSpan.Zero));

    /// <summary>
    /// Transactions where our result differs from the reference, with why. Key: dest file, "#n" for the
    /// n-th transaction of an smtp-multi case; value: the differences as <see cref="Compare"/> reports them.
    /// </summary>
    internal static readonly Dictionary<string, string[]> KnownDifferences = new()
    {
        // Two From fields (the second "From :" with two mailboxes): the reference evaluates DMARC for each
        // domain; we refuse the message (RFC 7489 §6.6.1 lets the receiver; issue 6 asks for it).
        ["dmarc_multi.eml"] = ["dmarc: reference fail goestheweasel.com, fail marcbradshaw.net, none example.com, ours refused (unusable From)"],
        // The same message; MAIL FROM is "test@goestheweasel.com, test@marcbradshaw.net", not an RFC 5321
        // reverse-path. The reference falls back to the HELO identity (spf=none for bad.name.google.com);
        // our SpfEvaluator takes the domain after the last '@' (marcbradshaw.net: ~all from 123.123.123.123).
        ["dmarc_multi_2.eml"] =
        [
            "spf: reference none, ours softfail",
            "dmarc: reference fail goestheweasel.com, fail marcbradshaw.net, none example.com, ours refused (unusable From)",
        ],
        // From: "Dear Customer ... with no address the reference can parse: it reports dmarc=permerror; we
        // refuse the message (unusable From, as above).
        ["spam_headers.smtp.eml"] = ["dmarc: reference permerror, ours refused (unusable From)"],
        // MAIL FROM "marc@ marcbradshaw.net" (a space after '@'), not an RFC 5321 Mailbox: the reference
        // strips the space and checks marcbradshaw.net (pass); we take the domain as given, which is not
        // a valid domain, so spf=none (RFC 7208 §4.3), and DMARC, with the DKIM signature failing (body
        // altered, as the reference agrees), has no aligned pass.
        ["google_apps_bad_space.eml"] = ["spf: reference pass, ours none", "dmarc: reference pass marcbradshaw.net, ours fail marcbradshaw.net"],
        ["google_apps_bad_space.smtp.eml"] = ["spf: reference pass, ours none", "dmarc: reference pass marcbradshaw.net, ours fail marcbradshaw.net"],
    };

    public sealed record Transaction(string Key, string Mode, string Source, string Ip, string Helo, string MailFrom, string? Expected);

    public sealed record Resinfo(string Method, string Result, IReadOnlyDictionary<string, string> Properties);

    private static readonly Lazy<List<Transaction>> s_transactions = new(LoadTransactions);

    /// <summary>
    /// The transactions the reference wrote a header for: pipelined.limit.smtp.eml's transcript holds only
    /// the first 4 of its 6 transactions (the reference's per-connection limit), so 5 and 6 are not compared.
    /// </summary>
    public static TheoryData<string> Keys() => [.. s_transactions.Value.Where(t => t.Expected is not null).Select(t => t.Key)];

    [Theory]
    [MemberData(nameof(Keys))]
    public async Task SameResultsAsTheReferenceOrADocumentedDifference(string key)
    {
        var transaction = s_transactions.Value.Single(t => t.Key == key);

        var differences = await Compare(transaction);

        Assert.Equal(KnownDifferences.GetValueOrDefault(key, []), differences);
    }

    /// <summary>The counts the README reports.</summary>
    [Fact]
    public async Task Counts()
    {
        var cases = LoadCases();
        Assert.Equal(45, cases.Count);
        Assert.Equal(52, s_transactions.Value.Count);
        var compared = s_transactions.Value.Where(t => t.Expected is not null).ToList();
        Assert.Equal(50, compared.Count);
        var matching = 0;
        foreach (var transaction in compared)
        {
            if ((await Compare(transaction)).Count == 0)
            {
                matching++;
            }
        }

        Assert.Equal(45, matching);
        Assert.Equal(compared.Count - KnownDifferences.Count, matching);
    }

    [Fact]
    public async Task ZoneJoinsCharacterStrings()
    {
        var zone = Zone();

        var key = Assert.Single((await zone.GetTxtAsync("tfe2._domainkey.marcbradshaw.net", CancellationToken.None)).Records);
        Assert.StartsWith("v=DKIM1; k=rsa; p=MIIBIjAN", key);
        Assert.Contains("jNkIah3g9Fg4", key); // a bare string joined to the one before it, no space
        Assert.EndsWith("wIDAQAB", key);
        Assert.Equal(Dns.DnsStatus.NameNotFound, (await zone.GetTxtAsync("_dmarc.example.com", CancellationToken.None)).Status);
        Assert.Equal(Dns.DnsStatus.NoRecords, (await zone.GetTxtAsync("_domainkey.goestheweasel.com", CancellationToken.None)).Status);
        Assert.Equal(2, (await zone.GetTxtAsync("example.com", CancellationToken.None)).Records.Count);
    }

    internal static ZoneResolver Zone() => AuthenticationMilterZone.Load(TestData.Text("dmarc", Folder, "zonefile"));

    /// <summary>Runs our checks for one transaction and lists how they differ from the reference's header.</summary>
    internal static async Task<List<string>> Compare(Transaction transaction)
    {
        var differences = new List<string>();
        if (transaction.Expected is null)
        {
            differences.Add("no Authentication-Results in the reference's output");
            return differences;
        }

        var expected = ParseAuthenticationResults(transaction.Expected);
        var zone = Zone();
        var (ip, helo) = IpMap(IPAddress.Parse(transaction.Ip), transaction.Helo);

        var spf = await new SpfEvaluator(zone, s_clock).CheckMailFromAsync(ip, transaction.MailFrom, helo, CancellationToken.None);
        var message = Crlf(TestData.Bytes("dmarc", Folder, "source", transaction.Source));
        var dkim = await new DkimVerification(zone, s_clock).VerifyAsync(message, CancellationToken.None);
        HeaderList headers;
        using (var stream = new MemoryStream(message))
        {
            headers = MimeMessage.Load(stream).Headers;
        }

        var dmarc = await new DmarcEvaluator(zone, PublicSuffixList.Embedded, new Random(1)).CheckAsync(headers, spf, dkim, CancellationToken.None);

        if (expected.Where(r => r.Method == "spf").ToList() is [var expectedSpf])
        {
            var ours = spf.Result.ToString().ToLowerInvariant();
            if (ours != expectedSpf.Result)
            {
                differences.Add($"spf: reference {expectedSpf.Result}, ours {ours}");
            }
        }

        var expectedDkim = expected.Where(r => r.Method == "dkim").ToList();
        if (expectedDkim.Count > 0)
        {
            var theirs = expectedDkim is [{ Result: "none" }] ? [] : expectedDkim.Select(r => $"{r.Result} {r.Properties.GetValueOrDefault("header.d")}").ToList();
            var ours = dkim.Select(r => $"{r.Result.ToString().ToLowerInvariant()} {r.Domain}").ToList();
            if (!theirs.SequenceEqual(ours))
            {
                differences.Add($"dkim: reference [{string.Join(", ", theirs)}], ours [{string.Join(", ", ours)}]");
            }
        }

        var expectedDmarc = expected.Where(r => r.Method == "dmarc").ToList();
        if (expectedDmarc.Count > 0)
        {
            var theirs = string.Join(", ", expectedDmarc.Select(r => $"{r.Result} {r.Properties.GetValueOrDefault("header.from")}".TrimEnd()));
            var ours = dmarc.InvalidFrom
                ? "refused (unusable From)"
                : $"{dmarc.Result.ToString().ToLowerInvariant()} {dmarc.FromDomain}".TrimEnd();
            if (theirs != ours)
            {
                differences.Add($"dmarc: reference {theirs}, ours {ours}");
            }
        }

        return differences;
    }

    /// <summary>config-normal/authentication_milter.json "ip_map": the reference checks these clients as another.</summary>
    private static (IPAddress Ip, string Helo) IpMap(IPAddress ip, string helo) =>
        ip.ToString() == "4.3.2.1" || ip.ToString().StartsWith("5.4.3.", StringComparison.Ordinal)
            ? (IPAddress.Parse("74.125.82.171"), "mail-we0-f171.google.com")
            : (ip, helo);

    /// <summary>The messages use LF line endings; SMTP carries CRLF (a CR already present is kept).</summary>
    private static byte[] Crlf(byte[] bytes)
    {
        var output = new List<byte>(bytes.Length + bytes.Length / 40);
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n' && (i == 0 || bytes[i - 1] != (byte)'\r'))
            {
                output.Add((byte)'\r');
            }

            output.Add(bytes[i]);
        }

        return [.. output];
    }

    /// <summary>method=result pairs and ptype.property=value of an Authentication-Results value (RFC 8601 §2.2), comments dropped.</summary>
    internal static List<Resinfo> ParseAuthenticationResults(string field)
    {
        var value = field[(field.IndexOf(':') + 1)..].Replace("\r", "").Replace("\n", " ");
        while (Comment().IsMatch(value))
        {
            value = Comment().Replace(value, " ");
        }

        var parts = value.Split(';');
        var results = new List<Resinfo>();
        foreach (var part in parts.Skip(1)) // the first is the authserv-id
        {
            var pairs = Pair().Matches(part).Select(m => (m.Groups["name"].Value.ToLowerInvariant(), m.Groups["value"].Value.Trim('"'))).ToList();
            if (pairs.Count == 0)
            {
                continue;
            }

            var (method, result) = pairs[0];
            results.Add(new Resinfo(method, result.ToLowerInvariant(), pairs.Skip(1).GroupBy(p => p.Item1).ToDictionary(g => g.Key, g => g.First().Item2)));
        }

        return results;
    }

    private static List<YamlMappingNode> LoadCases()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(TestData.Text("dmarc", Folder, "cases.yaml")));
        return [.. ((YamlSequenceNode)stream.Documents[0].RootNode).Children.Cast<YamlMappingNode>()
            .Where(c => Scalar(c["config"]) is "config/normal" or "config/normal.smtp")];
    }

    private static List<Transaction> LoadTransactions()
    {
        var transactions = new List<Transaction>();
        foreach (var c in LoadCases())
        {
            var mode = Scalar(c["mode"]);
            var dest = Scalar(c["dest"]);
            var text = File.Exists(TestData.PathOf("dmarc", Folder, "expected", dest))
                ? TestData.Text("dmarc", Folder, "expected", dest).Replace("\r\n", "\n")
                : null;
            if (mode == "smtp-multi")
            {
                var sources = List(c["source"]);
                var ips = List(c["ip"]);
                var names = List(c["name"]);
                var froms = List(c["from"]);
                var segments = text is null ? [] : Transactions(text);
                for (var i = 0; i < sources.Count; i++)
                {
                    transactions.Add(new Transaction($"{dest}#{i + 1}", mode, sources[i], ips[i], names[i], MailFrom(froms[i]),
                        i < segments.Count ? FirstAuthenticationResults(segments[i]) : null));
                }
            }
            else
            {
                transactions.Add(new Transaction(dest, mode, Scalar(c["source"]), Scalar(c["ip"]), Scalar(c["name"]), MailFrom(Scalar(c["from"])),
                    text is null ? null : FirstAuthenticationResults(mode == "smtp" ? Transactions(text).Single() : text)));
            }
        }

        return transactions;
    }

    /// <summary>An smtp-mode transcript: one segment per MAIL FROM, from the line after DATA.</summary>
    private static List<string> Transactions(string transcript)
    {
        var segments = new List<string>();
        foreach (var part in MailCommand().Split(transcript).Skip(1))
        {
            var data = part.IndexOf("\nDATA\n", StringComparison.Ordinal);
            segments.Add(data < 0 ? "" : part[(data + "\nDATA\n".Length)..]);
        }

        return segments;
    }

    /// <summary>The first Authentication-Results field (with its continuation lines) of a message's header section.</summary>
    private static string? FirstAuthenticationResults(string message)
    {
        var lines = message.Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith("Authentication-Results:", StringComparison.OrdinalIgnoreCase));
        var end = Array.FindIndex(lines, l => l.Length == 0);
        if (start < 0 || (end >= 0 && end < start))
        {
            return null;
        }

        var field = new StringBuilder(lines[start]);
        for (var i = start + 1; i < lines.Length && lines[i].Length > 0 && lines[i][0] is ' ' or '\t'; i++)
        {
            field.Append('\n').Append(lines[i]);
        }

        return field.ToString();
    }

    /// <summary>The reference's smtp mode keeps the angle brackets and parameters: "&lt;a@b&gt; BODY=8BITMIME" → "a@b".</summary>
    private static string MailFrom(string from)
    {
        var open = from.IndexOf('<');
        var close = from.IndexOf('>');
        return open >= 0 && close > open ? from[(open + 1)..close] : from;
    }

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    private static List<string> List(YamlNode node) => [.. ((YamlSequenceNode)node).Children.Select(Scalar)];

    [GeneratedRegex(@"\([^()]*\)")]
    private static partial Regex Comment();

    [GeneratedRegex(@"(?<name>[A-Za-z0-9_.-]+)\s*=\s*(?<value>""[^""]*""|[^\s;]+)")]
    private static partial Regex Pair();

    [GeneratedRegex(@"(?m)^MAIL FROM:.*\n")]
    private static partial Regex MailCommand();
}

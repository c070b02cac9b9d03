using System.Globalization;

namespace Mailroom.Delivery.Remote;

/// <summary>The service extensions a server announced in its EHLO reply (RFC 5321 §4.1.1.1); all absent after HELO.</summary>
public sealed record EhloCapabilities
{
    public static readonly EhloCapabilities None = new();

    /// <summary>The server answered EHLO (false after the HELO fallback).</summary>
    public bool Extended { get; init; }

    public bool Pipelining { get; init; }

    /// <summary>RFC 1870 SIZE: the largest message the server takes; 0 when no limit is announced; null without SIZE.</summary>
    public long? Size { get; init; }

    public bool EightBitMime { get; init; }

    public bool SmtpUtf8 { get; init; }

    public bool Dsn { get; init; }

    public bool Chunking { get; init; }

    public bool StartTls { get; init; }

    public bool EnhancedStatusCodes { get; init; }

    /// <summary>RFC 4954 SASL mechanisms, upper case.</summary>
    public IReadOnlyList<string> AuthMechanisms { get; init; } = [];

    /// <summary>Reads the lines after the first (the first line is the server's greeting name).</summary>
    public static EhloCapabilities Parse(IReadOnlyList<string> lines)
    {
        var result = new EhloCapabilities { Extended = true };
        var mechanisms = new List<string>();
        for (var i = 1; i < lines.Count; i++)
        {
            var parts = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
            {
                continue;
            }

            var keyword = parts[0].ToUpperInvariant();
            result = keyword switch
            {
                "PIPELINING" => result with { Pipelining = true },
                "SIZE" => result with { Size = parts.Length > 1 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size) ? size : 0 },
                "8BITMIME" => result with { EightBitMime = true },
                "SMTPUTF8" => result with { SmtpUtf8 = true },
                "DSN" => result with { Dsn = true },
                "CHUNKING" => result with { Chunking = true },
                "STARTTLS" => result with { StartTls = true },
                "ENHANCEDSTATUSCODES" => result with { EnhancedStatusCodes = true },
                _ => result,
            };

            // "AUTH PLAIN LOGIN", and the pre-standard "AUTH=PLAIN LOGIN" some servers still send.
            if (keyword == "AUTH" || keyword.StartsWith("AUTH=", StringComparison.Ordinal))
            {
                if (keyword.Length > 5)
                {
                    mechanisms.Add(keyword[5..]);
                }

                mechanisms.AddRange(parts.Skip(1).Select(m => m.ToUpperInvariant()));
            }
        }

        return result with { AuthMechanisms = [.. mechanisms.Distinct()] };
    }
}

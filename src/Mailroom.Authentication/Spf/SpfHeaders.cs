using System.Text;
using Mailroom.Authentication.Results;

namespace Mailroom.Authentication.Spf;

/// <summary>The Received-SPF header (RFC 7208 §9.1) and the spf resinfo of Authentication-Results (RFC 8601 §2.7.2).</summary>
public static class SpfHeaders
{
    /// <summary>
    /// The value of Received-SPF: result, a comment saying what it means, then key=value pairs
    /// (client-ip, envelope-from, helo, receiver, identity, mechanism or problem), RFC 7208 §9.1.
    /// </summary>
    public static string ReceivedSpfValue(SpfCheckResult result, string receiver)
    {
        var who = result.Identity == SpfIdentity.Helo ? result.Helo : result.Sender;
        var ip = result.ClientAddress.ToString();
        var comment = result.Result switch
        {
            SpfResult.Pass => $"domain of {who} designates {ip} as permitted sender",
            SpfResult.Fail => $"domain of {who} does not designate {ip} as permitted sender",
            SpfResult.SoftFail => $"domain of transitioning {who} does not designate {ip} as permitted sender",
            SpfResult.Neutral => $"{ip} is neither permitted nor denied by domain of {who}",
            SpfResult.None => $"domain of {who} does not designate permitted sender hosts",
            SpfResult.TempError => $"error in processing during lookup of {who}",
            _ => $"permanent error in processing domain of {who}",
        };
        var text = new StringBuilder()
            .Append(Keyword(result.Result))
            .Append(" (").Append(AuthenticationResultsHeader.EscapeComment($"{receiver}: {comment}")).Append(") ")
            .Append("client-ip=").Append(ip).Append("; ")
            .Append("envelope-from=").Append(AuthenticationResultsHeader.Quote(result.Sender)).Append("; ")
            .Append("helo=").Append(DotAtomOrQuoted(result.Helo)).Append("; ")
            .Append("receiver=").Append(DotAtomOrQuoted(receiver)).Append("; ")
            .Append("identity=").Append(result.Identity == SpfIdentity.Helo ? "helo" : "mailfrom").Append(';');
        if (result.Mechanism is { } mechanism)
        {
            text.Append(" mechanism=").Append(DotAtomOrQuoted(mechanism)).Append(';');
        }

        if (result.Problem is { } problem && result.Result is SpfResult.PermError or SpfResult.TempError)
        {
            text.Append(" problem=").Append(AuthenticationResultsHeader.Quote(problem)).Append(';');
        }

        return text.ToString();
    }

    /// <summary>The whole Received-SPF header field with CRLF.</summary>
    public static string ReceivedSpf(SpfCheckResult result, string receiver) =>
        $"Received-SPF: {ReceivedSpfValue(result, receiver)}\r\n";

    /// <summary>"spf=pass smtp.mailfrom=user@example.com" (or smtp.helo=) for Authentication-Results.</summary>
    public static AuthenticationResult ToAuthenticationResult(SpfCheckResult result) =>
        new("spf", Keyword(result.Result))
        {
            Properties = result.Identity == SpfIdentity.Helo
                ? [new AuthenticationProperty("smtp", "helo", result.Helo)]
                : [new AuthenticationProperty("smtp", "mailfrom", result.Sender)],
        };

    /// <summary>The result keyword, lowercase (RFC 7208 §2.6, RFC 8601 §2.7.2).</summary>
    public static string Keyword(SpfResult result) => result.ToString().ToLowerInvariant();

    private static string DotAtomOrQuoted(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.".Contains(c, StringComparison.Ordinal))
            ? value
            : AuthenticationResultsHeader.Quote(value);
}

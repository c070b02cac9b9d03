using System.Net;
using System.Text;
using Mailroom.Dns;
using Mailroom.Protocol;
using Mailroom.Server.Policy;
using Mailroom.Server.Smtp;
using Microsoft.Extensions.Time.Testing;

using Mailroom.Tests.Shared.Dns;

namespace Mailroom.Server.Tests.Policy;

internal static class PolicyTestSupport
{
    public const string Hostname = "mx.mailroom.test";

    public static FakeTimeProvider Clock() => new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    /// <summary>Options with the pregreet wait off, as most tests want.</summary>
    public static PolicyOptions Options(Func<PolicyLimits, PolicyLimits>? limits = null, Func<PolicyOptions, PolicyOptions>? options = null)
    {
        var result = new PolicyOptions { Limits = (limits ?? (l => l))(PolicyLimits.Default with { PregreetWait = TimeSpan.Zero }) };
        return (options ?? (o => o))(result);
    }

    public static SmtpPolicy NewPolicy(IDnsResolver? resolver = null, PolicyOptions? options = null, TimeProvider? time = null, string? greylistPath = null)
        => new(options ?? Options(), Hostname, resolver ?? new FakeDnsResolver(), time ?? Clock(), greylistPath);

    public static SmtpPolicyContext Context(string client = "192.0.2.10", SmtpListenerRole role = SmtpListenerRole.Smtp, string? local = "192.0.2.1")
        => new(IPAddress.Parse(client), role, local is null ? null : IPAddress.Parse(local));

    public static SmtpPath Path(string address)
    {
        Assert.True(SmtpPath.TryParseMailbox(Encoding.UTF8.GetBytes(address), out var path), address);
        return path;
    }

    /// <summary>Asserts the decision's action and its reply's code, enhanced status and text start.</summary>
    public static void AssertReply(PolicyDecision decision, PolicyAction action, int code, string status, string? textStart = null)
    {
        Assert.Equal(action, decision.Action);
        var reply = Assert.IsType<SmtpReply>(decision.Reply);
        Assert.Equal(code, reply.Code);
        Assert.Equal(status, reply.Status?.ToString());
        if (textStart is not null)
        {
            Assert.StartsWith(textStart, reply.Text, StringComparison.Ordinal);
        }
    }
}

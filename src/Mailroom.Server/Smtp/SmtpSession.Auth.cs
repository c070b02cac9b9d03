using System.Buffers;
using System.Text;
using Mailroom.Protocol;
using Mailroom.Server.Sasl;
using Microsoft.Extensions.Logging;

namespace Mailroom.Server.Smtp;

/// <summary>SMTP AUTH (RFC 4954): offered and accepted only under TLS, on listeners configured for it.</summary>
internal sealed partial class SmtpSession
{
    // The authenticated user (normalised address), null before a successful AUTH.
    private string? _authenticatedUser;

    /// <summary>True when this listener offers AUTH at all (it is then advertised under TLS only).</summary>
    private bool OffersAuthentication => _listener.Authentication && _server.Authenticator is not null;

    private async ValueTask<bool> AuthAsync(CommandLine command)
    {
        if (!OffersAuthentication)
        {
            Reply(_listener.RequiresAuthentication && _tls is null ? SmtpReplies.TlsRequired : SmtpServerReplies.AuthNotEnabled);
            return true;
        }

        if (_tls is null)
        {
            // RFC 4954 §4 / RFC 8314: no credentials over plaintext.
            Reply(SmtpReplies.TlsRequired);
            return true;
        }

        if (_authenticatedUser is not null)
        {
            Reply(SmtpServerReplies.AlreadyAuthenticated);
            return true;
        }

        var arguments = Encoding.ASCII.GetString(command.Command.Arguments(_line.AsSpan(0, command.Length)));
        var space = arguments.IndexOf(' ', StringComparison.Ordinal);
        var name = space < 0 ? arguments : arguments[..space];
        var initial = space < 0 ? null : arguments[(space + 1)..];
        if (name.Length == 0 || initial is { Length: 0 } || initial?.Contains(' ', StringComparison.Ordinal) == true)
        {
            Reply(SmtpServerReplies.AuthSyntax);
            return true;
        }

        var mechanism = _server.Authenticator!.Create(name);
        if (mechanism is null)
        {
            Reply(SmtpServerReplies.AuthUnknownMechanism);
            return true;
        }

        var decision = _server.Guard.Check(_client.Address);
        if (decision.Verdict == GuardVerdict.LockedOut)
        {
            LogAuthLockedOut(Logger, _clientText, mechanism.Name, decision.Until);
            Reply(SmtpServerReplies.AuthLockedOut);
            return true;
        }

        if (decision.Verdict == GuardVerdict.Delay)
        {
            // An awaited delay on the server's clock: no thread is held while the client waits.
            LogAuthDelayed(Logger, _clientText, decision.Delay.TotalSeconds);
            await FlushAsync(_shutdown);
            await Task.Delay(decision.Delay, _server.TimeProvider, _shutdown);
        }

        SaslStep step;
        if (initial is null)
        {
            step = mechanism.Begin();
        }
        else if (initial == "=")
        {
            // RFC 4954 §4: "=" is an initial response of zero length.
            step = mechanism.Respond([]);
        }
        else if (TryDecodeBase64(initial) is { } decoded)
        {
            step = mechanism.Respond(decoded);
        }
        else
        {
            Reply(SmtpServerReplies.AuthCannotDecode);
            return true;
        }

        while (step.Outcome == SaslOutcome.Continue)
        {
            var (response, reply) = await ExchangeAsync(step.Data!);
            if (reply is not null)
            {
                LogAuthAborted(Logger, _clientText, mechanism.Name, reply.Text);
                Reply(reply);
                return true;
            }

            step = mechanism.Respond(response!);
        }

        if (step.Outcome == SaslOutcome.Success && step.Data is { } additional)
        {
            // RFC 4954 §4: additional data with success goes in a 334 challenge; the client answers with an empty line.
            var (response, reply) = await ExchangeAsync(additional);
            if (reply is not null)
            {
                LogAuthAborted(Logger, _clientText, mechanism.Name, reply.Text);
                Reply(reply);
                return true;
            }

            if (response!.Length != 0)
            {
                step = SaslStep.Failed("non-empty response to the server's final message", step.User);
            }
        }

        if (step.Outcome == SaslOutcome.Success)
        {
            _authenticatedUser = step.User;
            _policyContext.IsAuthenticated = true;
            LogAuthSucceeded(Logger, _clientText, mechanism.Name, step.User!);
            Reply(SmtpServerReplies.AuthSuccessful);
            return true;
        }

        var lockedOut = _server.Guard.RecordFailure(_client.Address);
        LogAuthFailed(Logger, _clientText, mechanism.Name, SaslAuthenticator.Printable(step.User ?? mechanism.ClaimedUser), step.Reason ?? "failed");
        if (lockedOut)
        {
            LogAuthLockoutStarted(Logger, _clientText, _server.Options.AuthenticationLimits.Lockout.TotalSeconds);
        }

        Reply(SmtpServerReplies.AuthFailed);
        return true;
    }

    /// <summary>Sends a 334 challenge and reads the client's response line; a reply instead when the client cancelled or sent garbage.</summary>
    private async ValueTask<(byte[]? Response, SmtpReply? Reply)> ExchangeAsync(byte[] challenge)
    {
        // 334 replies carry no enhanced status code (RFC 2034 §4).
        _output.Write(new SmtpReply(334, null, Convert.ToBase64String(challenge)).Wire);
        // RFC 4954 §4: a response line may be longer than a command (12288 octets); read it whole.
        var buffer = new byte[Limits.AuthLineLength];
        var (outcome, length) = await ReadLineAsync(buffer);
        if (outcome == LineOutcome.Closed)
        {
            throw new IOException("connection closed during AUTH");
        }

        if (outcome == LineOutcome.TooLong)
        {
            return (null, SmtpServerReplies.AuthLineTooLong);
        }

        var line = buffer.AsSpan(0, length).ToArray();

        if (line is [(byte)'*'])
        {
            // RFC 4954 §4: "*" cancels the exchange.
            return (null, SmtpServerReplies.AuthCancelled);
        }

        return TryDecodeBase64(Encoding.ASCII.GetString(line)) is { } decoded ? (decoded, null) : (null, SmtpServerReplies.AuthCannotDecode);
    }

    private static byte[]? TryDecodeBase64(string text)
    {
        var bytes = new byte[(text.Length / 4 * 3) + 3];
        return text.Length % 4 == 0 && Convert.TryFromBase64String(text, bytes, out var written) ? bytes[..written] : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Client}: AUTH {Mechanism} succeeded, sasl_username={User}")]
    private static partial void LogAuthSucceeded(ILogger logger, string client, string mechanism, string user);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Client}: AUTH {Mechanism} failed, sasl_username={User}: {Reason}")]
    private static partial void LogAuthFailed(ILogger logger, string client, string mechanism, string user, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Client}: AUTH {Mechanism} aborted: {Reply}")]
    private static partial void LogAuthAborted(ILogger logger, string client, string mechanism, string reply);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Client}: AUTH delayed {Seconds}s after repeated failures")]
    private static partial void LogAuthDelayed(ILogger logger, string client, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Client}: too many failed authentications, locked out for {Seconds}s")]
    private static partial void LogAuthLockoutStarted(ILogger logger, string client, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Client}: AUTH {Mechanism} refused: locked out until {Until}")]
    private static partial void LogAuthLockedOut(ILogger logger, string client, string mechanism, DateTimeOffset until);
}

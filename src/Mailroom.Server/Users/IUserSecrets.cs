namespace Mailroom.Server.Users;

/// <summary>Where SMTP AUTH looks up a user's SCRAM secret (the users file, or a table in tests).</summary>
public interface IUserSecrets
{
    /// <summary>The user's secret; null when there is no such user.</summary>
    ScramSecret? FindSecret(string address);
}

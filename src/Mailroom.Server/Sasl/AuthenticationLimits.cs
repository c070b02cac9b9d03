namespace Mailroom.Server.Sasl;

/// <summary>The numbers of the brute-force guard (<see cref="AuthenticationGuard"/>). Every default says where it comes from.</summary>
public sealed record AuthenticationLimits
{
    /// <summary>Failures are counted over this sliding window: fail2ban's findtime default, 10 minutes.</summary>
    public TimeSpan FailureWindow { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Failures in the window before each further attempt is slowed down: fail2ban's maxretry default, 5.</summary>
    public int FailuresBeforeDelay { get; init; } = 5;

    /// <summary>How long a slowed-down attempt waits before it is answered: Dovecot's auth_failure_delay, 2 seconds.</summary>
    public TimeSpan FailureDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Failures in the window that lock the address out: the project's choice, twice fail2ban's maxretry.</summary>
    public int FailuresBeforeLockout { get; init; } = 10;

    /// <summary>How long a locked-out address gets 454 to every AUTH: fail2ban's bantime default, 10 minutes.</summary>
    public TimeSpan Lockout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Client addresses remembered at most (bounds memory under a distributed attack): the project's choice.</summary>
    public int TrackedClients { get; init; } = 100_000;
}

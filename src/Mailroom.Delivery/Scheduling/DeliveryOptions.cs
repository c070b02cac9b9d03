namespace Mailroom.Delivery.Scheduling;

/// <summary>How the queue is worked: retries, lifetime, reports. Every default says where it comes from.</summary>
public sealed record DeliveryOptions
{
    /// <summary>Our name as Reporting-MTA and in MAILER-DAEMON@ of reports.</summary>
    public string Hostname { get; init; } = Environment.MachineName;

    /// <summary>The first retry after a temporary failure: Postfix minimal_backoff_time = 300s.</summary>
    public TimeSpan MinimalBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The longest wait between attempts. Postfix caps it at 4000 s, Exim's default retry rule grows
    /// to 6 h; 4 h sits between: few attempts against a long outage, none hours late after it.
    /// </summary>
    public TimeSpan MaximalBackoff { get; init; } = TimeSpan.FromHours(4);

    /// <summary>After this a still-pending recipient fails (Postfix maximal_queue_lifetime = 5d; RFC 5321 §4.5.4.1: 4-5 days).</summary>
    public TimeSpan QueueLifetime { get; init; } = TimeSpan.FromDays(5);

    /// <summary>When the sender is told that delivery is delayed (Postfix delay_warning_time; 4 h as the issue asks).</summary>
    public TimeSpan DelayWarning { get; init; } = TimeSpan.FromHours(4);

    /// <summary>
    /// Messages worked on at once. Cheap async work items, not processes: 20 keeps a slow
    /// destination from holding up the rest (Postfix's default_process_limit is 100).
    /// </summary>
    public int Concurrency { get; init; } = 20;
}

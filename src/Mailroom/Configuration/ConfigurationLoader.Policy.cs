using Mailroom.Server.Policy;
using Mailroom.Server.Smtp;

namespace Mailroom.Configuration;

/// <summary>The [policy] section (docs/configuration.md "[policy]"), kept apart so other sections merge cleanly.</summary>
internal static partial class ConfigurationLoader
{
    private sealed partial class Binder
    {
        private static readonly string[] s_policyKeys =
        [
            "listeners", "apply_to_authenticated", "reject_unknown_sender_domain", "reverse_dns", "check_helo", "helo_our_names",
            "dnsbl", "greylisting", "greylist_delay", "greylist_retry_window", "greylist_max_age", "greylist_auto_whitelist",
            "harvest_tarpit_after", "harvest_disconnect_after", "harvest_tarpit_step", "harvest_tarpit_max", "harvest_window", "harvest_cooldown",
            "connections_per_client", "connection_rate_per_minute", "messages_per_client_per_hour", "recipients_per_client_per_hour",
            "pregreet_wait",
        ];

        private PolicyOptions Policy(TomlTable table)
        {
            Keys(table, "policy", s_policyKeys);
            var options = PolicyOptions.Default;
            var limits = PolicyLimits.Default;
            foreach (var entry in table.Entries)
            {
                var key = "policy." + entry.Key;
                switch (entry.Key)
                {
                    case "listeners":
                        options = options with { Roles = new HashSet<SmtpListenerRole>(StringList(entry, key, Role).Select(role => role!.Value)) };
                        break;
                    case "apply_to_authenticated" when Boolean(entry, key) is { } value:
                        options = options with { ApplyToAuthenticated = value };
                        break;
                    case "reject_unknown_sender_domain" when Boolean(entry, key) is { } value:
                        options = options with { RejectUnknownSenderDomain = value };
                        break;
                    case "check_helo" when Boolean(entry, key) is { } value:
                        options = options with { CheckHelo = value };
                        break;
                    case "greylisting" when Boolean(entry, key) is { } value:
                        options = options with { Greylisting = value };
                        break;
                    case "reverse_dns" when String(entry, key) is { } mode:
                        switch (mode)
                        {
                            case "record":
                                options = options with { ReverseDns = ReverseDnsMode.Record };
                                break;
                            case "require_ptr":
                                options = options with { ReverseDns = ReverseDnsMode.RequirePtr };
                                break;
                            case "require_confirmed":
                                options = options with { ReverseDns = ReverseDnsMode.RequireConfirmed };
                                break;
                            default:
                                Error(entry.Value, key, $"expected \"record\", \"require_ptr\" or \"require_confirmed\", got {entry.Value.Describe()}");
                                break;
                        }

                        break;
                    case "helo_our_names":
                        options = options with { OurNames = [.. StringList(entry, key, Domain).Distinct()] };
                        break;
                    case "dnsbl":
                        options = options with { DnsblZones = [.. StringList(entry, key, Domain).Distinct()] };
                        break;
                    case "greylist_delay" when Seconds(entry, key, allowZero: true) is { } value:
                        limits = limits with { GreylistDelay = value };
                        break;
                    case "greylist_retry_window" when Seconds(entry, key) is { } value:
                        limits = limits with { GreylistRetryWindow = value };
                        break;
                    case "greylist_max_age" when Seconds(entry, key) is { } value:
                        limits = limits with { GreylistMaxAge = value };
                        break;
                    case "greylist_auto_whitelist" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { GreylistAutoWhitelistAfter = (int)value };
                        break;
                    case "harvest_tarpit_after" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { HarvestTarpitAfter = (int)value };
                        break;
                    case "harvest_disconnect_after" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { HarvestDisconnectAfter = (int)value };
                        break;
                    case "harvest_tarpit_step" when Seconds(entry, key, allowZero: true) is { } value:
                        limits = limits with { HarvestTarpitStep = value };
                        break;
                    case "harvest_tarpit_max" when Seconds(entry, key, allowZero: true) is { } value:
                        limits = limits with { HarvestTarpitMax = value };
                        break;
                    case "harvest_window" when Seconds(entry, key) is { } value:
                        limits = limits with { HarvestWindow = value };
                        break;
                    case "harvest_cooldown" when Seconds(entry, key, allowZero: true) is { } value:
                        limits = limits with { HarvestCooldown = value };
                        break;
                    case "connections_per_client" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { ConnectionsPerClient = (int)value };
                        break;
                    case "connection_rate_per_minute" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { ConnectionRatePerMinute = (int)value };
                        break;
                    case "messages_per_client_per_hour" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { MessagesPerClientPerHour = (int)value };
                        break;
                    case "recipients_per_client_per_hour" when Integer(entry, key, 0, int.MaxValue) is { } value:
                        limits = limits with { RecipientsPerClientPerHour = (int)value };
                        break;
                    case "pregreet_wait" when Seconds(entry, key, allowZero: true) is { } value:
                        limits = limits with { PregreetWait = value };
                        break;
                }
            }

            if (limits.HarvestTarpitAfter > 0 && limits.HarvestDisconnectAfter > 0 && limits.HarvestTarpitAfter >= limits.HarvestDisconnectAfter)
            {
                Error(table, "policy.harvest_tarpit_after", $"must be below harvest_disconnect_after ({limits.HarvestDisconnectAfter}), got {limits.HarvestTarpitAfter}");
            }

            return options with { Limits = limits };
        }

        private SmtpListenerRole? Role(TomlNode node, string key, string text)
        {
            SmtpListenerRole? role = text switch
            {
                "smtp" => SmtpListenerRole.Smtp,
                "submission" => SmtpListenerRole.Submission,
                "submissions" => SmtpListenerRole.Submissions,
                _ => null,
            };
            if (role is null)
            {
                Error(node, key, $"expected \"smtp\", \"submission\" or \"submissions\", got {TomlScalar.Quote(text)}");
            }

            return role;
        }

        /// <summary>A duration in seconds: an integer, or a float for fractions (tests use 0.2).</summary>
        private TimeSpan? Seconds(TomlEntry entry, string key, bool allowZero = false)
        {
            double? seconds = entry.Value switch
            {
                TomlScalar { Value: long whole } => whole,
                TomlScalar { Value: double fraction } when double.IsFinite(fraction) => fraction,
                _ => null,
            };
            if (seconds is { } value && (allowZero ? value >= 0 : value > 0) && value <= TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return TimeSpan.FromSeconds(value);
            }

            Error(entry.Value, key, $"expected {(allowZero ? "a number of seconds, 0 or more" : "a positive number of seconds")}, got {entry.Value.Describe()}");
            return null;
        }
    }
}

using Mailroom.Authentication.Dkim;
using Mailroom.Server.Cleanup;
using Mailroom.Server.Users;

namespace Mailroom.Configuration;

/// <summary>The [[dkim]] keys and the [authentication] section.</summary>
internal static partial class ConfigurationLoader
{
    private sealed partial class Binder
    {
        private List<DkimSigningKey> DkimKeys(TomlEntry entry)
        {
            var keys = new List<DkimSigningKey>();
            if (entry.Value is not TomlArray array || array.Items.Any(item => item is not TomlTable))
            {
                Error(entry.Value, "dkim", $"expected [[dkim]] tables, got {entry.Value.Describe()}");
                return keys;
            }

            foreach (var table in array.Items.Cast<TomlTable>())
            {
                Keys(table, "dkim", "domain", "selector", "private_key");
                string? domain = null;
                string? selector = null;
                string? path = null;
                if (Required(table, "dkim", "domain") is { } domainEntry && String(domainEntry, "dkim.domain") is { } text)
                {
                    domain = Domain(domainEntry.Value, "dkim.domain", text);
                }

                if (Required(table, "dkim", "selector") is { } selectorEntry && String(selectorEntry, "dkim.selector") is { } name)
                {
                    // RFC 6376 §3.1: a selector is one or more DNS labels.
                    if (AddressSyntax.TryNormalizeDomain(name, out var normalized))
                    {
                        selector = normalized;
                    }
                    else
                    {
                        Error(selectorEntry.Value, "dkim.selector", $"expected a DNS label, got \"{name}\"");
                    }
                }

                if (Required(table, "dkim", "private_key") is { } keyEntry)
                {
                    path = ExistingFile(keyEntry, "dkim.private_key");
                }

                if (domain is not null && selector is not null && path is not null)
                {
                    if (keys.Any(key => key.Domain == domain && key.Selector == selector))
                    {
                        Error(table, "dkim", $"the key {selector}._domainkey.{domain} is configured twice");
                    }

                    keys.Add(new DkimSigningKey(domain, selector, path));
                }
            }

            return keys;
        }

        private AuthenticationConfiguration Authentication(TomlTable table)
        {
            Keys(table, "authentication", "spf_fail", "verify_inbound", "public_suffix_list");
            var authentication = new AuthenticationConfiguration();
            foreach (var entry in table.Entries)
            {
                var key = "authentication." + entry.Key;
                switch (entry.Key)
                {
                    case "spf_fail" when String(entry, key) is { } action:
                        SpfFailAction? parsed = action switch
                        {
                            "reject" => SpfFailAction.Reject,
                            "mark" => SpfFailAction.Mark,
                            "off" => SpfFailAction.Off,
                            _ => null,
                        };
                        if (parsed is null)
                        {
                            Error(entry.Value, key, $"expected \"reject\", \"mark\" or \"off\", got {entry.Value.Describe()}");
                        }
                        else
                        {
                            authentication = authentication with { SpfFail = parsed.Value };
                        }

                        break;
                    case "verify_inbound" when Boolean(entry, key) is { } verify:
                        authentication = authentication with { VerifyInbound = verify };
                        break;
                    case "public_suffix_list":
                        authentication = authentication with { PublicSuffixList = ExistingFile(entry, key) };
                        break;
                }
            }

            return authentication;
        }
    }
}

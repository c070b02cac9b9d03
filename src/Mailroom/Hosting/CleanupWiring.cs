using Mailroom.Authentication.Dkim;
using Mailroom.Authentication.Dmarc;
using Mailroom.Authentication.Spf;
using Mailroom.Configuration;
using Mailroom.Dns;
using Mailroom.Server.Cleanup;
using Microsoft.Extensions.Logging;

namespace Mailroom.Hosting;

/// <summary>Builds the cleanup service (SPF, DKIM, DMARC, signing) from the configuration.</summary>
internal static class CleanupWiring
{
    public static MessageCleanup Create(MailroomConfiguration configuration, IDnsResolver resolver, ILoggerFactory loggerFactory)
    {
        DkimSigning? signing = null;
        if (configuration.DkimKeys.Count > 0)
        {
            signing = DkimSigning.Load(configuration.DkimKeys, out var errors);
            if (errors.Count > 0)
            {
            // config check saw the files; a key that cannot be read is a start-up error, not a silent unsigned mail.
                throw new InvalidOperationException("DKIM keys could not be loaded: " + string.Join("; ", errors));
            }
        }

        var suffixes = configuration.Authentication.PublicSuffixList is { } path ? PublicSuffixList.Load(path) : PublicSuffixList.Embedded;
        return new MessageCleanup(
            new CleanupOptions
            {
                Hostname = configuration.Hostname,
                SpfFail = configuration.Authentication.SpfFail,
                VerifyInbound = configuration.Authentication.VerifyInbound,
            },
            new SpfEvaluator(resolver, TimeProvider.System, new SpfOptions { ReceivingHost = configuration.Hostname }),
            new DkimVerification(resolver, TimeProvider.System),
            new DmarcEvaluator(resolver, suffixes, Random.Shared),
            signing,
            loggerFactory.CreateLogger<MessageCleanup>());
    }
}

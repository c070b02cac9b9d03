using System.Text;
using System.Text.RegularExpressions;
using Mailroom.Authentication.Dkim;
using Mailroom.Configuration;

namespace Mailroom.Cli;

/// <summary>
/// `mailroom dkim keygen --domain D --selector S [--algorithm rsa|ed25519] [--config FILE]`: writes a
/// new private key to {data_dir}/dkim/{domain}/{selector}.key (PEM, mode 0600; an existing key is never
/// overwritten) and prints the TXT record to publish and the [[dkim]] lines to add.
/// </summary>
internal static partial class DkimCommand
{
    public const string Usage = "dkim keygen --domain D --selector S [--algorithm rsa|ed25519]";

    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (args is not ["keygen", ..])
        {
            return Fail(stderr, $"usage: mailroom {Usage} [--config FILE]", CommandLine.Usage);
        }

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var (name, value) = equals > 0 ? (arg[..equals], arg[(equals + 1)..]) : (arg, i + 1 < args.Length ? args[++i] : null);
            if (name is not ("--domain" or "--selector" or "--algorithm" or "--config") || value is null)
            {
                return Fail(stderr, value is null ? $"{name} needs a value" : $"unknown option {name}", CommandLine.Usage);
            }

            options[name] = value;
        }

        var domain = options.GetValueOrDefault("--domain")?.TrimEnd('.').ToLowerInvariant();
        var selector = options.GetValueOrDefault("--selector");
        if (domain is null || !DomainPattern().IsMatch(domain) || selector is null || !SelectorPattern().IsMatch(selector))
        {
            return Fail(stderr, "--domain and --selector are required: a domain name and a selector (letters, digits, hyphens, dots)", CommandLine.Usage);
        }

        DkimKeyAlgorithm algorithm;
        switch (options.GetValueOrDefault("--algorithm", "rsa").ToLowerInvariant())
        {
            case "rsa":
                algorithm = DkimKeyAlgorithm.Rsa;
                break;
            case "ed25519":
                algorithm = DkimKeyAlgorithm.Ed25519;
                break;
            default:
                return Fail(stderr, "--algorithm is rsa or ed25519", CommandLine.Usage);
        }

        var configPath = options.GetValueOrDefault("--config") ?? (Environment.GetEnvironmentVariable("MAILROOM_CONFIG") is { Length: > 0 } fromEnvironment ? fromEnvironment : null);
        var loaded = ConfigurationLoader.Load(configPath);
        foreach (var error in loaded.Errors)
        {
            await stderr.WriteLineAsync(error.ToString().AsMemory(), cancellationToken);
        }

        if (loaded.Configuration is not { } configuration)
        {
            return CommandLine.Failure;
        }

        var folder = Path.Combine(configuration.DataDirectory, "dkim", domain);
        var path = Path.Combine(folder, selector + ".key");
        var key = DkimKeyGenerator.Generate(algorithm);
        try
        {
            Directory.CreateDirectory(Path.Combine(configuration.DataDirectory, "dkim"), OwnerOnlyFolder);
            Directory.CreateDirectory(folder, OwnerOnlyFolder);
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile };
            await using (var file = new FileStream(path, create))
            {
                await file.WriteAsync(Encoding.ASCII.GetBytes(key.PrivateKeyPem), cancellationToken);
                file.Flush(flushToDisk: true);
            }
        }
        catch (IOException) when (File.Exists(path))
        {
            return Fail(stderr, $"{path} exists: choose another selector (a published key is never overwritten)", CommandLine.Failure);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return Fail(stderr, $"{path}: {error.Message}", CommandLine.Failure);
        }

        var text = new StringBuilder()
            .AppendLine($"wrote {path}")
            .AppendLine()
            .AppendLine("publish this TXT record:")
            .AppendLine(DkimKeyGenerator.ZoneLine(selector, domain, key.KeyRecord))
            .AppendLine()
            .AppendLine("add to the configuration:")
            .AppendLine("[[dkim]]")
            .AppendLine($"domain = \"{domain}\"")
            .AppendLine($"selector = \"{selector}\"")
            .AppendLine($"private_key = \"{path}\"");
        await stdout.WriteAsync(text.ToString().AsMemory(), cancellationToken);
        return CommandLine.Success;
    }

    private static int Fail(TextWriter stderr, string message, int code)
    {
        stderr.WriteLine($"mailroom: {message}");
        return code;
    }

    [GeneratedRegex(@"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    private static partial Regex DomainPattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
    private static partial Regex SelectorPattern();
}

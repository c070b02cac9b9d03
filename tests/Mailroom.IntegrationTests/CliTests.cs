using System.Text.RegularExpressions;
using Mailroom.IntegrationTests.Infrastructure;

namespace Mailroom.IntegrationTests;

/// <summary>The commands besides serve, run as the executable.</summary>
public sealed partial class CliTests
{
    [Fact]
    public async Task ConfigCheckReportsEveryErrorWithFileLineAndKey()
    {
        var folder = Directory.CreateTempSubdirectory("mailroom-it-").FullName;
        try
        {
            var config = Path.Combine(folder, "mailroom.toml");
            await File.WriteAllTextAsync(config, """
                hostnme = "mx.example.test"
                data_dir = "relative/path"

                [limits]
                message_size = "ten"
                """);

            var result = await MailroomProcess.RunMailroomAsync(null, "config", "check", "--config", config);

            Assert.True(result.ExitCode == 1, result.ToString());
            var lines = (result.StandardOutput + result.StandardError).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var errors = lines.Select(line => ErrorLine().Match(line)).Where(match => match.Success).ToList();
            Assert.True(errors.Count >= 3, result.ToString());
            Assert.All(errors, error => Assert.EndsWith("mailroom.toml", error.Groups["file"].Value, StringComparison.Ordinal));
            Assert.Contains(errors, error => error.Groups["line"].Value == "1" && error.Groups["key"].Value == "hostnme");
            Assert.Contains(errors, error => error.Groups["line"].Value == "2" && error.Groups["key"].Value == "data_dir");
            Assert.Contains(errors, error => error.Groups["line"].Value == "5" && error.Groups["key"].Value == "limits.message_size");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task VersionPrintsTheVersion()
    {
        var result = await MailroomProcess.RunMailroomAsync(null, "version");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^mailroom \d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?\n$", result.StandardOutput);
    }

    [GeneratedRegex(@"^(?<file>[^:]+):(?<line>\d+): (?<key>[A-Za-z0-9_.\[\]""@-]+): (?<message>.+)$")]
    private static partial Regex ErrorLine();
}

using System.Diagnostics.CodeAnalysis;

namespace Mailroom.Configuration;

/// <summary>One problem in the configuration file.</summary>
/// <param name="File">The file as it was named.</param>
/// <param name="Line">1-based line; 0 when the problem is the file as a whole.</param>
/// <param name="Key">Dotted key ("limits.message_size"); empty for a syntax error or the file as a whole.</param>
internal sealed record ConfigurationError(string File, int Line, string Key, string Message)
{
    public override string ToString()
    {
        var location = Line > 0 ? $"{File}:{Line}" : File;
        return Key.Length > 0 ? $"{location}: {Key}: {Message}" : $"{location}: {Message}";
    }
}

/// <summary>Either the configuration or every error found.</summary>
internal sealed class ConfigurationLoadResult
{
    private ConfigurationLoadResult(MailroomConfiguration? configuration, IReadOnlyList<ConfigurationError> errors)
    {
        Configuration = configuration;
        Errors = errors;
    }

    public MailroomConfiguration? Configuration { get; }

    public IReadOnlyList<ConfigurationError> Errors { get; }

    [MemberNotNullWhen(true, nameof(Configuration))]
    public bool IsValid => Configuration is not null;

    public static ConfigurationLoadResult Success(MailroomConfiguration configuration) => new(configuration, []);

    public static ConfigurationLoadResult Failure(IReadOnlyList<ConfigurationError> errors) => new(null, errors);
}

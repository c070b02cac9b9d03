namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>Where the repository, the built <c>mailroom</c> executable and the shared test data are.</summary>
internal static class Paths
{
    // The test assembly's folder, without the trailing separator AppContext.BaseDirectory carries.
    private static DirectoryInfo BaseDirectory => new(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));

    /// <summary>The repository root: the first folder above the test assembly that holds Mailroom.slnx.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>
    /// The configuration the tests were built with ("Release", "Debug"): the folder above the target
    /// framework folder of the test assembly (tests/Mailroom.IntegrationTests/bin/{Configuration}/net10.0/).
    /// </summary>
    public static string Configuration { get; } =
        BaseDirectory.Parent?.Name
        ?? throw new InvalidOperationException("no configuration folder above " + AppContext.BaseDirectory);

    /// <summary>src/Mailroom/bin/{Configuration}/net10.0/mailroom.dll, built with the same configuration as the tests.</summary>
    public static string MailroomDll
    {
        get
        {
            var targetFramework = BaseDirectory.Name;
            var path = Path.Combine(RepositoryRoot, "src", "Mailroom", "bin", Configuration, targetFramework, "mailroom.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"mailroom.dll not built: {path} (dotnet build -c {Configuration})", path);
        }
    }

    /// <summary>A file under tests/testdata.</summary>
    public static string TestData(params string[] parts) => Path.Combine([RepositoryRoot, "tests", "testdata", .. parts]);

    private static string FindRoot()
    {
        var directory = BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Mailroom.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new DirectoryNotFoundException("Mailroom.slnx not found above " + AppContext.BaseDirectory);
    }
}

namespace Mailroom.Tests.Shared;

internal static class TestData
{
    /// <summary>A file under tests/testdata, found from the test assembly's folder upwards.</summary>
    public static string Path(params string[] parts)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !Directory.Exists(System.IO.Path.Combine(directory.FullName, "tests", "testdata")))
        {
            directory = directory.Parent;
        }

        if (directory is null)
        {
            throw new DirectoryNotFoundException("tests/testdata not found above " + AppContext.BaseDirectory);
        }

        return System.IO.Path.Combine([directory.FullName, "tests", "testdata", .. parts]);
    }
}

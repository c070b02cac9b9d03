using System.Runtime.InteropServices;

namespace Mailroom.Delivery.Local;

/// <summary>
/// fsync(2) of a directory, so that a file created, renamed or linked inside it survives a crash.
/// .NET has no API for a directory fsync (FileStream and File.OpenHandle refuse directories), so
/// this calls libc directly: open(O_RDONLY|O_DIRECTORY), fsync, close.
/// </summary>
internal static partial class DirectorySync
{
    private const int ERRNO_EINTR = 4;

    // EINVAL: the file system cannot sync a directory (some FUSE and network file systems);
    // the rename is as durable as that file system can make it, so this is not an error.
    private const int ERRNO_EINVAL = 22;

    /// <summary>Flushes the directory's entries to disk. Throws <see cref="IOException"/> on failure.</summary>
    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            // NTFS journals directory metadata; there is no directory fsync to call.
            return;
        }

        int fd;
        do
        {
            fd = open(directory, O_RDONLY | ODirectory());
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == ERRNO_EINTR);
        if (fd < 0)
        {
            throw ErrorFor("open", directory, Marshal.GetLastPInvokeError());
        }

        try
        {
            if (fsync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != ERRNO_EINVAL)
                {
                    throw ErrorFor("fsync", directory, errno);
                }
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    private const int O_RDONLY = 0;

    // O_DIRECTORY differs between platforms: Linux's generic value, Linux on ARM, macOS.
    private static int ODirectory() =>
        OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 0x100000
        : RuntimeInformation.OSArchitecture is Architecture.Arm or Architecture.Arm64 ? 0x4000
        : 0x10000;

    private static IOException ErrorFor(string call, string directory, int errno) =>
        new($"{call}({directory}) failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}

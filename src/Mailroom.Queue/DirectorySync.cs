using System.Runtime.InteropServices;

namespace Mailroom.Queue;

/// <summary>
/// fsync(2) of a directory, which makes the names in it durable: a file created or renamed into
/// it, or unlinked from it, survives a crash only once the directory is synced (POSIX; ext4 and
/// XFS need it).
/// </summary>
/// <remarks>
/// Hand-written because .NET has no API for it: <c>File.OpenHandle</c> and <c>FileStream</c>
/// refuse to open a directory on Unix, and <c>Directory</c> has no flush. So this calls libc's
/// open, fsync and close directly.
/// </remarks>
public static partial class DirectorySync
{
    private const int OReadOnly = 0;
    private const int EIntr = 4; // the same number on Linux, macOS and the BSDs

    // EINVAL from fsync: the file system cannot sync a directory (some FUSE and network file
    // systems); the rename is as durable as that file system can make it, so this is not an error.
    private const int EInval = 22;

    /// <summary>Syncs the directory at <paramref name="path"/>; throws IOException when the system reports an error.</summary>
    public static void Sync(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            // NTFS journals its metadata, and Windows offers no flush for a directory handle.
            return;
        }

        int fd;
        do
        {
            fd = Open(path, OReadOnly | ODirectory() | CloseOnExec());
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == EIntr);

        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            int result;
            do
            {
                result = FSync(fd);
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == EIntr);

            if (result < 0 && Marshal.GetLastPInvokeError() != EInval)
            {
                throw Error("fsync", path);
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    // O_DIRECTORY, so that a path that is not a directory fails: its value differs between platforms.
    private static int ODirectory() =>
        OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 0x100000
        : RuntimeInformation.OSArchitecture is Architecture.Arm or Architecture.Arm64 ? 0x4000
        : 0x10000;

    // O_CLOEXEC, so a child process started meanwhile does not inherit the descriptor.
    private static int CloseOnExec() =>
        OperatingSystem.IsLinux() ? 0x80000
        : OperatingSystem.IsMacOS() ? 0x1000000
        : OperatingSystem.IsFreeBSD() ? 0x100000
        : 0;

    private static IOException Error(string call, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} of the directory '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}

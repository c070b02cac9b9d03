using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Mailroom.Queue;

/// <summary>
/// syncfs(2) of the file system that holds the spool (Linux): one call writes out and waits for all
/// dirty data and metadata of that file system (file contents, inodes, directory entries) and
/// flushes the disk's cache, so one call makes every message written, renamed or unlinked before it
/// durable. Errors: since Linux 5.8 syncfs reports write-back errors that happened on the file
/// system since the descriptor was opened or last synced (an error may come from another file
/// there: the caller then answers 451 and the client retries, which is safe).
/// </summary>
internal sealed partial class FileSystemSync : IDisposable
{
    private const int EIntr = 4;
    private readonly SafeFileHandle _handle;
    private readonly string _path;

    private FileSystemSync(SafeFileHandle handle, string path)
    {
        _handle = handle;
        _path = path;
    }

    /// <summary>
    /// Opens the folder and tries one syncfs; null when this system has none or it fails (not Linux,
    /// a kernel older than 5.8, whose syncfs cannot report errors, or a file system that refuses it):
    /// the store then fsyncs each file and its folder.
    /// </summary>
    public static FileSystemSync? TryOpen(string path)
    {
        if (!OperatingSystem.IsLinux() || Environment.OSVersion.Version < new Version(5, 8))
        {
            return null;
        }

        int fd = Open(path, DirectoryFlags());
        if (fd < 0)
        {
            return null;
        }

        var sync = new FileSystemSync(new SafeFileHandle(fd, ownsHandle: true), path);
        try
        {
            sync.Sync();
            return sync;
        }
        catch (IOException)
        {
            sync.Dispose();
            return null;
        }
    }

    /// <summary>Blocks until everything written to the file system before this call is on disk; IOException on an error.</summary>
    public void Sync()
    {
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            int result;
            do
            {
                result = SyncFs((int)_handle.DangerousGetHandle());
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == EIntr);

            if (result < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"syncfs of the file system of '{_path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).");
            }
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    public void Dispose() => _handle.Dispose();

    // O_RDONLY | O_DIRECTORY | O_CLOEXEC on Linux (O_DIRECTORY differs on arm).
    private static int DirectoryFlags() =>
        (RuntimeInformation.OSArchitecture is Architecture.Arm or Architecture.Arm64 ? 0x4000 : 0x10000) | 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);
}

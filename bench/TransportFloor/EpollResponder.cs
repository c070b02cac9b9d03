using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Mailroom.TransportFloor;

/// <summary>
/// The responder on an event loop of its own: each loop thread has an epoll instance, takes new
/// connections from the shared listening socket (EPOLLEXCLUSIVE: one loop is woken per
/// connection) and serves its connections' readiness events itself, with no hand-off to another
/// thread. Written by hand because .NET offers no way to run socket completions on a loop of one's
/// own; this is the experiment the sixth pass proposes for Mailroom.
/// </summary>
internal static unsafe partial class EpollResponder
{
    private const uint EpollIn = 0x001;
    private const uint EpollExclusive = 1u << 28;
    private const uint EpollEdgeTriggered = 1u << 31;
    private const int EpollCtlAdd = 1;
    private const int SockNonBlock = 0x800;
    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;
    private const int Again = 11;
    private const ulong ListenerToken = ulong.MaxValue;

    public static void Run(IPEndPoint endPoint, int loops)
    {
        using var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
        listener.Bind(endPoint);
        listener.Listen(512);
        var listenFd = (int)listener.SafeHandle.DangerousGetHandle();
        var threads = new Thread[loops];
        for (var i = 0; i < loops; i++)
        {
            threads[i] = new Thread(() => Loop(listenFd)) { Name = "transport-floor-loop" };
            threads[i].Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }
    }

    private static void Loop(int listenFd)
    {
        var epoll = EpollCreate1(0);
        var listen = new EpollEvent { Events = EpollIn | EpollExclusive, Data = ListenerToken };
        EpollCtl(epoll, EpollCtlAdd, listenFd, &listen);
        var sessions = new Dictionary<int, BareSmtp>();
        var events = stackalloc EpollEvent[64];
        while (true)
        {
            var ready = EpollWait(epoll, events, 64, -1);
            for (var i = 0; i < ready; i++)
            {
                if (events[i].Data == ListenerToken)
                {
                    AcceptAll(epoll, listenFd, sessions);
                }
                else
                {
                    var fd = (int)events[i].Data;
                    if (!Serve(fd, sessions[fd]))
                    {
                        sessions.Remove(fd);
                        _ = Close(fd);
                    }
                }
            }
        }
    }

    private static void AcceptAll(int epoll, int listenFd, Dictionary<int, BareSmtp> sessions)
    {
        while (Accept4(listenFd, IntPtr.Zero, IntPtr.Zero, SockNonBlock) is var fd && fd >= 0)
        {
            var one = 1;
            _ = SetSockOpt(fd, IpProtoTcp, TcpNoDelay, &one, sizeof(int));
            sessions[fd] = new BareSmtp();
            var interest = new EpollEvent { Events = EpollIn | EpollEdgeTriggered, Data = (ulong)fd };
            EpollCtl(epoll, EpollCtlAdd, fd, &interest);
            Send(fd, BareSmtp.Greeting);
        }
    }

    /// <summary>Reads until the socket has nothing more (edge-triggered), answering as it goes; false when the connection ends.</summary>
    private static bool Serve(int fd, BareSmtp session)
    {
        while (true)
        {
            nint read;
            fixed (byte* input = session.Input)
            {
                read = Recv(fd, input + session.Received, session.Input.Length - session.Received, 0);
            }

            if (read > 0)
            {
                session.Received += (int)read;
                var open = session.Process();
                if (session.ReplyLength > 0)
                {
                    Send(fd, session.Replies.Span);
                }

                if (!open)
                {
                    return false;
                }
            }
            else
            {
                return read < 0 && Marshal.GetLastPInvokeError() == Again;
            }
        }
    }

    // Replies are small and the peer reads them: a short send is not expected on loopback, and this responder only serves the benchmark.
    private static void Send(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* data = bytes)
        {
            _ = SendBytes(fd, data, bytes.Length, 0);
        }
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int operation, int fd, EpollEvent* interest);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, EpollEvent* events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    private static partial int Accept4(int fd, IntPtr address, IntPtr length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendBytes(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, int* value, int length);
}

using System.Net;
using System.Net.Sockets;

namespace Mailroom.TransportFloor;

/// <summary>The responder on .NET sockets: accept, then per connection await ReceiveAsync and SendAsync (the runtime's socket engine and thread pool), as Mailroom's sessions do.</summary>
internal static class NetResponder
{
    public static async Task RunAsync(IPEndPoint endPoint)
    {
        using var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(endPoint);
        listener.Listen(512);
        while (true)
        {
            var socket = await listener.AcceptAsync().ConfigureAwait(false);
            _ = ServeAsync(socket);
        }
    }

    private static async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            socket.NoDelay = true;
            var session = new BareSmtp();
            try
            {
                await socket.SendAsync(BareSmtp.Greeting).ConfigureAwait(false);
                var open = true;
                while (open)
                {
                    var read = await socket.ReceiveAsync(session.Input.AsMemory(session.Received)).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    session.Received += read;
                    open = session.Process();
                    if (session.ReplyLength > 0)
                    {
                        await socket.SendAsync(session.Replies).ConfigureAwait(false);
                    }
                }
            }
            catch (SocketException)
            {
                // The client went away.
            }
        }
    }
}

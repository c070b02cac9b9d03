using System.Globalization;
using System.Net;
using Mailroom.TransportFloor;

// transport-floor net|epoll ADDRESS:PORT [LOOPS]: serves until killed (bench/transport-floor.sh stops it by PID).
if (args.Length < 2 || !IPEndPoint.TryParse(args[1], out var endPoint) || !IPAddress.IsLoopback(endPoint.Address))
{
    Console.Error.WriteLine("usage: transport-floor net|epoll LOOPBACK-ADDRESS:PORT [LOOPS]");
    return 2;
}

var loops = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
switch (args[0])
{
    case "net":
        await NetResponder.RunAsync(endPoint);
        return 0;
    case "epoll":
        EpollResponder.Run(endPoint, loops);
        return 0;
    default:
        Console.Error.WriteLine($"unknown transport '{args[0]}': net or epoll");
        return 2;
}

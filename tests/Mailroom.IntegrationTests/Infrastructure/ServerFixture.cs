namespace Mailroom.IntegrationTests.Infrastructure;

/// <summary>One server with the user alice@example.test, shared by the tests of a class (they tell their messages apart by queue ID).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string Alice = "alice@example.test";

    private MailroomProcess? _server;

    internal MailroomProcess Server => _server ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _server = await MailroomProcess.StartAsync("", Alice);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

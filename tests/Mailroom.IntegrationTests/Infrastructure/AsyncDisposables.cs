namespace Mailroom.IntegrationTests.Infrastructure;

internal static class AsyncDisposables
{
    /// <summary>Disposes each resource that was created, in the order given (servers before the DNS they resolve through).</summary>
    public static async Task DisposeAllAsync(params IAsyncDisposable?[] resources)
    {
        foreach (var resource in resources)
        {
            if (resource is not null)
            {
                await resource.DisposeAsync();
            }
        }
    }
}

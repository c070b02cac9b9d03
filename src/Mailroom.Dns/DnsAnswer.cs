namespace Mailroom.Dns;

/// <summary>The outcome of one look-up. <see cref="Records"/> is empty unless <see cref="Status"/> is <see cref="DnsStatus.Ok"/>.</summary>
public sealed record DnsAnswer<T>(DnsStatus Status, IReadOnlyList<T> Records)
{
    public static DnsAnswer<T> NoRecords { get; } = new(DnsStatus.NoRecords, []);

    public static DnsAnswer<T> NameNotFound { get; } = new(DnsStatus.NameNotFound, []);

    public static DnsAnswer<T> TemporaryFailure { get; } = new(DnsStatus.TemporaryFailure, []);

    public static DnsAnswer<T> Ok(IReadOnlyList<T> records) => new(DnsStatus.Ok, records);
}

/// <summary>How a look-up ended.</summary>
public enum DnsStatus
{
    /// <summary>NOERROR with at least one record of the asked type.</summary>
    Ok,

    /// <summary>NOERROR without a record of the asked type ("NODATA", RFC 2308 §2.2): the name exists.</summary>
    NoRecords,

    /// <summary>NXDOMAIN (RCODE 3, RFC 1035 §4.1.1; RFC 2308 §2.1): the name does not exist.</summary>
    NameNotFound,

    /// <summary>SERVFAIL, REFUSED, any other error RCODE, a timeout or a network error: try again later.</summary>
    TemporaryFailure,
}

/// <summary>
/// One MX record (RFC 1035 §3.3.9). <see cref="Exchange"/> is lowercased, without the trailing dot;
/// a null MX (RFC 7505 §3: preference 0, exchange ".") has <see cref="Exchange"/> "".
/// </summary>
public sealed record MxRecord(ushort Preference, string Exchange)
{
    /// <summary>True for the RFC 7505 null MX target ".".</summary>
    public bool IsNullMx => Exchange.Length == 0;
}

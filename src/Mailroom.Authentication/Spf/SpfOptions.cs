namespace Mailroom.Authentication.Spf;

/// <summary>How check_host() behaves; the numbers are in <see cref="SpfLimits"/>.</summary>
public sealed class SpfOptions
{
    /// <summary>
    /// The explanation of a Fail when the record has no usable exp= (RFC 7208 §6.2); macros are
    /// expanded. The default is the one the RFC's examples and pyspf use.
    /// </summary>
    public string DefaultExplanation { get; init; } = "See https://www.open-spf.org/Why?id=%{S}&ip=%{C}&r=%{R}";

    /// <summary>Our host name, the %{r} macro (RFC 7208 §7.3: "unknown" when not given).</summary>
    public string ReceivingHost { get; init; } = "unknown";

    public SpfLimits Limits { get; init; } = new();
}

/// <summary>The processing limits of RFC 7208 §4.6.4.</summary>
public sealed class SpfLimits
{
    /// <summary>RFC 7208 §4.6.4: at most 10 mechanisms and modifiers that query DNS (include, a, mx, ptr, exists, redirect).</summary>
    public int DnsMechanisms { get; init; } = 10;

    /// <summary>RFC 7208 §4.6.4: "void lookups" SHOULD be limited to two.</summary>
    public int VoidLookups { get; init; } = 2;

    /// <summary>RFC 7208 §4.6.4: an mx mechanism with more than 10 MX records is a PermError.</summary>
    public int MxRecords { get; init; } = 10;

    /// <summary>RFC 7208 §4.6.4: at most 10 PTR names are checked; the rest are ignored.</summary>
    public int PtrRecords { get; init; } = 10;

    /// <summary>RFC 7208 §7.3: a domain-spec expanded beyond 253 characters is shortened from the left.</summary>
    public int DomainLength { get; init; } = 253;
}

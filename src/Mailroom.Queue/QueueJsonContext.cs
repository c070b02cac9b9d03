using System.Text.Json.Serialization;

namespace Mailroom.Queue;

/// <summary>
/// Source-generated System.Text.Json metadata for the spool's JSON (trimming-safe, no reflection).
/// Enums are written by name so a file stays readable and survives a reordering of enum members;
/// a null or missing required value makes a file unreadable (corrupt) rather than half-filled.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(Envelope))]
[JsonSerializable(typeof(RecipientUpdate))]
[JsonSerializable(typeof(DeliverySchedule))]
[JsonSerializable(typeof(MessageAnnotations))]
internal sealed partial class QueueJsonContext : JsonSerializerContext
{
}

using System.Net;
using YamlDotNet.RepresentationModel;

namespace Mailroom.Authentication.Tests.Spf;

/// <summary>
/// Reads the OpenSPF YAML suite (schema in tests/testdata/spf/openspf-rfc7208/PROVENANCE.md) into
/// scenarios of tests and zone data, and builds a <see cref="ZoneResolver"/> from a scenario the way
/// the reference runner (pyspf's testspf.py) serves it.
/// </summary>
internal sealed class SpfSuite
{
    public sealed record Test(
        string Scenario,
        string Id,
        string Helo,
        string Host,
        string MailFrom,
        IReadOnlyList<string> Results,
        string? Explanation);

    public sealed record Scenario(string Description, IReadOnlyList<Test> Tests, YamlMappingNode? ZoneData);

    private static readonly Dictionary<string, SpfSuite> s_loaded = [];

    public required IReadOnlyList<Scenario> Scenarios { get; init; }

    public static SpfSuite Load(params string[] path)
    {
        var key = string.Join('/', path);
        lock (s_loaded)
        {
            if (!s_loaded.TryGetValue(key, out var suite))
            {
                suite = Parse(TestData.Text(path));
                s_loaded[key] = suite;
            }

            return suite;
        }
    }

    public Test Find(string scenario, string id) =>
        Scenarios.Single(s => s.Description == scenario).Tests.Single(t => t.Id == id);

    public ZoneResolver ResolverFor(string scenario)
    {
        var resolver = new ZoneResolver();
        var zone = Scenarios.Single(s => s.Description == scenario).ZoneData;
        if (zone is null)
        {
            return resolver;
        }

        foreach (var (nameNode, recordsNode) in zone.Children)
        {
            var name = ((YamlScalarNode)nameNode).Value!;
            resolver.Touch(name);
            var records = ((YamlSequenceNode)recordsNode).Children;
            var hasTxt = records.Any(r => r is YamlMappingNode m && m.Children.Keys.Any(k => Scalar(k) == "TXT"));
            foreach (var record in records)
            {
                if (record is YamlScalarNode { Value: "TIMEOUT" })
                {
                    resolver.Add(name, new ZoneResolver.Timeout());
                    continue;
                }

                var (typeNode, valueNode) = ((YamlMappingNode)record).Children.Single();
                var type = Scalar(typeNode);
                switch (type)
                {
                    case "TXT":
                    case "SPF" when !hasTxt:
                        if (valueNode is YamlScalarNode { Value: "NONE" })
                        {
                            break;
                        }

                        var text = valueNode is YamlSequenceNode parts
                            ? string.Concat(parts.Children.Select(Scalar))
                            : Scalar(valueNode);
                        resolver.AddTxt(name, text);
                        break;
                    case "SPF":
                        break;
                    case "A":
                    case "AAAA":
                        resolver.Add(name, new ZoneResolver.Address(IPAddress.Parse(Scalar(valueNode))));
                        break;
                    case "MX":
                        var mx = (YamlSequenceNode)valueNode;
                        resolver.Add(name, new ZoneResolver.Mx(ushort.Parse(Scalar(mx.Children[0]), System.Globalization.CultureInfo.InvariantCulture), Scalar(mx.Children[1])));
                        break;
                    case "PTR":
                        resolver.Add(name, new ZoneResolver.Ptr(Scalar(valueNode)));
                        break;
                    case "CNAME":
                        resolver.Add(name, new ZoneResolver.Cname(Scalar(valueNode)));
                        break;
                    default:
                        throw new InvalidDataException($"unknown record type {type} at {name}");
                }
            }
        }

        return resolver;
    }

    private static string Scalar(YamlNode node) => ((YamlScalarNode)node).Value ?? "";

    private static SpfSuite Parse(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        var scenarios = new List<Scenario>();
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is not YamlMappingNode root || !root.Children.ContainsKey("tests"))
            {
                continue;
            }

            var description = Scalar(root["description"]);
            var tests = new List<Test>();
            foreach (var (idNode, testNode) in ((YamlMappingNode)root["tests"]).Children)
            {
                var test = (YamlMappingNode)testNode;
                string? Get(string key) => test.Children.TryGetValue(key, out var value) ? Scalar(value) : null;
                var resultNode = test["result"];
                IReadOnlyList<string> results = resultNode is YamlSequenceNode list
                    ? [.. list.Children.Select(Scalar)]
                    : [Scalar(resultNode)];
                tests.Add(new Test(description, Scalar(idNode), Get("helo") ?? "", Get("host")!, Get("mailfrom") ?? "", results, Get("explanation")));
            }

            var zone = root.Children.TryGetValue("zonedata", out var zoneNode) ? zoneNode as YamlMappingNode : null;
            scenarios.Add(new Scenario(description, tests, zone));
        }

        return new SpfSuite { Scenarios = scenarios };
    }
}

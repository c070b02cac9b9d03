using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Mailroom.Benchmarks.CommandPathBenchmarks).Assembly).Run(args);

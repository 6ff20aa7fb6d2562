import ArgumentParser

/// `troupe`: the operator's command-line tool (docs/operations.md, "The `troupe` tool").
@main
struct Troupe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "troupe",
        abstract: "Inspect and operate a running Troupe suite through its NATS server.",
        subcommands: [Bench.self, Check.self, DLQ.self, Streams.self, Trace.self])
}

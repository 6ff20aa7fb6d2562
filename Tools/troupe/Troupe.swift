import ArgumentParser
import Messaging

/// `troupe`: the operator's command-line tool (docs/operations.md, "The `troupe` tool").
@main
struct Troupe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "troupe",
        abstract: "Inspect and operate a running Troupe suite through its NATS server.",
        subcommands: [Bench.self, Check.self, DLQ.self, Streams.self, Trace.self])

    /// ArgumentParser's own `main`, with nats.c released before the process exits (see
    /// `NATSLibrary.closeAndWait`): a command over TLS could otherwise crash on its way out.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            await NATSLibrary.closeAndWait()
            exit(withError: error)
        }
        await NATSLibrary.closeAndWait()
    }
}

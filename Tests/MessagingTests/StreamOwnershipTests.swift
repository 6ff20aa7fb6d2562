import Messaging
import TestSupport
import Testing

/// Issue 10.5: a service creates and widens only its own stream, creates the shared one when
/// missing, only reads the others, and never cuts a configuration an operator chose.
@Suite("What a service may do to a stream", .serialized, .timeLimit(.minutes(1)))
struct StreamOwnershipTests {
    static let contract = StreamConfiguration(name: "TEST", subjects: ["test.>"])

    @Test func anotherProducersMissingStreamIsWaitedForNotCreated() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                await #expect { try await nats.ensureStream(Self.contract, ownership: .others) } throws: {
                    ($0 as? NATSError)?.code == .streamMissing
                }
                await #expect(throws: NATSError.self, "nothing was created") {
                    try await nats.streamState("TEST")
                }
                #expect(try await nats.ensureStream(Self.contract, ownership: .shared) == .created)
                #expect(try await nats.ensureStream(Self.contract, ownership: .others) == .unchanged)
            }
        }
    }

    @Test func anOperatorsLongerRetentionAndLimitsAreKept() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                // The operator's choice: 30 days, at most a million messages.
                var operators = Self.contract
                operators.maxAge = .seconds(30 * 24 * 3600)
                operators.maxMessages = 1_000_000
                #expect(try await nats.ensureStream(operators) == .created)
                for ownership in [StreamOwnership.own, .shared, .others] {
                    #expect(
                        try await nats.ensureStream(Self.contract, ownership: ownership)
                            == .differs(updated: [], kept: ["maxAge", "maxMessages"]))
                }
                // Nothing was cut: the operator's configuration is still what the server has.
                #expect(try await nats.ensureStream(operators, ownership: .others) == .unchanged)
            }
        }
    }

    @Test func onlyTheOwnerAddsASubjectTheContractNeeds() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                var older = Self.contract
                older.subjects = ["test.placed.>"]
                try await nats.ensureStream(older)
                var wanted = Self.contract
                wanted.subjects = ["test.placed.>", "test.cancelled.>"]
                for ownership in [StreamOwnership.shared, .others] {
                    await #expect { try await nats.ensureStream(wanted, ownership: ownership) } throws: {
                        ($0 as? NATSError)?.code == .configurationConflict
                    }
                }
                #expect(
                    try await nats.ensureStream(wanted, ownership: .own) == .differs(updated: ["subjects"], kept: []))
                #expect(try await nats.ensureStream(wanted, ownership: .others) == .unchanged)
            }
        }
    }
}

import Messaging
import TestSupport
import Testing

@Suite("Streams and consumers are ensured from their definitions", .serialized, .timeLimit(.minutes(1)))
struct StreamManagementTests {
    @Test func createsThenLeavesAnIdenticalStreamAlone() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                #expect(try await nats.ensureStream(testStream()) == .created)
                #expect(try await nats.ensureStream(testStream()) == .unchanged)
            }
        }
    }

    @Test func widensItsOwnStreamAndKeepsEveryOtherDifference() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                var changed = testStream(duplicateWindow: .seconds(300))
                changed.maxAge = .seconds(3600)
                changed.subjects.append("extra.>")
                let outcome = try await nats.ensureStream(changed)
                #expect(outcome == .differs(updated: ["subjects"], kept: ["maxAge", "duplicateWindow"]))
                // The subject is there now; the server's retention and window are still its own.
                #expect(
                    try await nats.ensureStream(changed) == .differs(updated: [], kept: ["maxAge", "duplicateWindow"]))
                var widened = testStream()
                widened.subjects.append("extra.>")
                #expect(try await nats.ensureStream(widened) == .unchanged)
            }
        }
    }

    @Test func refusesUnsafeChangesNamingTheField() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                var memory = testStream()
                memory.storage = .memory
                let storageError = try await #require(throws: NATSError.self) { try await nats.ensureStream(memory) }
                #expect(storageError.code == .configurationConflict)
                #expect(storageError.message.contains("storage"))

                var workQueue = testStream()
                workQueue.retention = .workQueue
                let retentionError = try await #require(throws: NATSError.self) {
                    try await nats.ensureStream(workQueue)
                }
                #expect(retentionError.message.contains("retention"))

                // A subject is never taken away: the owner adds the one it needs and keeps the rest;
                // a stream the caller does not own, lacking it, is a conflict.
                var otherSubjects = testStream()
                otherSubjects.subjects = ["other.>"]
                let subjectsError = try await #require(throws: NATSError.self) {
                    try await nats.ensureStream(otherSubjects, ownership: .others)
                }
                #expect(subjectsError.message.contains("subjects"))
                #expect(
                    try await nats.ensureStream(otherSubjects) == .differs(updated: ["subjects"], kept: ["subjects"]))
            }
        }
    }

    @Test func ensuresConsumersAndRefusesAFilterChange() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                let config = ConsumerConfiguration(
                    durable: "svc-test", filterSubject: "test.placed.*", maxDeliver: 5,
                    backoff: [.seconds(1), .seconds(5)])
                #expect(try await nats.ensureConsumer(stream: "TEST", config) == .created)
                #expect(try await nats.ensureConsumer(stream: "TEST", config) == .unchanged)

                var safer = config
                safer.maxAckPending = 50
                safer.maxDeliver = 7
                #expect(
                    try await nats.ensureConsumer(stream: "TEST", safer)
                        == .updated(fields: ["maxDeliver", "maxAckPending"]))

                var refiltered = safer
                refiltered.filterSubject = "test.other.*"
                let error = try await #require(throws: NATSError.self) {
                    try await nats.ensureConsumer(stream: "TEST", refiltered)
                }
                #expect(error.code == .configurationConflict)
                #expect(error.message.contains("filterSubject"))
            }
        }
    }

    @Test func rejectsMaxDeliverNotAboveTheBackoffSteps() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                let config = ConsumerConfiguration(durable: "bad", maxDeliver: 2, backoff: [.seconds(1), .seconds(2)])
                let error = try await #require(throws: NATSError.self) {
                    try await nats.ensureConsumer(stream: "TEST", config)
                }
                #expect(error.code == .invalidConfiguration)
                #expect(error.message.contains("maxDeliver"))
            }
        }
    }
}

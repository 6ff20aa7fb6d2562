import Foundation
import Logging
import Messaging
import TestSupport
import Testing

@Suite("Credentials, TLS and backpressure", .serialized, .timeLimit(.minutes(1)))
struct ConnectionSecurityTests {
    @Test func connectsWithCredentialsAndRefusesWrongOnes() async throws {
        let server = try await NATSServer.start(extraArguments: ["--user", "inventory", "--pass", "s3cret"])
        defer { server.stop() }
        let good = try await NATSConnection.connect(
            NATSConfiguration(
                urls: [server.url], credentials: NATSCredentials(user: "inventory", password: "s3cret"),
                waitForServer: false),
            logger: quietLogger())
        #expect(good.state == .connected)
        try await good.ensureStream(testStream())
        await good.close()
        #expect(good.state == .closed)

        let error = try await #require(throws: NATSError.self) {
            _ = try await NATSConnection.connect(
                NATSConfiguration(
                    urls: [server.url], credentials: NATSCredentials(user: "inventory", password: "wrong"),
                    waitForServer: false),
                logger: quietLogger())
        }
        #expect(error.message.lowercased().contains("authorization"))
    }

    @Test func connectsOverTLSVerifyingTheServerAgainstTheCA() async throws {
        let pki = try await TestPKI()
        defer { pki.remove() }
        let server = try await NATSServer.start(extraArguments: [
            "--tls", "--tlscert", pki.serverCert, "--tlskey", pki.serverKey,
        ])
        defer { server.stop() }
        let secure = try await NATSConnection.connect(
            NATSConfiguration(urls: ["tls://127.0.0.1:\(server.port)"], tlsCAFile: pki.caCert, waitForServer: false),
            logger: quietLogger())
        try await secure.ensureStream(testStream())
        let ack = try await secure.publish(message("test.placed.o1", "over TLS", id: "e1"))
        #expect(ack.sequence == 1)
        await secure.close()

        // Without the CA the server's certificate is not trusted.
        let otherCA = try await TestPKI()
        defer { otherCA.remove() }
        await #expect(throws: NATSError.self) {
            _ = try await NATSConnection.connect(
                NATSConfiguration(
                    urls: ["tls://127.0.0.1:\(server.port)"], tlsCAFile: otherCA.caCert, waitForServer: false),
                logger: quietLogger())
        }
    }

    @Test func refusesAServerWhoseCertificateNamesAnotherHost() async throws {
        // Signed by the trusted CA, but for another host: the connection must not trust it, by IP
        // address nor by name (nats.c checks the URL's host against the certificate's names).
        let pki = try await TestPKI(names: "DNS:nats.example.org")
        defer { pki.remove() }
        let server = try await NATSServer.start(extraArguments: [
            "--tls", "--tlscert", pki.serverCert, "--tlskey", pki.serverKey,
        ])
        defer { server.stop() }
        for host in ["127.0.0.1", "localhost"] {
            let error = await #expect(throws: NATSError.self) {
                _ = try await NATSConnection.connect(
                    NATSConfiguration(
                        urls: ["tls://\(host):\(server.port)"], tlsCAFile: pki.caCert, waitForServer: false),
                    logger: quietLogger())
            }
            #expect(error?.message.contains("mismatch") == true, "\(String(describing: error))")
        }
    }

    @Test func theBufferNeverHoldsMoreThanItsCapacity() async throws {
        try await withNATSServer { (server) async throws in
            try await server.withConnection { (nats) async throws in
                try await nats.ensureStream(testStream())
                try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "slow"))
                _ = await nats.publish((1...500).map { message("test.placed.o\($0)", "\($0)", id: "e\($0)") })
                let consumer = try PullConsumer.bind(
                    connection: nats, stream: "TEST", durable: "slow",
                    options: PullOptions(batch: 20, bufferCapacity: 40, expires: .milliseconds(200)),
                    logger: quietLogger())
                defer { consumer.stop() }
                // Nobody reads: pulls stop once the buffer is full, whatever the number of expiries.
                let maintainer = Task { await consumer.maintain() }
                // Sampled throughout (not once after a sleep): never above the capacity, and filled.
                var highest = 0
                for _ in 0..<100 {
                    highest = max(highest, consumer.bufferedCount)
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(highest <= 40)
                #expect(consumer.bufferedCount >= 20)
                let state = try await nats.consumerState(stream: "TEST", durable: "slow")
                #expect(state.pending >= 460)
                // Reading frees room, and the rest flows.
                let all = await receive(500, from: consumer)
                #expect(all.count == 500)
                maintainer.cancel()
            }
        }
    }
}

/// A throw-away certificate authority and a server certificate for 127.0.0.1, made with openssl.
struct TestPKI {
    let directory: URL
    var caCert: String { directory.appendingPathComponent("ca.pem").path }
    var serverCert: String { directory.appendingPathComponent("server.pem").path }
    var serverKey: String { directory.appendingPathComponent("server-key.pem").path }

    /// `names`: the server certificate's subject alternative names.
    init(names: String = "IP:127.0.0.1,DNS:localhost") async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-pki-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = try Executables.find("openssl")
        let d = directory.path
        let extFile = directory.appendingPathComponent("san.ext")
        try Data("subjectAltName=\(names)\n".utf8).write(to: extFile)
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=troupe-test-ca",
                "-keyout", "\(d)/ca-key.pem", "-out", "\(d)/ca.pem",
            ],
            [
                "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                "-keyout", "\(d)/server-key.pem", "-out", "\(d)/server.csr",
            ],
            [
                "x509", "-req", "-in", "\(d)/server.csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca-key.pem",
                "-CAcreateserial", "-days", "1", "-extfile", extFile.path, "-out", "\(d)/server.pem",
            ],
        ]
        for step in steps {
            let output = try await ProcessRunner.run(openssl, step, timeout: .seconds(60))
            guard output.status == 0 else {
                throw TestSupportError("openssl \(step[0]) failed: \(output.standardError)")
            }
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Issue 10.1: a consumer receives on an inbox under its connection's own prefix, and takes from it
/// only what the server could have sent: deliveries of its own stream's durable.
@Suite("Consumer inboxes", .serialized, .timeLimit(.minutes(1)))
struct ConsumerInboxTests {
    @Test func aConsumerInboxTakesOnlyDeliveriesOfItsOwnDurable() async throws {
        try await withNATSServer { (server) async throws in
            let nats = try await server.connect(inboxPrefix: "_INBOX_test")
            defer { Task { await nats.close() } }
            try await nats.ensureStream(testStream())
            try await nats.ensureConsumer(stream: "TEST", ConsumerConfiguration(durable: "mine"))
            let consumer = try PullConsumer.bind(
                connection: nats, stream: "TEST", durable: "mine",
                options: PullOptions(batch: 10, expires: .milliseconds(500)), logger: quietLogger())
            defer { consumer.stop() }
            #expect(consumer.inbox.hasPrefix("_INBOX_test."), "\(consumer.inbox)")
            // Into its inbox, before any real delivery: a plain message, and "deliveries" whose ack
            // subjects name another stream's or another durable's message.
            for reply in [
                nil, "$JS.ACK.OTHER.mine.1.7.7.1700000000000000000.0",
                "$JS.ACK.TEST.theirs.1.7.7.1700000000000000000.0",
            ] {
                try nats.publishCore(subject: consumer.inbox, reply: reply, payload: Array("forged".utf8))
            }
            try await nats.flush()
            _ = await nats.publish([message("test.placed.o1", "real", id: "e1")])
            let got = await receive(1, from: consumer)
            #expect(got.map(\.text) == ["real"])
            try await Task.sleep(for: .milliseconds(300))
            #expect(consumer.bufferedCount == 0, "nothing forged was buffered")
            try got.first?.ack()
        }
    }
}

import Foundation
import TestSupport
import Testing

@testable import Postgres

/// The libpq layer against a real PostgreSQL server started by the test on a free port.
@Suite("PostgreSQL connection", .serialized, .timeLimit(.minutes(2)))
struct PGConnectionTests {
    @Test func everyTypeTheStoresUseRoundTripsThroughAPreparedStatement() async throws {
        try await withDatabase { url in
            let db = try PGConnection(url: url)
            try db.run(
                """
                CREATE TABLE sample (
                    id int8 PRIMARY KEY, flag bool, blob bytea, small int2, medium int4, ratio float8,
                    label text, code varchar(8)
                )
                """)
            let insert = "INSERT INTO sample VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff, 0]
            try db.execute(insert, [Int64.max, true, bytes, -12, -70_000, 0.1, "zoë's \"quote\" ?", "abc"])
            try db.execute(insert, [1, false, [UInt8](), 0, 0, -2.5e300, "", nil as String?])
            try db.execute(insert, values: [3, .null, .null, .null, .null, .null, .null, .null])

            let rows = try db.execute("SELECT * FROM sample ORDER BY id DESC").rows
            #expect(rows.count == 3)
            #expect(rows[0]["id"] == .int(Int64.max))
            #expect(rows[0]["flag"] == .bool(true))
            #expect(rows[0]["blob"] == .bytes(bytes))
            #expect(rows[0]["small"] == .int(-12))
            #expect(rows[0]["medium"] == .int(-70_000))
            #expect(rows[0]["ratio"] == .double(0.1))
            #expect(rows[0]["label"] == .text("zoë's \"quote\" ?"))
            #expect(rows[0]["code"] == .text("abc"))
            #expect(rows[1]["id"] == .int(3))
            #expect(rows[1]["flag"] == .null && rows[1]["blob"] == .null && rows[1]["label"] == .null)
            #expect(rows[2]["blob"] == .bytes([]))
            #expect(rows[2]["ratio"] == .double(-2.5e300))
            #expect(rows[2]["code"] == .null)
            #expect(rows[0]["no such column"] == .null)

            // The insert ran three times and was prepared once.
            let prepared = try db.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT%'")
            #expect(prepared.first?[0] == .int(1))
            let updated = try db.execute("UPDATE sample SET flag = ? WHERE id < ?", [true, 10])
            #expect(updated.affectedRows == 2)
        }
    }

    @Test func placeholdersAreNumberedOutsideQuotesAndComments() {
        #expect(
            PGConnection.numberPlaceholders("SELECT ? , '?', \"a?\" -- why?\n FROM t WHERE a = ? AND b = ?")
                == "SELECT $1 , '?', \"a?\" -- why?\n FROM t WHERE a = $2 AND b = $3")
        #expect(PGConnection.numberPlaceholders("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1")
    }

    @Test func aDuplicateKeyIsNamedAndATransactionIsUndoneWhole() async throws {
        try await withDatabase { url in
            let db = try PGConnection(url: url)
            try db.run("CREATE TABLE inbox (id text PRIMARY KEY)")
            try db.execute("INSERT INTO inbox VALUES (?)", ["a"])
            let duplicate = #expect(throws: PGError.self) { try db.execute("INSERT INTO inbox VALUES (?)", ["a"]) }
            #expect(duplicate?.kind == .uniqueViolation)
            #expect(duplicate?.sqlState == "23505")
            #expect(duplicate?.isTransient == false)

            let failed = #expect(throws: PGError.self) {
                try db.transaction {
                    try db.execute("INSERT INTO inbox VALUES (?)", ["b"])
                    try db.execute("INSERT INTO inbox VALUES (?)", ["a"])
                }
            }
            #expect(failed?.kind == .uniqueViolation)
            #expect(!db.inTransaction)
            #expect(try ids(db) == ["a"])
        }
    }

    @Test func aSavepointUndoesOnlyItsOwnWrites() async throws {
        try await withDatabase { url in
            let db = try PGConnection(url: url)
            try db.run("CREATE TABLE inbox (id text PRIMARY KEY)")
            struct Refused: Error {}
            try db.transaction {
                try db.execute("INSERT INTO inbox VALUES (?)", ["first"])
                #expect(throws: Refused.self) {
                    try db.savepoint {
                        try db.execute("INSERT INTO inbox VALUES (?)", ["undone"])
                        throw Refused()
                    }
                }
                // A failed statement inside a savepoint leaves the transaction usable.
                var duplicate: PGError?
                do {
                    try db.savepoint { try db.execute("INSERT INTO inbox VALUES (?)", ["first"]) }
                } catch let error as PGError { duplicate = error }
                #expect(duplicate?.kind == .uniqueViolation)
                // A nested transaction is a savepoint.
                try db.transaction { try db.execute("INSERT INTO inbox VALUES (?)", ["last"]) }
            }
            #expect(try ids(db) == ["first", "last"])
        }
    }

    @Test func aTransactionThatAStatementAbortedIsNeverReportedCommitted() async throws {
        try await withDatabase { url in
            let db = try PGConnection(url: url)
            try db.run("CREATE TABLE inbox (id text PRIMARY KEY)")
            // The body swallows the failure; PostgreSQL answers COMMIT with ROLLBACK, and so must we.
            #expect(throws: PGError.self) {
                try db.transaction {
                    try db.execute("INSERT INTO inbox VALUES (?)", ["kept?"])
                    _ = try? db.execute("INSERT INTO missing VALUES (?)", [1])
                }
            }
            #expect(try ids(db).isEmpty)
        }
    }

    @Test func aBadOrUnreachableDatabaseIsOneClearLineWithoutThePassword() async throws {
        for bad in ["mysql://u:p@h/db", "postgres://u:p@h:5432/", "postgres://u:p@h:99999/db", "postgres:///db", "x"] {
            #expect(throws: PGURLError.self, "\(bad)") { try PGURL(bad) }
        }
        let url = try PGURL("postgresql://svc:s3cret@db.example:6543/orders?sslmode=disable")
        #expect(url.host == "db.example" && url.port == 6543 && url.database == "orders" && url.user == "svc")
        #expect(url.masked == "postgresql://svc:***@db.example:6543/orders?sslmode=disable")

        let port = try FreePort.find()
        let nobody = try PGURL("postgres://troupe:s3cret@127.0.0.1:\(port)/troupe")
        let error = #expect(throws: PGError.self) { try PGConnection(url: nobody, connectTimeout: 2) }
        #expect(error?.kind == .connection)
        #expect(error?.description.contains("cannot connect to postgres://troupe:***@127.0.0.1:\(port)/troupe") == true)
        #expect(error?.description.contains("s3cret") == false)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func aConnectionTheServerEndedSaysSoAndReconnects() async throws {
        try await withPostgresServer { server in
            let url = try PGURL(try server.createDatabase("ended"))
            let db = try PGConnection(url: url)
            try db.run("CREATE TABLE inbox (id text PRIMARY KEY)")
            try db.execute("INSERT INTO inbox VALUES (?)", ["before"])
            // Another session ends this one, as an operator (or a failover) would.
            try server.psql(database: "ended", "SELECT pg_terminate_backend(\(db.backendPID))")
            let lost = #expect(throws: PGError.self) { try db.execute("INSERT INTO inbox VALUES (?)", ["lost"]) }
            #expect(lost?.isTransient == true)
            #expect(!db.isConnected)
            #expect(throws: PGError.self) { try db.execute("SELECT 1") }

            try db.reconnect()
            // The statement prepared on the old session is prepared again on the new one.
            try db.execute("INSERT INTO inbox VALUES (?)", ["after"])
            #expect(try ids(db) == ["after", "before"])
        }
    }

    @Test func whatWasCommittedSurvivesACrashOfTheServer() async throws {
        try await withPostgresServer { server in
            let url = try PGURL(try server.createDatabase("crash"))
            let db = try PGConnection(url: url)
            try db.run("CREATE TABLE inbox (id text PRIMARY KEY)")
            try db.transaction { try db.execute("INSERT INTO inbox VALUES (?)", ["committed"]) }
            server.kill()
            let lost = #expect(throws: PGError.self) { try db.execute("SELECT 1") }
            #expect(lost?.isTransient == true)
            try server.start()
            try db.reconnect()
            #expect(try ids(db) == ["committed"])
        }
    }

    @Test func twoInstancesMigratingAtOnceApplyEachMigrationOnce() async throws {
        try await withPostgresServer { server in
            let url = try PGURL(try server.createDatabase("migrate"))
            var migrator = PGMigrator(lockKey: "test")
            migrator.register("v1-table") { db in
                // Not IF NOT EXISTS: a second run would fail.
                try db.run("CREATE TABLE stock (sku text PRIMARY KEY, quantity int8 NOT NULL)")
                try db.execute("SELECT pg_sleep(0.3)")
            }
            migrator.register("v2-seed") { db in
                try db.execute("INSERT INTO stock VALUES (?, ?)", ["sku-1", 5])
            }
            let both = migrator
            async let first = Blocking.run { try both.migrate(PGConnection(url: url)) }
            async let second = Blocking.run { try both.migrate(PGConnection(url: url)) }
            let applied = try await [first, second].sorted { $0.count < $1.count }
            #expect(applied == [[], ["v1-table", "v2-seed"]])

            migrator.register("v3-more") { db in try db.execute("UPDATE stock SET quantity = quantity + 1") }
            let later = migrator
            try await Blocking.run {
                let db = try PGConnection(url: url)
                #expect(try db.execute("SELECT count(*) FROM stock").first?[0] == .int(1))
                #expect(try later.migrate(db) == ["v3-more"])
                #expect(try later.migrate(db).isEmpty)
                #expect(try db.execute("SELECT quantity FROM stock").first?[0] == .int(6))
            }
        }
    }

    private func ids(_ db: PGConnection) throws -> [String] {
        try db.execute("SELECT id FROM inbox ORDER BY id").rows.compactMap { $0[0].text }
    }
}

/// Runs `body` with the URL of a fresh database on a fresh server, stopped afterwards.
func withDatabase(_ body: @escaping @Sendable (PGURL) throws -> Void) async throws {
    try await withPostgresServer { server in
        let url = try PGURL(try server.createDatabase("test"))
        try await Blocking.run { try body(url) }
    }
}

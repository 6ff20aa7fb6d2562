/// Migrations of a PostgreSQL schema, run at start, safe when several instances start at once.
///
/// Each migration has a name and runs once, recorded in `troupe_migration`. What is missing runs in
/// one transaction (PostgreSQL's DDL is transactional: a failed migration leaves nothing behind)
/// under a transaction-scoped advisory lock of the schema: a second instance that starts at the
/// same moment waits for the first, then finds every migration applied and does nothing.
public struct PGMigrator: Sendable {
    public typealias Migration = @Sendable (PGConnection) throws -> Void
    private var migrations: [(name: String, body: Migration)] = []
    /// The advisory lock's key: one per schema, so that two services' migrations do not wait for
    /// each other when they share a server.
    let lockKey: String

    public init(lockKey: String = "troupe") { self.lockKey = lockKey }

    /// Adds a migration; they run in the order they were registered.
    public mutating func register(_ name: String, _ body: @escaping Migration) {
        precondition(!migrations.contains { $0.name == name }, "migration \(name) registered twice")
        migrations.append((name, body))
    }

    /// Applies what is missing, and returns the names applied now.
    @discardableResult
    public func migrate(_ connection: PGConnection) throws -> [String] {
        try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [lockKey])
            try connection.run(
                """
                CREATE TABLE IF NOT EXISTS troupe_migration (
                    name text PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            let applied = Set(
                try connection.execute("SELECT name FROM troupe_migration").rows.compactMap { $0[0].text })
            var now: [String] = []
            for migration in migrations where !applied.contains(migration.name) {
                try connection.savepoint {
                    try migration.body(connection)
                    try connection.execute("INSERT INTO troupe_migration (name) VALUES (?)", [migration.name])
                }
                now.append(migration.name)
            }
            return now
        }
    }
}

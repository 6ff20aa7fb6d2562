// swift-tools-version: 6.1
import PackageDescription

/// One list of settings for every target (STYLE.md rule 1).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// What every service is built from.
let serviceDependencies: [Target.Dependency] = [
    "Contracts", "Messaging", "ServiceKit", "Postgres",
    .product(name: "GRDB", package: "GRDB.swift"),
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "Logging", package: "swift-log"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
]

/// The test target of one service (`<name>ServiceTests`): what every service's tests use, and `also`.
func serviceTests(_ name: String, also: [Target.Dependency] = []) -> Target {
    .testTarget(
        name: "\(name)ServiceTests",
        dependencies: [
            .target(name: "\(name)Service"), "ServiceTestSupport", "TestSupport", "Contracts", "Messaging",
            "ServiceKit", "Postgres",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ] + also,
        path: "Tests/\(name)ServiceTests",
        swiftSettings: swiftSettings
    )
}

let package = Package(
    name: "troupe",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Messaging", targets: ["Messaging"]),
        .executable(name: "order-service", targets: ["OrderService"]),
        .executable(name: "inventory-service", targets: ["InventoryService"]),
        .executable(name: "payment-service", targets: ["PaymentService"]),
        .executable(name: "shipping-service", targets: ["ShippingService"]),
        .executable(name: "notification-service", targets: ["NotificationService"]),
        .executable(name: "troupe", targets: ["TroupeCLI"]),
        .executable(name: "nats-ceiling", targets: ["NATSCeiling"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // Tests only: reading the deployment files (compose, Kubernetes) to check them against the code.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // The event contract: the only module services share about each other.
        .target(
            name: "Contracts",
            path: "Contracts/Sources/Contracts",
            swiftSettings: swiftSettings
        ),
        // nats.c from Debian's libnats-dev; imported by Messaging only.
        .systemLibrary(
            name: "CNATS",
            path: "Shared/CNATS",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),
        // libpq from Debian's libpq-dev; imported by Postgres only.
        .systemLibrary(
            name: "CLibPQ",
            path: "Shared/CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // PostgreSQL through libpq: connections, prepared statements, transactions, migrations
        // (docs/postgres.md). The only code that touches libpq.
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ"],
            path: "Shared/Sources/Postgres",
            swiftSettings: swiftSettings
        ),
        // The JetStream layer: the only code that touches nats.c.
        .target(
            name: "Messaging",
            dependencies: [
                "CNATS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Shared/Sources/Messaging",
            swiftSettings: swiftSettings
        ),
        // What every service is built from: store, outbox and relay, inbox, configuration, HTTP, health.
        .target(
            name: "ServiceKit",
            dependencies: [
                "Contracts", "Messaging", "Postgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Shared/Sources/ServiceKit",
            swiftSettings: swiftSettings
        ),
        // A JSON Schema (draft 2020-12) validator for the published schemas (tests, `troupe check`).
        .target(
            name: "SchemaValidation",
            path: "Shared/Sources/SchemaValidation",
            swiftSettings: swiftSettings
        ),
        // The five services: each its own executable, sharing only Contracts (and the plumbing).
        .executableTarget(
            name: "OrderService",
            dependencies: serviceDependencies,
            path: "Services/Order",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "InventoryService",
            dependencies: serviceDependencies,
            path: "Services/Inventory",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "PaymentService",
            dependencies: serviceDependencies,
            path: "Services/Payment",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ShippingService",
            dependencies: serviceDependencies,
            path: "Services/Shipping",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "NotificationService",
            dependencies: serviceDependencies + [.product(name: "Crypto", package: "swift-crypto")],
            path: "Services/Notification",
            swiftSettings: swiftSettings
        ),
        // The guarantees of docs/architecture.md ("Guarantees") as code: the end-to-end tests and
        // `troupe check` use it.
        .target(
            name: "SagaCheck",
            dependencies: ["Contracts"],
            path: "Tools/SagaCheck",
            swiftSettings: swiftSettings
        ),
        // The operator's command-line tool: `troupe dlq …` (docs/operations.md, "The `troupe` tool").
        .executableTarget(
            name: "TroupeCLI",
            dependencies: [
                "Contracts", "Messaging", "SagaCheck", "LocalProcesses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tools/troupe",
            swiftSettings: swiftSettings
        ),
        // Ceiling benchmark of the JetStream layer (`make bench-nats`).
        .executableTarget(
            name: "NATSCeiling",
            dependencies: [
                "Messaging", "LocalProcesses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/nats-ceiling",
            swiftSettings: swiftSettings
        ),
        // Drives the consumer path in the exact situation of nats.c issue 749, for valgrind.
        .executableTarget(
            name: "FetchSafetyProbe",
            dependencies: ["Messaging"],
            path: "Tools/fetch-safety-probe",
            swiftSettings: swiftSettings
        ),
        // Local processes for the tools and the tests: a real nats-server on a free port, processes
        // run and stopped by their PID.
        .target(
            name: "LocalProcesses",
            dependencies: ["Messaging", .product(name: "Logging", package: "swift-log")],
            path: "Tools/LocalProcesses",
            swiftSettings: swiftSettings
        ),
        // What the test targets share: the local processes, under the name the tests import.
        .target(
            name: "TestSupport",
            dependencies: ["LocalProcesses"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ContractsTests",
            dependencies: ["Contracts", "SchemaValidation"],
            path: "Tests/ContractsTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit", "TestSupport", "Postgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ServiceKitTests",
            swiftSettings: swiftSettings
        ),
        // What the services' test targets share: event fixtures, a service's context on a store in a
        // temporary folder (`HandlerBench`), routes in process (`RouteTesting`).
        .target(
            name: "ServiceTestSupport",
            dependencies: [
                "Contracts", "ServiceKit", "Postgres",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tests/ServiceTestSupport",
            swiftSettings: swiftSettings
        ),
        // One target per service: its decisions (pure), its handlers and routes on a real store (no
        // NATS, no socket).
        serviceTests("Order", also: ["SchemaValidation"]),
        serviceTests("Inventory"),
        serviceTests("Payment"),
        serviceTests("Shipping"),
        serviceTests(
            "Notification",
            also: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // What spans the services: batch application, the catalogue in the docs, the deployment files,
        // the filtered reads.
        .testTarget(
            name: "ServicesTests",
            dependencies: [
                "Contracts", "OrderService", "InventoryService", "PaymentService", "ShippingService",
                "NotificationService", "ServiceTestSupport", "TestSupport", "ServiceKit",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Tests/ServicesTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "Contracts", "Messaging", "SagaCheck", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/EndToEndTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "TestSupport"],
            path: "Tests/PostgresTests",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MessagingTests",
            dependencies: [
                "Messaging", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/MessagingTests",
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)

// swift-tools-version:6.1
// QuickPay: the Quick Pay hash-chain micropayment scheme, as five actors on ZeroMQ.
// The target graph is the architecture; imports run one way:
//   executables -> Host / Client / Testbed / Scenario -> HostCore -> Actors -> Protocol -> Core,
//   Store and Config beside them, and ZeroMQ knows nothing of QuickPay. The qp-* executables
//   never link QuickPayTestbed.
import PackageDescription

/// What every actor executable links: the host and its configuration, never the testbed.
let actorExecutable: [Target.Dependency] = [
    "QuickPayHost", "QuickPayHostCore", "QuickPayConfig", "QuickPayActors", "QuickPayStore", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
]

let package = Package(
    name: "QuickPay",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "QuickPayCore", targets: ["QuickPayCore"]),
        .library(name: "QuickPayProtocol", targets: ["QuickPayProtocol"]),
        .executable(name: "quickpay", targets: ["QuickPayCLI"]),
        .executable(name: "qp-bank", targets: ["qp-bank"]),
        .executable(name: "qp-appserver", targets: ["qp-appserver"]),
        .executable(name: "qp-nsp", targets: ["qp-nsp"]),
        .executable(name: "qp-merchant", targets: ["qp-merchant"]),
        .executable(name: "qp-customer", targets: ["qp-customer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(name: "CSQLiteConfig", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(
            name: "QuickPayCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        .target(
            name: "QuickPayProtocol",
            dependencies: [
                "QuickPayCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Generated/README.md"]
        ),
        .target(
            name: "QuickPayActors",
            dependencies: [
                "QuickPayCore",
                "QuickPayProtocol",
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "QuickPayHostCore",
            dependencies: ["QuickPayCore", "QuickPayProtocol", "QuickPayActors"]
        ),
        .target(
            name: "QuickPayStore",
            dependencies: [
                "QuickPayCore",
                "QuickPayProtocol",
                "QuickPayActors",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The C API, for the two statements every payment runs (RawStatement).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                // SQLite's process-wide set-up (no memory statistics).
                "CSQLiteConfig",
            ]
        ),
        // The independent auditor: plain SQL over the actors' files, no QuickPay module at all.
        .target(name: "QuickPayAudit", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        // Run reports (HTML, inline SVG) from a run folder's results and logs: Foundation only.
        .target(name: "QuickPayReport"),
        // All actors in one process on a seeded event queue: no ZeroMQ, no SQLite.
        .target(
            name: "QuickPaySim",
            dependencies: [
                "QuickPayCore", "QuickPayProtocol", "QuickPayActors", "QuickPayHostCore", "QuickPayAudit",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
            ]),
        .target(
            name: "QuickPayConfig",
            dependencies: [
                "ZeroMQ", "QuickPayCore", "QuickPayActors", "QuickPayStore",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "QuickPayHost",
            dependencies: [
                "ZeroMQ", "QuickPayCore", "QuickPayProtocol", "QuickPayActors", "QuickPayHostCore", "QuickPayConfig", "QuickPayStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "QuickPayClient",
            dependencies: [
                "ZeroMQ", "QuickPayCore", "QuickPayProtocol", "QuickPayActors", "QuickPayStore", "QuickPayConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Never linked by the qp-* executables: orchestration, attacks, fault injection.
        .target(
            name: "QuickPayTestbed",
            dependencies: [
                "ZeroMQ", "QuickPayCore", "QuickPayProtocol", "QuickPayActors", "QuickPayStore", "QuickPayConfig", "QuickPayClient",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "QuickPayScenario",
            dependencies: [
                "QuickPayAudit", "QuickPayTestbed", "QuickPayClient", "QuickPayConfig", "QuickPayActors", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "QuickPayLoad",
            dependencies: [
                "QuickPayAudit", "QuickPayTestbed", "QuickPayClient", "QuickPayConfig", "QuickPayActors", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "QuickPayCLI",
            dependencies: [
                "QuickPayCore", "QuickPayProtocol", "ZeroMQ", "QuickPayActors", "QuickPayHostCore", "QuickPayHost", "QuickPayClient",
                "QuickPayConfig", "QuickPayTestbed", "QuickPayScenario", "QuickPayLoad", "QuickPayStore", "QuickPayAudit", "QuickPaySim",
                "QuickPayReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "qp-bank", dependencies: actorExecutable),
        .executableTarget(name: "qp-appserver", dependencies: actorExecutable),
        .executableTarget(name: "qp-nsp", dependencies: actorExecutable + [.product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "qp-merchant", dependencies: actorExecutable + ["QuickPayClient", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "qp-customer", dependencies: [
            "QuickPayClient", "QuickPayConfig", "QuickPayActors", "QuickPayStore", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(
            name: "QuickPayCoreTests",
            dependencies: ["QuickPayCore", .product(name: "CryptoExtras", package: "swift-crypto")],
            // RFC 9474's test vectors, read by path.
            exclude: ["Vectors"]
        ),
        .testTarget(name: "QuickPayProtocolTests", dependencies: ["QuickPayProtocol", "QuickPayCore"]),
        .testTarget(name: "QuickPayStoreTests", dependencies: ["QuickPayStore", "QuickPayActors", "QuickPayHostCore", "QuickPayProtocol", "QuickPayCore"]),
        .testTarget(
            name: "QuickPayIntegrationTests",
            dependencies: [
                "QuickPayTestbed", "QuickPayClient", "QuickPayConfig", "QuickPayHost", "QuickPayStore", "QuickPayScenario", "QuickPayLoad",
                "QuickPayActors", "QuickPayProtocol", "QuickPayCore", "ZeroMQ",
            ]
        ),
        .testTarget(
            name: "QuickPayAuditTests",
            dependencies: [
                "QuickPayAudit", "QuickPayStore", "QuickPayActors", "QuickPayHostCore", "QuickPayProtocol", "QuickPayCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
            ]),
        .testTarget(name: "QuickPayScenarioTests", dependencies: ["QuickPayScenario", "QuickPayAudit", "QuickPayConfig"]),
        .testTarget(name: "QuickPaySimTests", dependencies: ["QuickPaySim"]),
        .testTarget(name: "QuickPayReportTests", dependencies: ["QuickPayReport", "QuickPayConfig", "QuickPayProtocol", "QuickPayCore"]),
        .testTarget(name: "QuickPayHostTests", dependencies: ["QuickPayHost", "QuickPayHostCore", "QuickPayActors", "QuickPayProtocol", "QuickPayCore"]),
        .testTarget(name: "QuickPayActorsTests", dependencies: ["QuickPayActors", "QuickPayHostCore", "QuickPayProtocol", "QuickPayCore"]),
    ],
    swiftLanguageModes: [.v6]
)

// Optimization across the package's modules in release builds: the generic code
// of one module (HostCore over an actor, `Bytes32(_ bytes: some Collection<UInt8>)`) is
// specialized where another uses it, instead of looking up type metadata on every call.
for target in package.targets where target.type == .regular || target.type == .executable {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
}

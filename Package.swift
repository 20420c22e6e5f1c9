// swift-tools-version:6.1
// QuickPay: the Quick Pay hash-chain micropayment scheme, as five actors on ZeroMQ.
// The target graph is the architecture; imports run one way:
//   executables -> Protocol -> Core, and ZeroMQ knows nothing of QuickPay.
import PackageDescription

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
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(
            name: "QuickPayCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
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
            name: "QuickPayStore",
            dependencies: [
                "QuickPayCore",
                "QuickPayProtocol",
                "QuickPayActors",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "QuickPayRuntime",
            dependencies: [
                "ZeroMQ",
                "QuickPayCore",
                "QuickPayProtocol",
                "QuickPayActors",
                "QuickPayStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "QuickPayScenario",
            dependencies: [
                "QuickPayRuntime",
                "QuickPayActors",
                "QuickPayCore",
                "QuickPayProtocol",
                "ZeroMQ",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "QuickPayLoad",
            dependencies: [
                "QuickPayRuntime",
                "QuickPayActors",
                "QuickPayCore",
                "QuickPayProtocol",
                "ZeroMQ",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "QuickPayCLI",
            dependencies: [
                "QuickPayCore",
                "QuickPayProtocol",
                "ZeroMQ",
                "QuickPayActors",
                "QuickPayRuntime",
                "QuickPayScenario",
                "QuickPayLoad",
                "QuickPayStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(name: "qp-bank", dependencies: ["QuickPayRuntime", "QuickPayActors", "QuickPayStore", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "qp-appserver", dependencies: ["QuickPayRuntime", "QuickPayActors", "QuickPayStore", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "qp-nsp", dependencies: ["QuickPayRuntime", "QuickPayActors", "QuickPayStore", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "qp-merchant", dependencies: ["QuickPayRuntime", "QuickPayActors", "QuickPayStore", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "qp-customer", dependencies: ["QuickPayRuntime", "QuickPayActors", "QuickPayStore", "QuickPayCore", "QuickPayProtocol", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "QuickPayCoreTests", dependencies: ["QuickPayCore"]),
        .testTarget(name: "QuickPayProtocolTests", dependencies: ["QuickPayProtocol", "QuickPayCore"]),
        .testTarget(name: "QuickPayStoreTests", dependencies: ["QuickPayStore", "QuickPayActors", "QuickPayProtocol", "QuickPayCore"]),
        .testTarget(
            name: "QuickPayIntegrationTests",
            dependencies: ["QuickPayRuntime", "QuickPayScenario", "QuickPayLoad", "QuickPayActors", "QuickPayProtocol", "QuickPayCore", "ZeroMQ"]
        ),
        .testTarget(name: "QuickPayActorsTests", dependencies: ["QuickPayActors", "QuickPayProtocol", "QuickPayCore"]),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "Roster",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "roster", targets: ["roster"]),
        .library(name: "RosterServer", targets: ["RosterServer"]),
        .library(name: "RosterHTTP", targets: ["RosterHTTP"]),
        .library(name: "RosterCore", targets: ["RosterCore"]),
        .library(name: "RosterAPI", targets: ["RosterAPI"]),
        .library(name: "RosterClient", targets: ["RosterClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(
            url: "https://github.com/apple/swift-configuration", from: "1.4.0",
            traits: [.defaults, "YAML", "CommandLineArguments"]
        ),
        // Also what swift-configuration's YAML trait resolves to; read directly for the ACL file.
        .package(url: "https://github.com/jpsim/Yams", "5.4.0"..<"7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        .target(
            name: "RosterCore",
            dependencies: [
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            swiftSettings: strictSettings
        ),
        .target(name: "RosterAPI", swiftSettings: strictSettings),
        .target(
            name: "RosterSettings",
            dependencies: ["RosterAPI", .product(name: "Configuration", package: "swift-configuration")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "Curl",
            dependencies: ["CCurl"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RosterHTTP",
            dependencies: [
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RosterServer",
            dependencies: [
                "RosterCore", "RosterAPI", "RosterHTTP", "Curl", "RosterSettings",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RosterClient",
            dependencies: [
                "RosterAPI", "Curl", "RosterSettings",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "roster",
            dependencies: [
                "RosterServer", "RosterClient", "RosterSettings", "RosterAPI", "Curl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RosterTesting",
            dependencies: [
                "RosterServer", "RosterHTTP", "RosterCore", "RosterAPI",
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "RosterCoreTests", dependencies: ["RosterCore"], swiftSettings: strictSettings),
        .testTarget(name: "RosterAPITests", dependencies: ["RosterAPI"], swiftSettings: strictSettings),
        .testTarget(
            name: "CurlTests",
            dependencies: ["Curl", "RosterTesting", "RosterHTTP"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RosterHTTPTests",
            dependencies: ["RosterHTTP", "RosterTesting", .product(name: "FlyingSocks", package: "FlyingFox")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RosterServerTests",
            dependencies: ["RosterServer", "RosterTesting", "RosterCore", "RosterAPI", "RosterSettings"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RosterClientTests",
            dependencies: ["RosterClient", "RosterServer", "RosterTesting", "RosterAPI", "RosterSettings", "Curl"],
            swiftSettings: strictSettings
        ),
    ]
)

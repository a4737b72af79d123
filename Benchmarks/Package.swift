// swift-tools-version: 6.1
// Roster's benchmarks: a package of its own so the normal build and CI never compile them.
// Run from this directory: `swift package benchmark --no-progress` (see README, "Performance").
import PackageDescription

let package = Package(
    name: "RosterBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "Roster", path: ".."),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "LoadKit",
            dependencies: [
                .product(name: "RosterServer", package: "Roster"),
                .product(name: "RosterHTTP", package: "Roster"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/LoadKit"
        ),
        .executableTarget(
            name: "WatchCost",
            dependencies: [
                "LoadKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/WatchCost"
        ),
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RosterCore", package: "Roster"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ServerBenchmarks",
            dependencies: [
                "LoadKit",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "RosterServer", package: "Roster"),
                .product(name: "RosterCore", package: "Roster"),
            ],
            path: "Benchmarks/ServerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)

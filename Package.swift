// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "SignService",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SignKit", targets: ["SignKit"]),
        .executable(name: "SignService", targets: ["SignService"]),
        .executable(name: "signctl", targets: ["signctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.19"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
    ],
    targets: [
        // System libraries: pkg-config supplies the include and link flags, nothing else lives here.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPCSCLite", path: "Sources/CPCSCLite", pkgConfig: "libpcsclite",
                       providers: [.apt(["libpcsclite-dev"])]),
        .systemLibrary(name: "CQREncode", path: "Sources/CQREncode", pkgConfig: "libqrencode",
                       providers: [.apt(["libqrencode-dev"])]),
        // The only C in the project: the PKCS#11 header, the module loader and shims for macros Swift cannot import.
        .target(name: "CPKCS", dependencies: ["COpenSSL", "CPCSCLite"],
                linkerSettings: [.linkedLibrary("dl")]),
        .target(
            name: "SignKit",
            dependencies: [
                "CPKCS",
                "CQREncode",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            resources: [.copy("Resources/atr-catalogue.json")]
        ),
        .executableTarget(
            name: "SignService",
            dependencies: [
                "SignKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "signctl",
            dependencies: [
                "SignKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "SignBench",
            dependencies: ["SignKit", "CPKCS", "TestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/SignBench"
        ),
        // Shared by the test targets: the token rig, running commands, checking with the openssl CLI.
        .target(name: "TestSupport", dependencies: ["SignKit", "CPKCS", .product(name: "Logging", package: "swift-log")],
                path: "Tests/TestSupport"),
        // The process the history kill -9 test interrupts (Tests/SignKitTests/HistoryTests.swift).
        .executableTarget(name: "HistoryAppender", dependencies: ["SignKit", "TestSupport"], path: "Tests/HistoryAppender"),
        .testTarget(name: "SignKitTests", dependencies: ["SignKit", "CPKCS", "TestSupport",
                                                         .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .testTarget(name: "SignServiceTests", dependencies: ["SignService", .product(name: "Hummingbird", package: "hummingbird"),
                                                            .product(name: "HTTPTypes", package: "swift-http-types")]),
        .testTarget(name: "EndToEndTests", dependencies: ["SignKit", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.2
import PackageDescription

// MoEKit: CPU kernels for DeepSeek-V3-style Mixture-of-Experts models.
// No unsafe compiler or linker flags in any target: ISA-specific code is selected at run time (see
// CKernels/core/dispatch.c), so the package builds for any client that depends on it by version.
let package = Package(
    name: "MoEKit",
    products: [
        .library(name: "MoEKit", targets: ["MoEKit"]),
        .executable(name: "benchmarks", targets: ["benchmarks"]),
    ],
    traits: [
        .trait(
            name: "OpenMP",
            description: "Run MoEKit's parallel tasks on the OpenMP runtime (libomp-dev) instead of its own thread pool."
        ),
    ],
    targets: [
        .target(
            name: "CKernels",
            path: "CKernels",
            cSettings: [
                .define("CK_WITH_OPENMP", .when(traits: ["OpenMP"])),
            ],
            linkerSettings: [
                .linkedLibrary("pthread"),
                .linkedLibrary("m"),
                .linkedLibrary("omp5", .when(traits: ["OpenMP"])),
            ]
        ),
        .target(
            name: "MoEKit",
            dependencies: ["CKernels"],
            path: "Sources/MoEKit"
        ),
        .executableTarget(
            name: "benchmarks",
            dependencies: ["MoEKit", "CKernels", "Baselines"],
            path: "Benchmarks",
            exclude: ["Baselines"]
        ),
        .target(
            name: "Baselines",
            path: "Benchmarks/Baselines",
            linkerSettings: [.linkedLibrary("openblas")]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["MoEKit"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "MoEKitTests",
            dependencies: ["MoEKit", "TestSupport", "CKernels", "Baselines"],
            path: "Tests/MoEKitTests"
        ),
    ],
    cLanguageStandard: .c17
)

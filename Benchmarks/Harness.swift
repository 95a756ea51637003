import Glibc
import MoEKit

/// Seconds since an arbitrary origin (monotonic).
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Repetition policy: a warm-up call, then at least `minReps` timed calls (3 when one call takes over 0.2 s)
/// and until `minSeconds` have passed (at most `maxReps`); the median is reported.
struct Timing {
    var minReps: Int
    var maxReps: Int
    var minSeconds: Double

    static let standard = Timing(minReps: 5, maxReps: 10_000, minSeconds: 0.4)
    static let quick = Timing(minReps: 3, maxReps: 10, minSeconds: 0.05)

    func median(_ body: () throws -> Void) rethrows -> Double {
        let warm = now()
        try body()
        let minReps = now() - warm > 0.2 ? min(3, self.minReps) : self.minReps
        var samples: [Double] = []
        let start = now()
        while samples.count < minReps || (samples.count < maxReps && now() - start < minSeconds) {
            let t0 = now()
            try body()
            samples.append(now() - t0)
        }
        samples.sort()
        let n = samples.count
        return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2
    }
}

/// The work one call of a case does, for throughput numbers.
struct Work {
    var elements: Int
    var bytes: Int   // read + written
    var flops: Int?  // nil for pure data movement
}

/// One benchmark case: a named operation with its shape, run by one or more implementations.
struct BenchCase {
    var suite: String
    var name: String
    var dtype: String
    var shape: [(String, Int)]
    var work: Work
    /// "dram" and "cache" cases are judged against the copy bandwidth, "dramRead" cases (streaming weights)
    /// against the read bandwidth, "compute" cases against the FP32 FMA peak, "computeBF16" cases (BF16 and
    /// FP8 operands) against the faster of the BF16 dot-product and FP32 FMA peaks: BF16 and E4M3 products
    /// are exact in FP32, so either unit can run them.
    var bound: Bound
    /// Implementations in the order they run; the first one is MoEKit's.
    var impls: [String]
    /// Allocates the case's buffers and returns a function running one call of the named implementation.
    var prepare: () -> (String) -> () -> Void

    enum Bound { case dram, dramRead, cache, compute, computeBF16 }

    var id: String { "\(suite)/\(name)" }
    var shapeText: String { shape.map { "\($0.0)=\($0.1)" }.joined(separator: " ") }
}

/// One measured row.
struct BenchResult {
    var suite, name, impl, dtype: String
    var shape: [(String, Int)]
    var threads: Int
    var seconds: Double
    var work: Work
    var bound: BenchCase.Bound
    /// The fraction of the run's best probe of the relevant peak (set once the run has finished).
    var peakFraction: Double?
    var gbps: Double { Double(work.bytes) / seconds / 1e9 }
    var gflops: Double? { work.flops.map { Double($0) / seconds / 1e9 } }
    var gelems: Double { Double(work.elements) / seconds / 1e9 }
}

/// Runs a body with MoEKit capped at `isa`, restoring the previous cap.
func withISA<T>(_ isa: ISA, _ body: () throws -> T) rethrows -> T {
    let saved = Runtime.maxISA
    Runtime.setMaxISA(isa)
    defer { Runtime.setMaxISA(saved) }
    return try body()
}

/// Runs `impl` of a prepared case: `moekit` at the chosen cap, `scalar` capped to the scalar reference;
/// other names are baselines the case runs itself.
func measure(_ c: BenchCase, impl: String, run: () -> Void, timing: Timing) -> BenchResult {
    let seconds = impl == "scalar" ? withISA(.scalar) { timing.median(run) } : timing.median(run)
    return BenchResult(suite: c.suite, name: c.name, impl: impl, dtype: c.dtype, shape: c.shape,
                       threads: Runtime.threadCount, seconds: seconds, work: c.work, bound: c.bound, peakFraction: nil)
}

extension BenchResult {
    /// The result judged against the machine's peaks.
    func judged(by machine: Machine) -> BenchResult {
        var r = self
        switch bound {
        case .dram, .cache: r.peakFraction = gbps / machine.copyGBps
        case .dramRead: r.peakFraction = gbps / machine.readGBps
        case .compute: r.peakFraction = gflops.map { $0 / machine.peakF32GFlops }
        case .computeBF16: r.peakFraction = gflops.map { $0 / max(machine.peakBF16GFlops ?? 0, machine.peakF32GFlops) }
        }
        return r
    }
}

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

    /// The median time of each body, timed in alternation: round r calls every body once, starting at body
    /// r mod count, so a drift of the machine's speed (on a shared machine, tens of percent within seconds)
    /// reaches every body alike. The policy applies per body; the time limit is `minSeconds` per body.
    func medians(_ bodies: [() -> Void]) -> [Double] {
        var slow = false
        for body in bodies {
            let warm = now()
            body()
            slow = slow || now() - warm > 0.2
        }
        let minReps = slow ? min(3, self.minReps) : self.minReps
        var samples = [[Double]](repeating: [], count: bodies.count)
        let start = now(), limit = minSeconds * Double(bodies.count)
        var round = 0
        while round < minReps || (round < maxReps && now() - start < limit) {
            for step in 0..<bodies.count {
                let b = (round + step) % bodies.count
                let t0 = now()
                bodies[b]()
                samples[b].append(now() - t0)
            }
            round += 1
        }
        return samples.map { s in
            let s = s.sorted(), n = s.count
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        }
    }

    func median(_ body: () -> Void) -> Double { withoutActuallyEscaping(body) { medians([$0])[0] } }
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
    /// The work of implementations that do other work than `work` (MoEKit's BF16 decode, the baseline of
    /// weight-only FP8 decode, reads twice the weight bytes).
    var implWork: [String: Work] = [:]
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

/// Times every implementation of a prepared case: MoEKit and its baselines in alternation (Timing.medians), so
/// their ratios come from the same stretch of time, and the scalar reference, many times slower, on its own
/// afterwards, capped to the scalar ISA.
func measure(_ c: BenchCase, runner: (String) -> () -> Void, timing: Timing) -> [BenchResult] {
    let paired = c.impls.filter { $0 != "scalar" }
    var seconds = Dictionary(uniqueKeysWithValues: zip(paired, timing.medians(paired.map(runner))))
    if c.impls.contains("scalar") {
        let run = runner("scalar")
        seconds["scalar"] = withISA(.scalar) { timing.median(run) }
    }
    return c.impls.map {
        BenchResult(suite: c.suite, name: c.name, impl: $0, dtype: c.dtype, shape: c.shape, threads: Runtime.threadCount,
                    seconds: seconds[$0]!, work: c.implWork[$0] ?? c.work, bound: c.bound, peakFraction: nil)
    }
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

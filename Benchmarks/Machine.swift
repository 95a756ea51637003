import CKernels
import MoEKit

/// This machine's own peaks, measured by MoEKit's probes (ck_probe.h) on the benchmark's thread count and ISA
/// cap: at the start of every run (best of several timed repetitions), again before each compute-bound case
/// (FMA and BF16 dot) and at the end (DRAM). Each figure is the best the run saw: on a shared machine a probe
/// that lands in a busy moment would otherwise make the cases after it look faster than the machine.
struct Machine {
    var cpu: String
    var isa: ISA
    var threads: Int
    var peakF32GFlops: Double
    var peakBF16GFlops: Double?
    var copyGBps: Double
    var readGBps: Double
    /// The share of the DRAM probe's buffers that the kernel backed with huge pages (see ``Allocation``).
    var hugePageShare: Double

    static func measure(quick: Bool, log: (String) -> Void) -> Machine {
        let reps = quick ? 3 : 5
        log("probing FP32 FMA peak ...")
        let f32 = bestRate(reps: reps) { ck_probe_fma_f32($0) }
        var bf16: Double?
        if Runtime.activeISA >= .avx512bf16 {
            log("probing BF16 dot-product peak ...")
            bf16 = bestRate(reps: reps) { ck_probe_dot_bf16($0) }
        }
        log("probing DRAM copy and read bandwidth ...")
        let (copy, read, huge) = bandwidths(reps: reps, quick: quick)
        return Machine(cpu: Runtime.cpuName, isa: Runtime.activeISA, threads: Runtime.threadCount,
                       peakF32GFlops: f32, peakBF16GFlops: bf16, copyGBps: copy, readGBps: read, hugePageShare: huge)
    }

    /// DRAM copy (bytes read + written) and read GB/s on arrays far beyond the last-level cache (at least 4x,
    /// at least 1 GiB; 256 MiB with --quick), best of `reps`. The reads run first: after a copy the cache is
    /// full of dirty lines, whose write-backs would slow the next read pass down.
    private static func bandwidths(reps: Int, quick: Bool) -> (copy: Double, read: Double, huge: Double) {
        let bytes = quick ? 256 << 20 : max(1 << 30, 4 * lastLevelCacheBytes()) / 64 * 64
        let before = anonymousHugePageBytes()
        let src = Allocation(bytes: bytes), dst = Allocation(bytes: bytes)
        let huge = Double(anonymousHugePageBytes() - before) / Double(src.bytes + dst.bytes)
        memsetPattern(src)
        var copy = 0.0, read = 0.0
        var sink: UInt64 = 0
        for _ in 0..<reps {
            let t0 = now()
            sink ^= ck_probe_read(src.raw, bytes)
            read = max(read, Double(bytes) / (now() - t0) / 1e9)
        }
        for _ in 0..<reps {
            let t0 = now()
            ck_probe_copy(dst.raw, src.raw, bytes)
            copy = max(copy, 2 * Double(bytes) / (now() - t0) / 1e9)
        }
        if sink == 0x5EED { print("") } // keeps the checksum alive
        return (copy, read, huge)
    }

    /// Probes the compute peaks once more, keeping the best.
    mutating func reprobeCompute() {
        peakF32GFlops = max(peakF32GFlops, Self.bestRate(reps: 1) { ck_probe_fma_f32($0) })
        if let bf16 = peakBF16GFlops { peakBF16GFlops = max(bf16, Self.bestRate(reps: 1) { ck_probe_dot_bf16($0) }) }
    }

    /// Probes the DRAM bandwidths once more, keeping the best.
    mutating func reprobeMemory(quick: Bool) {
        let (copy, read, _) = Self.bandwidths(reps: 1, quick: quick)
        copyGBps = max(copyGBps, copy)
        readGBps = max(readGBps, read)
    }

    /// GFLOP/s of a probe: calibrated to ~0.1 s per repetition, best of `reps`.
    private static func bestRate(reps: Int, _ probe: (UInt64) -> Double) -> Double {
        var iterations: UInt64 = 1 << 16
        while true {
            let t0 = now()
            _ = probe(iterations)
            if now() - t0 > 0.02 { break }
            iterations *= 4
        }
        var best = 0.0
        for _ in 0..<reps {
            let t0 = now()
            let flops = probe(iterations * 4)
            best = max(best, flops / (now() - t0) / 1e9)
        }
        return best
    }

    private static func memsetPattern(_ a: Allocation) {
        let words = a.pointer(UInt64.self)
        for i in 0..<(a.bytes / 8) { words[i] = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 }
    }
}

// Proves results do not depend on the thread count: every kernel family (casts, three quantizers, two
// dequantizers) on 4.2M-element tensors, cut into many parallel tasks, is byte-identical with 1, 2, 3 and 7
// threads (Runtime.setThreadCount) and with 3 threads at ISA .scalar, and the per-token result equals the
// reference.
import MoEKit
import TestSupport
import Testing

@Suite("Thread-count determinism", .tags(.threads), .serialized)
struct ThreadDeterminismTests {
    @Test("1, 2, 3, 7 threads give identical bytes", .hangGuard)
    func threadCounts() throws {
        let single = try withThreads(1) { try BigWorkload.run() }
        #expect(single.count == 10)
        for threads in [2, 3, 7] {
            let got = try withThreads(threads) { () throws -> [[UInt8]] in
                #expect(Runtime.threadCount == threads)
                return try BigWorkload.run()
            }
            for (k, (a, b)) in zip(got, single).enumerated() {
                #expect(a == b, "kernel output \(k) with \(threads) threads differs from 1 thread")
            }
        }
        expectNone(try BigWorkload.perTokenReferenceMismatches(single), "per-token workload vs reference")
        // The scalar kernels split the same way: 3 threads at ISA .scalar give the same bytes too.
        let scalar = try withRuntimeSettings(isa: .scalar, threads: 3) { try BigWorkload.run() }
        for (k, (a, b)) in zip(scalar, single).enumerated() {
            #expect(a == b, "kernel output \(k) at .scalar with 3 threads differs")
        }
    }
}

// Proves kernels may be called from many threads at once, nested inside each other's concurrent work, from
// Swift tasks, and while the thread count changes: no deadlock, and every call returns exactly the bytes of
// a lone call.
import Dispatch
import MoEKit
import Synchronization
import TestSupport
import Testing

@Suite("Concurrent calls", .tags(.threads), .serialized)
struct ConcurrentCallsThreadsTests {
    /// A smaller job (≈ 0.5M elements, still several tasks) each caller runs.
    static let job = QuantCase(layout: .perToken, rows: 128, columns: 4100, group: 128)
    static let x = Array(BigWorkload.x.prefix(128 * 4100))

    static func callOnce(_ i: Int) throws(MoEKitError) -> [UInt8] {
        var c = job
        c.config = QuantizationConfig.all[i % QuantizationConfig.all.count]
        return try QuantRun.quantize(c, x).bytes
    }
    static let expected: [[UInt8]] = (0..<QuantizationConfig.all.count).map { try! callOnce($0) }

    @Test("concurrentPerform with nested concurrentPerform", .hangGuard)
    func nestedDispatch() {
        let expected = Self.expected
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { i in
            do {
                if try Self.callOnce(i) != expected[i % expected.count] { failures.withLock { $0.append("outer \(i)") } }
                DispatchQueue.concurrentPerform(iterations: 3) { j in
                    do {
                        let k = i * 3 + j
                        if try Self.callOnce(k) != expected[k % expected.count] { failures.withLock { $0.append("inner \(i).\(j)") } }
                        let small = Array(Self.x.prefix(70_000 + k))
                        let codes = try CastRun.encode(small, format: .e4m3fn, overflow: .nan)
                        let ref = FP8Reference.e4m3fn
                        if (0..<small.count).contains(where: { codes[$0] != ref.encode(small[$0], overflow: .nan) }) {
                            failures.withLock { $0.append("cast \(i).\(j)") }
                        }
                    } catch {
                        failures.withLock { $0.append("inner \(i).\(j) threw \(error)") }
                    }
                }
            } catch {
                failures.withLock { $0.append("outer \(i) threw \(error)") }
            }
        }
        failures.withLock { #expect($0.isEmpty, "\($0)") }
    }

    @Test("Swift tasks", .hangGuard)
    func tasks() async throws {
        let expected = Self.expected
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for i in 0..<8 { group.addTask { (i, try Self.callOnce(i)) } }
            var all: [(Int, [UInt8])] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 8)
        for (i, bytes) in results { #expect(bytes == expected[i % expected.count], "task \(i)") }
    }

    @Test("thread count changing under running calls", .hangGuard)
    func changingThreadCount() {
        let expected = Self.expected
        let failures = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let toggler = DispatchGroup()
        withThreads(2) {
            // The settings lock is held by this test: a background job changes the count while calls run.
            DispatchQueue.global().async(group: toggler) {
                var k = 0
                while !stop.load(ordering: .acquiring) {
                    try! Runtime.setThreadCount([1, 2, 3, 7][k % 4])
                    k += 1
                }
            }
            DispatchQueue.concurrentPerform(iterations: 3) { i in
                for round in 0..<3 {
                    do {
                        let n = i * 3 + round
                        if try Self.callOnce(n) != expected[n % expected.count] { failures.withLock { $0.append("caller \(i) round \(round)") } }
                    } catch {
                        failures.withLock { $0.append("caller \(i) threw \(error)") }
                    }
                }
            }
            stop.store(true, ordering: .releasing)
            toggler.wait()
        }
        failures.withLock { #expect($0.isEmpty, "\($0)") }
    }
}

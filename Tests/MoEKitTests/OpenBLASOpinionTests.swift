// OpenBLAS as a third opinion for the grouped GEMMs: one cblas_sgemm per expert (the benchmark's baseline)
// agrees with MoEKit within twice the float64-derived rounding bound (each is within γ(n)·Σ|a·b| of exact).
import Baselines
import MoEKit
import Testing
import TestSupport

@Suite struct OpenBLASOpinionTests {
    @Test func mGroupedAndKGroupedAgreeWithOpenBLAS() throws {
        let sizes = [3, 0, 17, 64, 1], k = 300, n = 77
        var rng = SplitMix64(seed: 21)
        let rows = sizes.reduce(0, +)
        let x = (0..<rows * k).map { _ in Float.random(in: -1...1, using: &rng) }
        let w = (0..<sizes.count * n * k).map { _ in Float.random(in: -1...1, using: &rng) }
        let dy = (0..<rows * n).map { _ in Float.random(in: -1...1, using: &rng) }
        let sizes64 = sizes.map(Int64.init)
        baseline_openblas_threads(1)

        // forward, weights [G, N, K]: the bound for element (r, j) uses Σ|x·w| over the row and column
        var y = [Float](repeating: .nan, count: rows * n), yRef = y
        var view = y.mutableSpan
        try GroupedGEMM.mGrouped(x.span, rows: rows, k: k, groupSizes: sizes.span, weights: w.span, layout: .nk, n: n,
                                 into: &view)
        _ = consume view
        sizes64.withUnsafeBufferPointer { g in
            baseline_openblas_m_grouped(x, k, g.baseAddress, sizes.count, w, 1, n, &yRef)
        }
        var row = 0
        for (g, m) in sizes.enumerated() {
            for r in row..<row + m {
                for j in 0..<n {
                    let absSum = (0..<k).reduce(0.0) { $0 + abs(Double(x[r * k + $1]) * Double(w[g * n * k + j * k + $1])) }
                    let tolerance = 2 * GemmReference.bound(terms: k + 1, absSum: absSum)
                    #expect(abs(Double(y[r * n + j]) - Double(yRef[r * n + j])) <= tolerance, "forward (\(r), \(j))")
                }
            }
            row += m
        }

        // wgrad: dW [G, K, N]
        var dw = [Float](repeating: .nan, count: sizes.count * k * n), dwRef = dw
        var dwView = dw.mutableSpan
        try GroupedGEMM.kGrouped(x.span, rows: rows, k: k, groupSizes: sizes.span, dy: dy.span, n: n, into: &dwView)
        _ = consume dwView
        sizes64.withUnsafeBufferPointer { g in
            baseline_openblas_k_grouped(x, k, g.baseAddress, sizes.count, dy, n, &dwRef)
        }
        row = 0
        for (g, m) in sizes.enumerated() {
            for i in 0..<k {
                for j in 0..<n {
                    let absSum = (row..<row + m).reduce(0.0) { $0 + abs(Double(x[$1 * k + i]) * Double(dy[$1 * n + j])) }
                    let tolerance = 2 * GemmReference.bound(terms: m + 1, absSum: absSum)
                    let idx = g * k * n + i * n + j
                    #expect(abs(Double(dw[idx]) - Double(dwRef[idx])) <= tolerance, "wgrad (\(g), \(i), \(j))")
                }
            }
            row += m
        }
    }
}

// OpenBLAS as a third opinion for the grouped GEMMs: one cblas_sgemm per expert (the benchmark's baseline)
// agrees with MoEKit at every ISA, forward, dgrad and wgrad, within twice the float64-derived rounding bound
// (each is within γ(n)·Σ|a·b| of exact).
import Baselines
import MoEKit
import Testing
import TestSupport

@Suite struct OpenBLASOpinionTests {
    @Test func forwardDgradAndWgradAgreeWithOpenBLAS() throws {
        let sizes = [3, 0, 17, 64, 1], k = 300, n = 77
        var rng = SplitMix64(seed: 21)
        let rows = sizes.reduce(0, +)
        let x = (0..<rows * k).map { _ in Float.random(in: -1...1, using: &rng) }
        let w = (0..<sizes.count * n * k).map { _ in Float.random(in: -1...1, using: &rng) }
        let dy = (0..<rows * n).map { _ in Float.random(in: -1...1, using: &rng) }
        let sizes64 = sizes.map(Int64.init)
        baseline_openblas_threads(1)

        // forward (weights [G, N, K]) and dgrad (dX = dY . W with W [G, K, N]): the bound for element (r, j) uses
        // Σ|x·w| over the row and column
        for layout in [WeightLayout.nk, .kn] {
            func weight(_ g: Int, _ j: Int, _ l: Int) -> Float { w[g * n * k + (layout == .nk ? j * k + l : l * n + j)] }
            var yRef = [Float](repeating: .nan, count: rows * n)
            sizes64.withUnsafeBufferPointer { g in
                baseline_openblas_m_grouped(x, k, g.baseAddress, sizes.count, w, layout == .nk ? 1 : 0, n, &yRef)
            }
            var tolerance = [Double](), row = 0
            for (g, count) in sizes.enumerated() {
                for r in row..<row + count {
                    for j in 0..<n {
                        let absSum = (0..<k).reduce(0.0) { $0 + abs(Double(x[r * k + $1]) * Double(weight(g, j, $1))) }
                        tolerance.append(2 * GemmReference.bound(terms: k + 1, absSum: absSum))
                    }
                }
                row += count
            }
            for (isa, y) in try forEachISA({ _ -> [Float] in
                var y = [Float](repeating: .nan, count: rows * n)
                var view = y.mutableSpan
                try GroupedGEMM.mGrouped(x.span, rows: rows, k: k, groupSizes: sizes.span, weights: w.span, layout: layout,
                                         n: n, into: &view)
                _ = consume view
                return y
            }) {
                expectWithinBounds(y.map(Double.init), exact: yRef.map(Double.init), bound: tolerance, "\(isa) \(layout)")
            }
        }

        // wgrad: dW [G, K, N]
        var dwRef = [Float](repeating: .nan, count: sizes.count * k * n)
        sizes64.withUnsafeBufferPointer { g in
            baseline_openblas_k_grouped(x, k, g.baseAddress, sizes.count, dy, n, &dwRef)
        }
        var tolerance = [Double](), row = 0
        for count in sizes {
            for i in 0..<k {
                for j in 0..<n {
                    let absSum = (row..<row + count).reduce(0.0) { $0 + abs(Double(x[$1 * k + i]) * Double(dy[$1 * n + j])) }
                    tolerance.append(2 * GemmReference.bound(terms: count + 1, absSum: absSum)) // dW's order: g, i, j
                }
            }
            row += count
        }
        for (isa, dw) in try forEachISA({ _ -> [Float] in
            var dw = [Float](repeating: .nan, count: sizes.count * k * n)
            var view = dw.mutableSpan
            try GroupedGEMM.kGrouped(x.span, rows: rows, k: k, groupSizes: sizes.span, dy: dy.span, n: n, into: &view)
            _ = consume view
            return dw
        }) {
            expectWithinBounds(dw.map(Double.init), exact: dwRef.map(Double.init), bound: tolerance, "\(isa) wgrad")
        }
    }
}

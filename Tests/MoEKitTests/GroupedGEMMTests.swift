// The grouped GEMMs: every ISA bit-exact with the canonical order (ck_gemm.h) written independently in
// GemmReference, within the float64 error bound, for tile-edge sizes, zero-token experts, ragged routing, strides
// and beta; thread determinism; masked rows never read or written; streaming stores; bad input rejected
// untouched. (Batch invariance, for every operand type: GroupedGEMMPrecisionTests.)
import MoEKit
import Testing
import TestSupport

@Suite struct GroupedGEMMTests {
    /// A random problem: experts with the given row counts.
    struct Problem {
        var sizes: [Int], k: Int, n: Int
        var x: [Float], w: [Float]
        var rows: Int { sizes.reduce(0, +) }

        init(sizes: [Int], k: Int, n: Int, seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            self.sizes = sizes
            self.k = k
            self.n = n
            x = (0..<sizes.reduce(0, +) * k).map { _ in Float.random(in: -1...1, using: &rng) }
            w = (0..<sizes.count * n * k).map { _ in Float.random(in: -1...1, using: &rng) }
        }

        /// W[g] as [N, K] element (j, l).
        func wNK(_ g: Int, _ j: Int, _ l: Int) -> Float { w[g * n * k + j * k + l] }

        /// The expected [rows, n] output of the m-grouped GEMM in `layout` (weights given as [N, K] and
        /// transposed for .kn), and the float64 bound per element.
        func expected(beta: Float, old: [Float]) -> (bits: [Float], bound: [Double], exact: [Double]) {
            var out = [Float](repeating: 0, count: rows * n), bound = [Double](repeating: 0, count: rows * n)
            var exact = [Double](repeating: 0, count: rows * n)
            var row = 0
            for (g, m) in sizes.enumerated() {
                for r in row..<row + m {
                    for j in 0..<n {
                        let xs = x[r * k..<(r + 1) * k]
                        let ws = (0..<k).map { wNK(g, j, $0) }
                        let sum = GemmReference.chain(zip(xs, ws))
                        out[r * n + j] = GemmReference.store(sum, beta: beta, old: old[r * n + j])
                        let e = zip(xs, ws).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                        let carried = beta == 0 ? 0 : Double(beta) * Double(old[r * n + j]) // beta 0 never reads y
                        exact[r * n + j] = e + carried
                        let absSum = zip(xs, ws).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                        bound[r * n + j] = GemmReference.bound(terms: k + 1, absSum: absSum + abs(carried))
                    }
                }
                row += m
            }
            return (out, bound, exact)
        }

        /// The weights in `layout` order.
        func weights(_ layout: WeightLayout) -> [Float] {
            if layout == .packed { return packedReference(w, experts: sizes.count, n: n, k: k) }
            guard layout == .kn else { return w }
            var t = [Float](repeating: 0, count: w.count)
            for g in 0..<sizes.count { for j in 0..<n { for l in 0..<k { t[g * n * k + l * n + j] = wNK(g, j, l) } } }
            return t
        }

        func run(_ layout: WeightLayout, beta: Float, old: [Float]) throws -> [Float] {
            var y = old
            let ws = weights(layout)
            var view = y.mutableSpan
            try GroupedGEMM.mGrouped(x.span, rows: rows, k: k, groupSizes: sizes.span, weights: ws.span, layout: layout,
                                     n: n, beta: beta, into: &view)
            _ = consume view
            return y
        }
    }

    static let shapes: [(sizes: [Int], k: Int, n: Int)] = [
        ([1], 1, 1), ([3, 0, 5], 15, 7), ([0, 14, 1, 0, 17], 16, 6), ([4, 5], 17, 13),
        ([13, 2, 65], 128, 33), ([2, 7], 300, 97), ([0, 0], 8, 8), ([64], 129, 65), ([3, 1], 700, 66), ([70, 20], 1100, 90),
        // [N, K] experts of 9 ... 16 rows: on AVX-512 decode_nk's chains in registers, on AVX2 its chains in memory
        // up to 12 rows and past that the transposed tiles (two vectors of rows), in groups of 12, 8 or 6 columns (19
        // columns: the last group overlaps the one before; 5: fewer than a group); K = 1 (an [N, 1] expert is also
        // [1, N]), K under a vector, 300 columns (tasks of 120 share x), and 12 rows whose x passes 1 MiB (too large
        // for both: the packing tiles)
        ([15, 10, 11, 13, 9, 12, 14, 16], 40, 19), ([16, 12, 3], 1, 40), ([11], 5, 16), ([10, 2], 33, 300),
        ([12, 1], 21850, 3), ([9, 16, 13], 7, 5),
        // on AVX2 17 ... 24 rows too: two vectors and a half (17 ... 20 rows, groups of 4 columns) or three (21 ... 24,
        // groups of 3), 25 rows back on the packing tiles; 2 columns: fewer than a group
        ([17, 24, 20, 21, 25, 18, 23, 19, 22], 37, 17), ([24, 17], 3, 2),
        // a packed expert's x decoded whole, shared by three column tasks, over three spans of K (the last ragged)
        // with the tiles prefetching each next one
        ([20], 600, 300),
        // [N, K] experts of 24 to 64 rows: on AVX-512 the first four tiles of a full 64-column strip pack the next
        // full strip's panel (the span's next strip, or the next span's first) on the way; 544 = 256 + 256 + 32 (a
        // short last span, a multiple of 16, packed so too), 550 ends in a span of 38 (packed by itself); 200
        // columns make tasks of 128 and 72, whose second strip (8 columns) is ragged (packed by itself)
        ([30, 47], 544, 200), ([24], 550, 128),
        // row blocks (64 tiles: 384 rows at mr 6, 256 at the scalar mr 4) with remainders that join the last block
        // (up to a quarter of a block: 389 = 384 + 5, 300 = 256 + 44) and that get their own (481 = 384 + 97)
        ([300, 389, 481, 0], 9, 70),
    ]

    @Test(arguments: WeightLayout.allCases)
    func everyISAMatchesTheCanonicalOrder(layout: WeightLayout) throws {
        for (i, shape) in Self.shapes.enumerated() {
            let p = Problem(sizes: shape.sizes, k: shape.k, n: shape.n, seed: UInt64(i))
            for beta: Float in [0, 0.5] {
                var rng = SplitMix64(seed: 99)
                let old = beta == 0 ? [Float](repeating: .nan, count: p.rows * p.n)
                    : (0..<p.rows * p.n).map { _ in Float.random(in: -1...1, using: &rng) }
                let want = p.expected(beta: beta, old: old)
                for (isa, got) in try forEachISA({ _ in try p.run(layout, beta: beta, old: old) }) {
                    expectSameBits(got, want.bits, "\(isa) \(shape) beta \(beta)")
                    expectWithinBounds(got.map(Double.init), exact: want.exact, bound: want.bound,
                                       "\(isa) \(shape) beta \(beta)")
                }
            }
        }
    }

    /// Streaming stores (forced here by a threshold of 0; by default only outputs larger than the L3 cache)
    /// write the reference's bits, in whole lines and in the unaligned ends of rows, and nothing else.
    @Test func streamingStoresWriteTheSameBytes() throws {
        let k = 20, n = 40, maxRows = 72, valid = [70, 72] // rows of 160 bytes; experts past decode size (12 rows)
        let masked = Problem(sizes: valid, k: k, n: n, seed: 4)
        var x = masked.x // [2, maxRows, k]: NaN rows past expert 0's valid rows
        x.insert(contentsOf: [Float](repeating: .nan, count: (maxRows - valid[0]) * k), at: valid[0] * k)
        let dense = masked.expected(beta: 0, old: [Float](repeating: 0, count: masked.rows * n)).bits
        _ = try forEachISA(streamThreshold: 0) { isa -> Void in
            for (i, shape) in Self.shapes.enumerated() {
                let p = Problem(sizes: shape.sizes, k: shape.k, n: shape.n, seed: UInt64(i))
                let want = p.expected(beta: 0, old: [Float](repeating: 0, count: p.rows * p.n)).bits
                for layout in WeightLayout.allCases {
                    let got = try p.run(layout, beta: 0, old: [Float](repeating: .nan, count: p.rows * p.n))
                    expectSameBits(got, want, "\(isa) \(shape) \(layout)")
                }
            }
            var y = [Float](repeating: .infinity, count: 2 * maxRows * n)
            var view = y.mutableSpan
            try GroupedGEMM.mGroupedMasked(x.span, maxRows: maxRows, k: k, validRows: valid.span,
                                           weights: masked.w.span, layout: .nk, n: n, into: &view)
            _ = consume view
            let first = valid[0] * n, bits = y.map(\.bitPattern), want = dense.map(\.bitPattern)
            expectSameBits(Array(bits[0..<first]), Array(want[0..<first]), "\(isa) expert 0")
            #expect(y[first..<maxRows * n].allSatisfy { $0 == .infinity }, "\(isa): rows past valid_m written")
            expectSameBits(Array(bits[(maxRows * n)...]), Array(want[first...]), "\(isa) expert 1")
        }
    }

    /// A −NaN from x and a signalling +NaN from w meeting in one chain, on the decode path (expert 0, 2 rows, and
    /// with `.nk` weights expert 2, 20 rows) and the tile path (expert 1), and a NaN in y under beta: every NaN
    /// output is the quiet NaN 0x7FC00000 at every ISA (which NaN an fma passes on depends on its instruction
    /// form), and no other output is NaN.
    @Test func nanOutputsAreOneQuietNaN() throws {
        var p = Problem(sizes: [2, 70, 20], k: 20, n: 70, seed: 14)
        let nanRows = [0, 2, 80], nanColumn = 5
        for r in nanRows { p.x[r * p.k + 3] = Float(bitPattern: 0xFFC0_0001) }
        for g in 0..<3 { p.w[(g * p.n + nanColumn) * p.k + 7] = Float(bitPattern: 0x7FA0_0002) }
        for layout in WeightLayout.allCases {
            for beta: Float in [0, 0.5] {
                var old = [Float](repeating: beta == 0 ? .nan : 1, count: p.rows * p.n)
                old[41 * p.n + 9] = Float(bitPattern: 0xFFA0_0003) // a signalling −NaN that beta carries
                for (isa, y) in try forEachISA({ _ in try p.run(layout, beta: beta, old: old) }) {
                    for i in y.indices {
                        let (r, j) = (i / p.n, i % p.n)
                        let nan = nanRows.contains(r) || j == nanColumn || (beta != 0 && i == 41 * p.n + 9)
                        if nan != y[i].isNaN || nan && y[i].bitPattern != 0x7FC0_0000 {
                            Issue.record("\(isa) \(layout) beta \(beta): (\(r), \(j)) = 0x\(String(y[i].bitPattern, radix: 16))")
                            return
                        }
                    }
                }
            }
        }
    }

    /// Routing as a router gives it: eight experts of U(0.7, 1.3) x `mean` rows each, the mean near the layout's
    /// decode limits so that some experts take the decode kernels and some the packed tiles (with `.nk` weights on
    /// AVX2, some the transposed tiles), in one call, at every ISA.
    @Test(arguments: WeightLayout.allCases)
    func raggedRoutingMatchesTheCanonicalOrder(layout: WeightLayout) throws {
        let limits = decodeRowLimits(layout)
        let sizes = raggedGroupSizes(experts: 8, mean: layout == .nk ? 14 : 8, seed: layout == .nk ? 32 : 31)
        #expect(sizes.contains { $0 <= limits.lowerBound } && sizes.contains { $0 > limits.upperBound },
                "\(sizes) takes only one path")
        let p = Problem(sizes: sizes, k: 200, n: 150, seed: 32)
        let old = [Float](repeating: .nan, count: p.rows * p.n)
        let want = p.expected(beta: 0, old: old)
        for (isa, got) in try forEachISA({ _ in try p.run(layout, beta: 0, old: old) }) {
            expectSameBits(got, want.bits, "\(isa) \(layout) \(sizes)")
            expectWithinBounds(got.map(Double.init), exact: want.exact, bound: want.bound, "\(isa) \(layout) \(sizes)")
        }
    }

    @Test func threadCountsGiveTheSameBits() throws {
        let p = Problem(sizes: [300, 0, 1, 517, 64], k: 96, n: 200, seed: 3)
        for layout in WeightLayout.allCases {
            let old = [Float](repeating: .nan, count: p.rows * p.n)
            let one = try withThreads(1) { try p.run(layout, beta: 0, old: old) }
            for t in [2, 3, 7] {
                let many = try withThreads(t) { try p.run(layout, beta: 0, old: old) }
                expectSameBits(many, one, "\(t) threads")
            }
        }
    }

    @Test(arguments: WeightLayout.allCases)
    func maskedLayoutNeverTouchesRowsPastValid(layout: WeightLayout) throws {
        let experts = 4, maxRows = 20, k = 33, n = 18
        let valid = [0, 20, 1, 12]
        let p = Problem(sizes: [maxRows, maxRows, maxRows, maxRows], k: k, n: n, seed: 11)
        var x = p.x
        for g in 0..<experts { for r in valid[g]..<maxRows { for l in 0..<k { x[(g * maxRows + r) * k + l] = .nan } } }
        let w = p.weights(layout)
        for beta: Float in [0, 0.5] {
            let old = (0..<p.rows * n).map { i in beta == 0 ? Float.infinity : Float(i % 11) - 5 }
            let dense = p.expected(beta: beta, old: old).bits
            let want = (0..<p.rows * n).map { i in i / n % maxRows < valid[i / n / maxRows] ? dense[i] : old[i] }
            for (isa, y) in try forEachISA({ _ -> [Float] in
                var y = old
                var view = y.mutableSpan
                try GroupedGEMM.mGroupedMasked(x.span, maxRows: maxRows, k: k, validRows: valid.span, weights: w.span,
                                               layout: layout, n: n, beta: beta, into: &view)
                _ = consume view
                return y
            }) {
                expectSameBits(y, want, "\(isa) beta \(beta)")
            }
        }
    }

    /// Row strides past each row (and an expert stride past each expert's weights), the gaps filled with NaN:
    /// the packed calls' bits, and the gaps of y and dw never written (streaming stores too).
    @Test func stridesSkipTheGaps() throws {
        let p = Problem(sizes: [3, 0, 70, 9], k: 37, n: 45, seed: 12) // decode-sized and packed experts
        let experts = p.sizes.count, nk = p.n * p.k, ldx = p.k + 3, ldy = p.n + 2
        let x = spreadRows(p.x, length: p.k, stride: ldx, gap: Float.nan)
        let want = p.expected(beta: 0, old: [Float](repeating: 0, count: p.rows * p.n)).bits
        for layout in WeightLayout.allCases {
            let count = layout == .packed ? try GroupedGEMM.packedCount(n: p.n, k: p.k) : nk, ws = count + 5
            let w = spreadRows(p.weights(layout), length: count, stride: ws, gap: Float.nan)
            for stream in [nil, 0] {
                for (isa, y) in try forEachISA(streamThreshold: stream, { _ -> [Float] in
                    var y = [Float](repeating: .infinity, count: p.rows * ldy)
                    var view = y.mutableSpan
                    try GroupedGEMM.mGrouped(x.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, weights: w.span,
                                             layout: layout, n: p.n, into: &view, xStride: ldx, weightsStride: ws, yStride: ldy)
                    _ = consume view
                    return y
                }) {
                    let (kept, gaps) = gatherRows(y, length: p.n, stride: ldy)
                    expectSameBits(kept, want, "\(isa) \(layout) stream \(stream ?? -1)")
                    #expect(gaps.allSatisfy { $0 == .infinity }, "\(isa) \(layout): a gap of y was written")
                }
            }
        }
        // k-grouped: x and dy with row strides, dw with an expert stride
        var rng = SplitMix64(seed: 13)
        let dy = (0..<p.rows * p.n).map { _ in Float.random(in: -1...1, using: &rng) }
        let lddy = p.n + 4, dws = nk + 6, dyWide = spreadRows(dy, length: p.n, stride: lddy, gap: Float.nan)
        for layout in [WeightLayout.kn, .nk] {
            var packed = [Float](repeating: .nan, count: experts * nk)
            var view = packed.mutableSpan
            try GroupedGEMM.kGrouped(p.x.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, dy: dy.span, n: p.n,
                                     into: &view, layout: layout)
            _ = consume view
            for (isa, dw) in try forEachISA({ _ -> [Float] in
                var dw = [Float](repeating: .infinity, count: experts * dws)
                var view = dw.mutableSpan
                try GroupedGEMM.kGrouped(x.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, dy: dyWide.span, n: p.n,
                                         into: &view, layout: layout, xStride: ldx, dyStride: lddy, dwStride: dws)
                _ = consume view
                return dw
            }) {
                let (kept, gaps) = gatherRows(dw, length: nk, stride: dws)
                expectSameBits(kept, packed, "\(isa) \(layout)")
                #expect(gaps.allSatisfy { $0 == .infinity }, "\(isa) \(layout): a gap of dw was written")
            }
        }
    }

    /// The k-grouped GEMM against the chain, with empty experts, beta and streaming stores. With k 12 and n 1 each
    /// expert's dW has as many rows as a transposed-tile problem and dy's rows lie 1 apart: such problems must not
    /// take the transposed tiles, which read x as the m-grouped calls lay it out. With k 389 each dW's rows are one block
    /// of 384 + 5 rows (the remainder joins the last block), and a `.nk` output takes each strip's columns as runs.
    @Test(arguments: [(37, 45), (12, 1), (389, 21)])
    func kGroupedMatchesTheChainAndHandlesEmptyExperts(k: Int, n: Int) throws {
        let sizes = [5, 0, 130, 1]
        let p = Problem(sizes: sizes, k: k, n: n, seed: 5)
        var rng = SplitMix64(seed: 8)
        let dy = (0..<p.rows * n).map { _ in Float.random(in: -1...1, using: &rng) }
        for layout in [WeightLayout.kn, .nk] {
            for beta: Float in [0, 1, 0.25] {
                let old = (0..<sizes.count * k * n).map { i in beta == 0 ? Float.nan : Float(i % 7) - 3 }
                var want = old
                var row = 0
                for (g, m) in sizes.enumerated() {
                    for i in 0..<k {
                        for j in 0..<n {
                            let sum = GemmReference.chain((row..<row + m).map { (p.x[$0 * k + i], dy[$0 * n + j]) })
                            let idx = g * k * n + (layout == .kn ? i * n + j : j * k + i)
                            if m == 0 && beta == 1 { continue }
                            want[idx] = GemmReference.store(sum, beta: beta, old: old[idx])
                        }
                    }
                    row += m
                }
                for stream in beta == 0 ? [nil, 0] : [nil] { // 0: streaming stores
                    for (isa, got) in try forEachISA(streamThreshold: stream, { _ -> [Float] in
                        var dw = old
                        var view = dw.mutableSpan
                        try GroupedGEMM.kGrouped(p.x.span, rows: p.rows, k: k, groupSizes: sizes.span, dy: dy.span,
                                                 n: n, beta: beta, into: &view, layout: layout)
                        _ = consume view
                        return dw
                    }) {
                        expectSameBits(got, want, "\(isa) \(layout) beta \(beta) \(stream ?? -1)")
                    }
                }
            }
        }
    }

    @Test func badInputIsRejectedAndNothingIsWritten() throws {
        let p = Problem(sizes: [2, 3], k: 4, n: 5, seed: 1)
        /// Runs `call` on an output of `count` floats holding 42; a call that throws must leave it untouched.
        func outcome(_ count: Int, _ call: (inout MutableSpan<Float>) throws(MoEKitError) -> Void) -> MoEKitError? {
            var out = TestBuffer<Float>([Float](repeating: 42, count: count))
            var failure: MoEKitError?
            do {
                try out.withMutableSpan { (view) throws(MoEKitError) in try call(&view) }
            } catch { failure = error }
            #expect(failure == nil || out.elements.allSatisfy { $0 == 42 } && out.guardsIntact, "output written on error")
            return failure
        }
        func attempt(sizes: [Int], rows: Int, k: Int = 4, n: Int = 5, w: [Float]? = nil, beta: Float = 0) -> MoEKitError? {
            let weights = w ?? p.w
            return outcome(25) { (view) throws(MoEKitError) in
                try GroupedGEMM.mGrouped(p.x.span, rows: rows, k: k, groupSizes: sizes.span, weights: weights.span,
                                         layout: .nk, n: n, beta: beta, into: &view)
            }
        }
        #expect(attempt(sizes: [2, 2], rows: 5)?.argument == "groupSizes")   // do not add up
        #expect(attempt(sizes: [6, -1], rows: 5)?.argument == "groupSizes")  // negative
        #expect(attempt(sizes: [2, 3], rows: 5, w: [1, 2, 3])?.argument == "weights")
        #expect(attempt(sizes: [2, 3], rows: -1)?.argument == "rows")
        #expect(attempt(sizes: [2, 3], rows: 5, n: Int.max / 2)?.argument == "n")
        #expect(attempt(sizes: [Int.max, 1], rows: 5)?.argument == "groupSizes")
        for beta in [Float.nan, .infinity] {
            #expect(attempt(sizes: [2, 3], rows: 5, beta: beta).map { ErrorKind($0) == .invalidValue && $0.argument == "beta" } == true)
        }
        // the masked layout's valid rows, and the k-grouped GEMM's group sizes
        func attemptMasked(valid: [Int]) -> MoEKitError? {
            outcome(30) { (view) throws(MoEKitError) in
                try GroupedGEMM.mGroupedMasked(p.x.span, maxRows: 2, k: 4, validRows: valid.span, weights: p.w.span,
                                               layout: .nk, n: 5, into: &view)
            }
        }
        #expect(attemptMasked(valid: [1, 2]) == nil)
        #expect(attemptMasked(valid: [3, 0])?.argument == "validRows")
        #expect(attemptMasked(valid: [-1, 0])?.argument == "validRows")
        func attemptK(sizes: [Int]) -> MoEKitError? {
            outcome(40) { (view) throws(MoEKitError) in
                try GroupedGEMM.kGrouped(p.x.span, rows: 5, k: 4, groupSizes: sizes.span, dy: p.w.span, n: 5, into: &view)
            }
        }
        #expect(attemptK(sizes: [2, 3]) == nil)
        #expect(attemptK(sizes: [2, 2])?.argument == "groupSizes")
        #expect(attemptK(sizes: [6, -1])?.argument == "groupSizes")
    }

    @Test func anEmptyReductionWritesZerosOrLeavesTheOutput() throws {
        // K = 0 with decode-sized and larger experts, both layouts: beta 0 gives +0, beta 1 leaves every bit
        // (-0 and a NaN payload included), beta 0.5 gives fma(0.5, y, +0).
        let sizes = [2, 0, 70], n = 5, rows = 72
        let specials: [Float] = [-0.0, Float(bitPattern: 0x7FA0_0001)]
        let old: [Float] = (0..<rows * n).map { i -> Float in i % 3 < 2 ? specials[i % 3] : Float(i) }
        for layout in WeightLayout.allCases {
            for beta: Float in [0, 1, 0.5] {
                for (isa, got) in try forEachISA({ _ -> [UInt32] in
                    var y = old
                    var view = y.mutableSpan
                    try GroupedGEMM.mGrouped([Float]().span, rows: rows, k: 0, groupSizes: sizes.span,
                                             weights: [Float]().span, layout: layout, n: n, beta: beta, into: &view)
                    _ = consume view
                    return y.map(\.bitPattern)
                }) {
                    let want: [UInt32] = old.map { v -> UInt32 in
                        if beta == 1 { return v.bitPattern }
                        let out = beta == 0 ? 0 : Float(0).addingProduct(beta, v)
                        return out.isNaN ? 0x7FC0_0000 : out.bitPattern // the one NaN outputs carry
                    }
                    #expect(got == want, "\(isa) \(layout) beta \(beta)")
                }
            }
        }
    }
}

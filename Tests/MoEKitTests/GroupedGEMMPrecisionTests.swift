// The grouped GEMMs on BF16 and FP8 operands: every ISA bit-exact with the canonical orders (ck_gemm.h) written
// independently in GemmReference over the operands' exact values (BFloat16Reference, FP8Reference), rounded to
// the output type by BFloat16Reference, and within the float64 error bound. Sizes straddle the 128-wide scale
// blocks in K and N (partial last blocks), ragged routing, both weight layouts, beta, row strides, the masked
// layout, k-grouped BF16, and the C and Swift argument checks; batch invariance for every operand type, FP32 too.
import CKernels
import MoEKit
import Testing
import TestSupport

@Suite struct GroupedGEMMPrecisionTests {
    enum Element: CaseIterable { case f32, bf16, e4m3 }

    /// Random operands holding exactly representable values of their element types.
    struct Problem {
        var sizes: [Int], k: Int, n: Int
        var xt: Element, wt: Element
        var x: [Float], w: [Float]          // values; w as [G, N, K]
        var xCodes: [UInt8], wCodes: [UInt8] // E4M3 codes of x and w (w as [G, N, K]) when FP8
        var xScales: [Float], wScales: [Float] // [rows, ⌈k/128⌉] and [G, ⌈n/128⌉, ⌈k/128⌉] (the NK grid)
        var rows: Int { sizes.reduce(0, +) }
        var kb: Int { (k + 127) / 128 }
        var nb: Int { (n + 127) / 128 }

        init(sizes: [Int], k: Int, n: Int, x xt: Element, w wt: Element, seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            (self.sizes, self.k, self.n, self.xt, self.wt) = (sizes, k, n, xt, wt)
            let rows = sizes.reduce(0, +), e4m3 = FP8Reference.e4m3fn
            func code() -> UInt8 { e4m3Code(normal: false, using: &rng) }
            func weightCode(_ i: Int) -> UInt8 { e4m3Code(normal: inNormalTile(i / k % n, i % k), using: &rng) }
            func values(_ count: Int, _ t: Element, weights: Bool = false) -> ([Float], [UInt8]) {
                switch t {
                case .f32: return ((0..<count).map { _ in Float.random(in: -1...1, using: &rng) }, [])
                case .bf16:
                    return ((0..<count).map { _ in
                        Float(BFloat16Reference.value(BFloat16Reference.round(Float.random(in: -1...1, using: &rng))))
                    }, [])
                case .e4m3:
                    let codes = (0..<count).map { weights ? weightCode($0) : code() }
                    return (codes.map { Float(e4m3.values[Int($0)]) }, codes)
                }
            }
            (x, xCodes) = values(rows * k, xt)
            (w, wCodes) = values(sizes.count * n * k, wt, weights: true)
            let blocks = (k + 127) / 128, grid = (n + 127) / 128 * blocks
            xScales = (0..<rows * blocks).map { _ in Float.random(in: 0.5...2, using: &rng) * 0x1p-6 }
            wScales = (0..<sizes.count * grid).map { _ in Float.random(in: 0.5...2, using: &rng) * 0x1p-3 }
        }

        func wNK(_ g: Int, _ j: Int, _ l: Int) -> Int { g * n * k + j * k + l }

        /// [G, N, K] data (and its NK scale grid) in `layout` order.
        func laidOut<T: BitwiseCopyable>(_ data: [T], _ layout: WeightLayout) -> [T] {
            if layout == .packed, !data.isEmpty { return packedReference(data, experts: sizes.count, n: n, k: k) }
            guard layout == .kn, !data.isEmpty else { return data }
            var t = data
            for g in 0..<sizes.count { for j in 0..<n { for l in 0..<k { t[g * n * k + l * n + j] = data[wNK(g, j, l)] } } }
            return t
        }
        func scales(_ layout: WeightLayout) -> [Float] {
            guard layout == .kn else { return wScales }
            var t = wScales
            for g in 0..<sizes.count { for jb in 0..<nb { for b in 0..<kb { t[g * nb * kb + b * nb + jb] = wScales[g * nb * kb + jb * kb + b] } } }
            return t
        }

        /// The canonical sum of output (r, j) of expert g (with `dot`, BF16 and E4M3 operands in the dot-product
        /// order), and Σ|terms| in float64 for the bound.
        func sum(_ r: Int, _ g: Int, _ j: Int, dot: Bool = false) -> (Float, exact: Double, abs: Double) {
            let pairs = (0..<k).map { (x[r * k + $0], w[wNK(g, j, $0)]) }
            var exact = 0.0, absSum = 0.0
            for (l, (a, b)) in pairs.enumerated() {
                var term = Double(a) * Double(b)
                if wt == .e4m3 {
                    term *= Double(wScales[(g * nb + j / 128) * kb + l / 128])
                    if xt == .e4m3 { term *= Double(xScales[r * kb + l / 128]) }
                }
                exact += term
                absSum += abs(term)
            }
            let dot = dot && xt != .f32 && wt != .f32
            func partial(_ block: [(Float, Float)]) -> Float {
                dot ? GemmReference.dotPairs(block) : GemmReference.chain(block)
            }
            guard wt == .e4m3 else { return (partial(pairs), exact, absSum) }
            let a = (0..<kb).map { xt == .e4m3 ? xScales[r * kb + $0] : 1 }
            let b = (0..<kb).map { wScales[(g * nb + j / 128) * kb + $0] }
            return (GemmReference.blockScaled(pairs, aScales: a, bScales: b, partial: partial), exact, absSum)
        }
    }

    /// The expected output bits (as Float values of the output type) and float64 bounds.
    static func expected(_ p: Problem, beta: Float, old: [Float], bf16Out: Bool,
                         dot: Bool = false) -> (bits: [UInt32], exact: [Double], bound: [Double]) {
        var bits = [UInt32](), exact = [Double](), bound = [Double]()
        var row = 0
        for (g, m) in p.sizes.enumerated() {
            for r in row..<row + m {
                for j in 0..<p.n {
                    let (s, e, a) = p.sum(r, g, j, dot: dot)
                    let out = GemmReference.store(s, beta: beta, old: old[r * p.n + j])
                    bits.append(bf16Out ? UInt32(BFloat16Reference.round(out)) : out.bitPattern)
                    let carried = beta == 0 ? 0 : Double(beta) * Double(old[r * p.n + j])
                    exact.append(e + carried)
                    let terms = p.k + (p.wt == .e4m3 ? 2 * p.kb : 0) + 1
                    let rounding = GemmReference.bound(terms: terms, absSum: a + abs(carried))
                    bound.append(rounding + (bf16Out ? abs(e + carried) * 0x1p-8 * 1.01 : 0))
                }
            }
            row += m
        }
        return (bits, exact, bound)
    }

    /// Runs the m-grouped overload matching the problem's types, into `old` ([rows, n] values of the output type).
    /// With `gaps`, x's rows lie `k + gaps.x` elements apart (NaN between them) and y's `n + gaps.y` (+∞ between
    /// them, which must stay).
    static func run(_ p: Problem, _ layout: WeightLayout, beta: Float, old: [Float], bf16Out: Bool,
                    gaps: (x: Int, y: Int) = (0, 0)) throws -> [UInt32] {
        let ldx = p.k + gaps.x, ldy = p.n + gaps.y
        let xF = spreadRows(p.x, length: p.k, stride: ldx, gap: Float.nan)
        let xBF = spreadRows(p.x.map { BFloat16($0) }, length: p.k, stride: ldx, gap: BFloat16(Float.nan))
        let xC = spreadRows(p.xCodes, length: p.k, stride: ldx, gap: UInt8(0x7F)), wBF = p.laidOut(p.w.map { BFloat16($0) }, layout)
        let wF = p.laidOut(p.w, layout), wC = p.laidOut(p.wCodes, layout), ws = p.scales(layout)
        func go<Y: KernelFloat>(_ y: inout [Y]) throws {
            var view = y.mutableSpan
            switch (p.xt, p.wt) {
            case (.e4m3, _):
                try GroupedGEMM.mGrouped(fp8: xC.span, xScales: p.xScales.span, rows: p.rows, k: p.k,
                                         groupSizes: p.sizes.span, fp8Weights: wC.span, weightScales: ws.span,
                                         layout: layout, n: p.n, beta: beta, into: &view, xStride: ldx, yStride: ldy)
            case (.f32, .e4m3):
                try GroupedGEMM.mGrouped(xF.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, fp8Weights: wC.span,
                                         weightScales: ws.span, layout: layout, n: p.n, beta: beta, into: &view,
                                         xStride: ldx, yStride: ldy)
            case (.bf16, .e4m3):
                try GroupedGEMM.mGrouped(xBF.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, fp8Weights: wC.span,
                                         weightScales: ws.span, layout: layout, n: p.n, beta: beta, into: &view,
                                         xStride: ldx, yStride: ldy)
            case (.f32, .bf16):
                try GroupedGEMM.mGrouped(xF.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, weights: wBF.span,
                                         layout: layout, n: p.n, beta: beta, into: &view, xStride: ldx, yStride: ldy)
            case (.bf16, .bf16):
                try GroupedGEMM.mGrouped(xBF.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, weights: wBF.span,
                                         layout: layout, n: p.n, beta: beta, into: &view, xStride: ldx, yStride: ldy)
            case (.bf16, .f32):
                try GroupedGEMM.mGrouped(xBF.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, weights: wF.span,
                                         layout: layout, n: p.n, beta: beta, into: &view, xStride: ldx, yStride: ldy)
            case (.f32, .f32):
                try GroupedGEMM.mGrouped(xF.span, rows: p.rows, k: p.k, groupSizes: p.sizes.span, weights: wF.span,
                                         layout: layout, n: p.n, beta: beta, into: &view, xStride: ldx, yStride: ldy)
            }
        }
        let bits = try outputBits(spreadRows(old, length: p.n, stride: ldy, gap: Float.infinity), bf16Out: bf16Out, go, go)
        let infinity = bf16Out ? UInt32(BFloat16(Float.infinity).bitPattern) : Float.infinity.bitPattern
        let (kept, gaps) = gatherRows(bits, length: p.n, stride: ldy)
        let written = gaps.count { $0 != infinity }
        #expect(written == 0, "\(written) element(s) between y's rows written")
        return kept
    }

    static let combos: [(Element, Element, bf16Out: Bool)] = [
        (.f32, .bf16, false), (.bf16, .bf16, true), (.bf16, .f32, false), (.f32, .e4m3, false), (.bf16, .e4m3, true),
        (.e4m3, .e4m3, true), (.e4m3, .e4m3, false),
    ]
    static let shapes: [(sizes: [Int], k: Int, n: Int)] = [
        ([3, 0, 130], 300, 130), ([1, 2], 127, 64), ([5], 128, 257), ([0, 7, 1], 129, 17), ([2], 1, 3),
        ([2, 1], 1100, 70), ([12, 70], 1030, 40), ([23], 260, 20),
        (raggedNK, 150, 70), (raggedKN, 150, 70),
        ([1, 0, 2], 400, 40), // an odd number of whole scale blocks, then a part, for one and two rows
    ]
    /// Ragged routing, U(0.7, 1.3) x 14 and x 8 rows: around the decode limits of `.nk` and of `.kn` weights.
    static let raggedNK = raggedGroupSizes(experts: 6, mean: 14, seed: 35)
    static let raggedKN = raggedGroupSizes(experts: 6, mean: 8, seed: 34)

    @Test func raggedShapesStraddleTheDecodeLimits() {
        for (sizes, layout) in [(Self.raggedNK, WeightLayout.nk), (Self.raggedKN, .kn)] {
            let limits = decodeRowLimits(layout)
            #expect(sizes.contains { $0 <= limits.lowerBound } && sizes.contains { $0 > limits.upperBound },
                    "\(sizes) with \(layout) weights")
        }
    }

    @Test(arguments: WeightLayout.allCases)
    func everyISAMatchesTheCanonicalOrders(layout: WeightLayout) throws {
        for (c, (xt, wt, bf16Out)) in Self.combos.enumerated() {
            for (s, shape) in Self.shapes.enumerated() {
                let p = Problem(sizes: shape.sizes, k: shape.k, n: shape.n, x: xt, w: wt, seed: UInt64(c * 16 + s))
                for beta: Float in [0, 0.5] {
                    let old = priorOutputs(p.rows * p.n, beta: beta, seed: 5)
                    let want = Self.expected(p, beta: beta, old: old, bf16Out: bf16Out)
                    for (isa, got) in try forEachISA({ _ in try Self.run(p, layout, beta: beta, old: old, bf16Out: bf16Out) }) {
                        expectMatches(got, want, bf16Out: bf16Out, "\(isa) x \(xt) w \(wt) bf16 out \(bf16Out) \(shape) beta \(beta)")
                    }
                    if beta == 0 && s == 0 { // streaming stores (n = 130: whole lines and unaligned ends; each ISA's strips cut the rows differently)
                        for (isa, got) in try forEachISA(streamThreshold: 0, { _ in
                            try Self.run(p, layout, beta: beta, old: old, bf16Out: bf16Out)
                        }) {
                            expectMatches(got, want, bf16Out: bf16Out, "streamed \(isa) x \(xt) w \(wt) bf16 out \(bf16Out) \(shape)")
                        }
                    }
                }
            }
        }
    }

    /// `[K, N]` decode tasks take whole rows of weights or, when that would leave threads idle, fewer columns:
    /// with 6600 columns in all, 1, 5, 20 and 64 threads give tasks of 2048 columns (a 2048-column kernel call,
    /// then a 152-column one), 1408 (a call across 11 scale blocks, then one starting at column 1408), 384
    /// and 128 (one scale block per call). Packed weights take the same tasks in kernel calls of up to 8 strips
    /// (512 columns; the last strip ragged). Each must give the canonical bits.
    @Test(arguments: [WeightLayout.kn, .packed])
    func knDecodeTaskWidthsGiveTheCanonicalBits(layout: WeightLayout) throws {
        let p = Problem(sizes: [3, 0, 8, 1], k: 260, n: 2200, x: .e4m3, w: .e4m3, seed: 40) // 3 blocks of K
        let old = priorOutputs(p.rows * p.n, beta: 0.5, seed: 6)
        let want = Self.expected(p, beta: 0.5, old: old, bf16Out: false)
        for t in [1, 5, 20, 64] {
            for (isa, got) in try forEachISA(threads: t, { _ in try Self.run(p, layout, beta: 0.5, old: old, bf16Out: false) }) {
                expectMatches(got, want, bf16Out: false, "\(isa) \(layout) decode, \(t) threads")
            }
        }
    }

    /// Rows of x and y with strides (gaps of NaN in x, of +∞ in y that must stay), decode-sized and packed experts:
    /// the canonical bits at every ISA, for every operand type.
    @Test(arguments: [WeightLayout.nk, .kn])
    func rowStridesSkipTheGaps(layout: WeightLayout) throws {
        for (c, (xt, wt, bf16Out)) in Self.combos.enumerated() {
            let p = Problem(sizes: [3, 0, 70, 9], k: 150, n: 45, x: xt, w: wt, seed: UInt64(60 + c))
            for beta: Float in [0, 0.5] { // beta 0.5 reads y through its stride too
                let old = priorOutputs(p.rows * p.n, beta: beta, seed: 7)
                let want = Self.expected(p, beta: beta, old: old, bf16Out: bf16Out)
                for (isa, got) in try forEachISA({ _ in
                    try Self.run(p, layout, beta: beta, old: old, bf16Out: bf16Out, gaps: (x: 5, y: 3))
                }) {
                    expectMatches(got, want, bf16Out: bf16Out,
                                  "\(isa) \(layout) x \(xt) w \(wt) bf16 out \(bf16Out) beta \(beta)")
                }
            }
        }
    }

    /// Batch invariance, on FP32, BF16 and FP8 operands: a token's row has the same bits alone (T = 1, the decode
    /// kernels), among 17 rows of its expert and among 4096 (the packed tiles), at every ISA.
    @Test(arguments: WeightLayout.allCases)
    func batchInvariance(layout: WeightLayout) throws {
        let k = 260, n = 21, r = 103 // row 103 belongs to expert 1 (rows 3 ..< 4099); K: two whole scale blocks and a part
        for (xt, wt, bf16Out) in [(Element.f32, Element.f32, false), (.bf16, .bf16, true), (.f32, .e4m3, false),
                                  (.e4m3, .e4m3, false)] {
            let big = Problem(sizes: [3, 4096, 17], k: k, n: n, x: xt, w: wt, seed: 41)
            _ = try forEachISA { isa in
                let all = try Self.run(big, layout, beta: 0, old: [Float](repeating: .nan, count: big.rows * n), bf16Out: bf16Out)
                for (first, count) in [(r, 1), (r - 8, 17)] {
                    var small = big
                    small.sizes = [0, count, 0]
                    small.x = Array(big.x[first * k..<(first + count) * k])
                    if xt == .e4m3 {
                        small.xCodes = Array(big.xCodes[first * k..<(first + count) * k])
                        small.xScales = Array(big.xScales[first * big.kb..<(first + count) * big.kb])
                    }
                    let got = try Self.run(small, layout, beta: 0, old: [Float](repeating: .nan, count: count * n), bf16Out: bf16Out)
                    let local = r - first
                    expectSameBits(Array(got[local * n..<(local + 1) * n]), Array(all[r * n..<(r + 1) * n]),
                                   "\(isa) \(layout) x \(xt) w \(wt) T = \(count)")
                }
            }
        }
    }

    @Test func threadCountsGiveTheSameBits() throws {
        let p = Problem(sizes: [300, 0, 1, 200], k: 260, n: 300, x: .e4m3, w: .e4m3, seed: 3)
        let old = [Float](repeating: .nan, count: p.rows * p.n)
        let one = try withThreads(1) { try Self.run(p, .nk, beta: 0, old: old, bf16Out: true) }
        for t in [2, 3] {
            #expect(try withThreads(t) { try Self.run(p, .nk, beta: 0, old: old, bf16Out: true) } == one, "\(t) threads")
        }
    }

    /// The masked FP8 calls (weight-only and FP8 x FP8), both layouts, with and without beta: valid rows get the
    /// dense call's bits, rows past valid (NaN activations, NaN scales) are neither read nor written.
    @Test(arguments: [Element.bf16, .e4m3])
    func maskedFP8MatchesTheDenseCall(x xt: Element) throws {
        let experts = 3, maxRows = 4, k = 200, n = 140, valid = [2, 0, 4]
        let p = Problem(sizes: [Int](repeating: maxRows, count: experts), k: k, n: n, x: xt, w: .e4m3, seed: 9)
        var x = p.x.map { BFloat16($0) }, codes = p.xCodes, scales = p.xScales
        for g in 0..<experts {
            for r in valid[g]..<maxRows {
                let row = g * maxRows + r
                for l in 0..<k { x[row * k + l] = BFloat16(Float.nan) }
                if xt == .e4m3 {
                    for l in 0..<k { codes[row * k + l] = 0x7F }
                    for b in 0..<p.kb { scales[row * p.kb + b] = .nan }
                }
            }
        }
        var rng = SplitMix64(seed: 21)
        for layout in WeightLayout.allCases {
            let wC = p.laidOut(p.wCodes, layout), ws = p.scales(layout)
            for beta: Float in [0, 0.5] {
                let old = (0..<p.rows * n).map { _ in Float(BFloat16(Float.random(in: -1...1, using: &rng)).floatValue) }
                let dense = Self.expected(p, beta: beta, old: old, bf16Out: true).bits
                for (isa, y) in try forEachISA({ _ -> [BFloat16] in
                    var y = old.map { BFloat16($0) }
                    var view = y.mutableSpan
                    if xt == .e4m3 {
                        try GroupedGEMM.mGroupedMasked(fp8: codes.span, xScales: scales.span, maxRows: maxRows, k: k,
                                                       validRows: valid.span, fp8Weights: wC.span, weightScales: ws.span,
                                                       layout: layout, n: n, beta: beta, into: &view)
                    } else {
                        try GroupedGEMM.mGroupedMasked(x.span, maxRows: maxRows, k: k, validRows: valid.span,
                                                       fp8Weights: wC.span, weightScales: ws.span, layout: layout, n: n,
                                                       beta: beta, into: &view)
                    }
                    _ = consume view
                    return y
                }) {
                    let want = (0..<p.rows * n).map { i in
                        i / n % maxRows < valid[i / n / maxRows] ? dense[i] : UInt32(BFloat16(old[i]).bitPattern)
                    }
                    expectSameBits(y.map { UInt32($0.bitPattern) }, want, "\(isa) \(layout) beta \(beta)")
                }
            }
        }
    }

    /// NaN weight codes (0x7F, 0xFF) make exactly their columns NaN, on the decode and the packed paths.
    @Test(arguments: WeightLayout.allCases)
    func nanWeightCodesReachTheirColumnsOnly(layout: WeightLayout) throws {
        // n = 80: expert 1 (70 rows, the packed path) has a whole 64-column strip; expert 2 (14 rows) takes the
        // decode kernel with `.nk` weights; NaNs inside whole 16 x 16 blocks, in a ragged column group, and in
        // the K tail past the last whole block
        var p = Problem(sizes: [2, 70, 14], k: 300, n: 80, x: .bf16, w: .e4m3, seed: 11)
        let nans: [(g: Int, j: Int, l: Int, code: UInt8)] = [
            (0, 3, 17, 0x7F), (0, 20, 200, 0xFF), (0, 70, 299, 0x7F), (1, 33, 128, 0x7F), (1, 49, 0, 0xFF), (1, 79, 250, 0xFF),
            (2, 8, 40, 0xFF), (2, 66, 290, 0x7F),
        ]
        for c in nans {
            p.wCodes[p.wNK(c.g, c.j, c.l)] = c.code
            p.w[p.wNK(c.g, c.j, c.l)] = .nan
        }
        let old = [Float](repeating: .nan, count: p.rows * p.n)
        let want = Self.expected(p, beta: 0, old: old, bf16Out: true).bits
        #expect(want.filter { BFloat16Reference.value(UInt16($0)).isNaN }.count == 3 * 2 + 3 * 70 + 2 * 14)
        for (isa, got) in try forEachISA({ _ in try Self.run(p, layout, beta: 0, old: old, bf16Out: true) }) {
            for i in got.indices {
                if BFloat16Reference.value(UInt16(want[i])).isNaN {
                    #expect(BFloat16Reference.value(UInt16(got[i])).isNaN, "\(isa) \(layout) element \(i)")
                } else {
                    #expect(got[i] == want[i], "\(isa) \(layout) element \(i)")
                }
            }
        }
    }

    /// Activations of 2^120 or more in magnitude against packed FP8 weights: the strips decode normal codes scaled
    /// by 2^-8 against x scaled by 2^8, which is exact only below 2^120, so the chunks holding these must take the
    /// unscaled decode and keep the canonical bits (finite products stay finite). The largest float below 2^120, a
    /// subnormal and -0 sit in a chunk of normal codes only, where they scale; the 6-row expert has a huge value in
    /// its last row, and the 8-row one (past the strips kernel's rows: the passes, x unscaled) one in its last row too.
    @Test func hugeActivationsKeepTheCanonicalBits() throws {
        // 1, 3, 6 and 8 rows: one, two and one packed strips side by side (AVX-512), then the passes; n = 140
        // leaves a ragged third strip. Rows 4 ..< 10 are expert 2's, 10 ..< 18 expert 3's; l in 16 ..< 32 is all
        // normal in strips 0 and 1 (inNormalTile), l in 32 ..< 48 in strip 0.
        var p = Problem(sizes: [1, 3, 6, 8], k: 300, n: 140, x: .f32, w: .e4m3, seed: 12)
        let special: [(r: Int, l: Int, x: Float)] = [
            (0, 5, 0x1p120), (1, 140, -0x1p124), (3, 17, -0x1.8p120), (7, 64, 0x1p125), (9, 250, -0x1p121),
            (17, 40, 0x1p122), (2, 20, 0x1.fffffep119), (2, 21, 0x1p-140), (2, 22, -0.0), (12, 24, -0x1p-149),
        ]
        for s in special { p.x[s.r * p.k + s.l] = s.x }
        let old = [Float](repeating: .nan, count: p.rows * p.n)
        let want = Self.expected(p, beta: 0, old: old, bf16Out: false).bits
        let finite = want.count { Float(bitPattern: $0).isFinite }
        #expect(finite > want.count * 3 / 4, "most outputs must stay finite to tell the paths apart")
        for (isa, got) in try forEachISA({ _ in try Self.run(p, .packed, beta: 0, old: old, bf16Out: false) }) {
            expectSameBits(got, want, "\(isa)")
        }
    }

    /// Packed FP8 weights as a checkpoint holds them: normal codes with a zero or subnormal one here and there (one
    /// in 3000), so that a 16-row chunk of one strip is all normal with odds 0.71, of four strips 0.25, and the others
    /// go row by row, a row of four strips needing the exact decode with odds 0.08. 1, 2, 3 and 6 rows: four, three,
    /// two and one strips side by side.
    @Test func sparseZeroAndSubnormalCodesKeepTheCanonicalBits() throws {
        var p = Problem(sizes: [1, 2, 3, 6], k: 260, n: 320, x: .f32, w: .e4m3, seed: 13)
        var rng = SplitMix64(seed: 14)
        let e4m3 = FP8Reference.e4m3fn
        for i in p.wCodes.indices {
            let rare = Int.random(in: 0..<3000, using: &rng) == 0
            let code = rare ? UInt8.random(in: 0...7, using: &rng) | (Bool.random(using: &rng) ? 0x80 : 0)
                            : e4m3Code(normal: true, using: &rng)
            p.wCodes[i] = code
            p.w[i] = Float(e4m3.values[Int(code)])
        }
        let old = [Float](repeating: .nan, count: p.rows * p.n)
        let want = Self.expected(p, beta: 0, old: old, bf16Out: false)
        for (isa, got) in try forEachISA({ _ in try Self.run(p, .packed, beta: 0, old: old, bf16Out: false) }) {
            expectMatches(got, want, bf16Out: false, "\(isa)")
        }
    }

    @Test func kGroupedOnBF16() throws {
        let sizes = [4, 0, 131], k = 20, n = 70
        let p = Problem(sizes: sizes, k: k, n: n, x: .bf16, w: .bf16, seed: 4)
        var rng = SplitMix64(seed: 6)
        let dy = (0..<p.rows * n).map { _ in BFloat16(Float.random(in: -1...1, using: &rng)) }
        let x = p.x.map { BFloat16($0) }
        var want = [UInt16](), row = 0
        for m in sizes {
            for i in 0..<k {
                for j in 0..<n {
                    want.append(BFloat16Reference.round(GemmReference.chain((row..<row + m).map {
                        (p.x[$0 * k + i], Float(BFloat16Reference.value(dy[$0 * n + j].bitPattern)))
                    })))
                }
            }
            row += m
        }
        for (isa, got) in try forEachISA({ _ -> [UInt16] in
            var dw = [BFloat16](repeating: BFloat16(Float.nan), count: sizes.count * k * n)
            var view = dw.mutableSpan
            try GroupedGEMM.kGrouped(x.span, rows: p.rows, k: k, groupSizes: sizes.span, dy: dy.span, n: n, into: &view)
            _ = consume view
            return dw.map(\.bitPattern)
        }) {
            #expect(got == want, "\(isa)")
        }
    }

    /// FP8 k-grouped operands: x and dy transposed as codes ([k, rows], [n, rows]) with per-channel scales,
    /// one column per 128-token block of each expert (blocks start at the expert's first token).
    struct WgradProblem {
        var sizes: [Int], k: Int, n: Int
        var xT: [UInt8], dyT: [UInt8], xScales: [Float], dyScales: [Float]
        var rows: Int { sizes.reduce(0, +) }
        var blocks: Int { sizes.map { ($0 + 127) / 128 }.reduce(0, +) }

        init(sizes: [Int], k: Int, n: Int, seed: UInt64) {
            (self.sizes, self.k, self.n) = (sizes, k, n)
            var rng = SplitMix64(seed: seed)
            let rows = sizes.reduce(0, +), blocks = sizes.map { ($0 + 127) / 128 }.reduce(0, +)
            // dyT is packed through the block loads (in whole strips), so it gets the weights' tiles
            xT = (0..<k * rows).map { _ in e4m3Code(normal: false, using: &rng) }
            dyT = (0..<n * rows).map { e4m3Code(normal: inNormalTile($0 / rows, $0 % rows), using: &rng) }
            xScales = (0..<k * blocks).map { _ in Float.random(in: 0.5...2, using: &rng) * 0x1p-4 }
            dyScales = (0..<n * blocks).map { _ in Float.random(in: 0.5...2, using: &rng) * 0x1p-5 }
        }

        /// Expected dw bits (as Float or, with `bf16Out`, BFloat16 patterns), float64 values and bounds, in
        /// `layout`, accumulated onto `old` with `beta` (old: NaN for beta 0, which must never be read).
        func expected(_ layout: WeightLayout, beta: Float = 0, old: [Float]? = nil, bf16Out: Bool = false)
            -> (bits: [UInt32], exact: [Double], bound: [Double]) {
            let e4m3 = FP8Reference.e4m3fn, count = sizes.count * k * n
            var bits = [UInt32](repeating: 0, count: count), exact = [Double](repeating: 0, count: count)
            var bound = [Double](repeating: 0, count: count)
            var row = 0, first = 0
            for (g, m) in sizes.enumerated() {
                let nb = (m + 127) / 128
                for i in 0..<k {
                    for j in 0..<n {
                        let pairs = (0..<m).map {
                            (Float(e4m3.values[Int(xT[i * rows + row + $0])]), Float(e4m3.values[Int(dyT[j * rows + row + $0])]))
                        }
                        let a = (0..<nb).map { xScales[i * blocks + first + $0] }, b = (0..<nb).map { dyScales[j * blocks + first + $0] }
                        var e = 0.0, absSum = 0.0
                        for (t, (u, v)) in pairs.enumerated() {
                            let term = Double(u) * Double(v) * Double(a[t / 128]) * Double(b[t / 128])
                            e += term
                            absSum += abs(term)
                        }
                        let at = layout == .kn ? (g * k + i) * n + j : (g * n + j) * k + i
                        let prior = old?[at] ?? .nan, carried = beta == 0 ? 0 : Double(beta) * Double(prior)
                        let out = GemmReference.store(GemmReference.blockScaled(pairs, aScales: a, bScales: b), beta: beta, old: prior)
                        bits[at] = bf16Out ? UInt32(BFloat16Reference.round(out)) : out.bitPattern
                        exact[at] = e + carried
                        bound[at] = GemmReference.bound(terms: m + 2 * nb + 1, absSum: absSum + abs(carried))
                            + (bf16Out ? abs(e + carried) * 0x1p-8 * 1.01 : 0)
                    }
                }
                row += m
                first += nb
            }
            return (bits, exact, bound)
        }

        func run(_ layout: WeightLayout, xScales: [Float]? = nil, beta: Float = 0, old: [Float]? = nil,
                 bf16Out: Bool = false) throws(MoEKitError) -> [UInt32] {
            let xs = xScales ?? self.xScales, prior = old ?? [Float](repeating: .nan, count: sizes.count * k * n)
            func go<W: KernelFloat>(_ dw: inout [W]) throws(MoEKitError) {
                var view = dw.mutableSpan
                try GroupedGEMM.kGrouped(fp8Transposed: xT.span, xScales: xs.span, rows: rows, k: k,
                                         groupSizes: sizes.span, dyTransposed: dyT.span, dyScales: dyScales.span, n: n,
                                         beta: beta, into: &view, layout: layout)
            }
            return try outputBits(prior, bf16Out: bf16Out, go, go)
        }
    }

    /// Shapes reach every path on both vector widths: dy packed in whole 64- and 16-column strips through the
    /// block loads (n = 130 with experts of 128 and more tokens), ragged strips, tiny and empty experts.
    @Test(arguments: [WeightLayout.kn, .nk])
    func kGroupedFP8MatchesTheBlockScaledOrder(layout: WeightLayout) throws {
        let shapes = [([130, 0, 1, 300, 128], 70, 130), ([130, 0, 1, 300, 128], 70, 40), ([5], 17, 130), ([0, 0], 3, 4)]
        for (s, shape) in shapes.enumerated() {
            let p = WgradProblem(sizes: shape.0, k: shape.1, n: shape.2, seed: UInt64(20 + s))
            for (beta, bf16Out) in [(Float(0), false), (0.5, true)] {
                let old = priorOutputs(p.sizes.count * p.k * p.n, beta: beta, seed: 8)
                let want = p.expected(layout, beta: beta, old: old, bf16Out: bf16Out)
                for (isa, got) in try forEachISA({ _ in try p.run(layout, beta: beta, old: old, bf16Out: bf16Out) }) {
                    expectMatches(got, want, bf16Out: bf16Out, "\(isa) \(layout) \(shape) beta \(beta) bf16 \(bf16Out)")
                }
            }
            // BF16 out, streaming stores (an .nk output streams the strips' columns)
            let old = priorOutputs(p.sizes.count * p.k * p.n, beta: 0, seed: 8)
            let want = p.expected(layout, beta: 0, old: old, bf16Out: true)
            for (isa, got) in try forEachISA(streamThreshold: 0, { _ in try p.run(layout, beta: 0, old: old, bf16Out: true) }) {
                expectMatches(got, want, bf16Out: true, "streamed \(isa) \(shape)")
            }
        }
    }

    @Test func threadCountsGiveTheSameBitsInFP8Wgrad() throws {
        let p = WgradProblem(sizes: [700, 0, 3, 260], k: 90, n: 130, seed: 50)
        let one = try withThreads(1) { try p.run(.nk) }
        for t in [2, 3] { #expect(try withThreads(t) { try p.run(.nk) } == one, "\(t) threads") }
    }

    /// The documented recipe: each expert's rows quantized on their own (codes at the expert's first token,
    /// scales at its first block) feed the FP8 wgrad, which then approximates xᵀ·dy within E4M3's precision.
    /// Experts get magnitudes 4^g apart, so scales read from another expert's blocks would be far off.
    @Test func kGroupedFP8TakesPerExpertQuantizedOperands() throws {
        let sizes = [200, 0, 1, 129], k = 24, n = 20, rows = sizes.reduce(0, +), blocks = 2 + 0 + 1 + 2
        var rng = SplitMix64(seed: 30)
        var x = [Float](), dy = [Float]()
        for (g, m) in sizes.enumerated() {
            let scale = Float(1 << (2 * g))
            x += (0..<m * k).map { _ in Float.random(in: -1...1, using: &rng) * scale }
            dy += (0..<m * n).map { _ in Float.random(in: -1...1, using: &rng) }
        }
        var xT = [UInt8](repeating: 0, count: k * rows), dyT = [UInt8](repeating: 0, count: n * rows)
        var xs = [Float](repeating: 0, count: k * blocks), dys = [Float](repeating: 0, count: n * blocks)
        /// Tokens row ..< row + m of `source` ([rows, channels]) quantized on their own, placed at codes column
        /// `row` and scales column `first`.
        func quantize(_ source: [Float], channels: Int, row: Int, m: Int, first: Int, codes: inout [UInt8],
                      scales: inout [Float]) throws {
            let nb = (m + 127) / 128, mine = Array(source[row * channels..<(row + m) * channels])
            var q = [UInt8](repeating: 0, count: channels * m), s = [Float](repeating: 0, count: channels * nb)
            var qv = q.mutableSpan, sv = s.mutableSpan
            try Quantization.quantizePerChannelTransposed(mine.span, tokens: m, channels: channels, codes: &qv, scales: &sv)
            _ = consume qv
            _ = consume sv
            for c in 0..<channels {
                for t in 0..<m { codes[c * rows + row + t] = q[c * m + t] }
                for b in 0..<nb { scales[c * blocks + first + b] = s[c * nb + b] }
            }
        }
        var row = 0, first = 0
        for m in sizes where m > 0 {
            try quantize(x, channels: k, row: row, m: m, first: first, codes: &xT, scales: &xs)
            try quantize(dy, channels: n, row: row, m: m, first: first, codes: &dyT, scales: &dys)
            row += m
            first += (m + 127) / 128
        }
        var dw = [Float](repeating: .nan, count: sizes.count * k * n)
        var view = dw.mutableSpan
        try GroupedGEMM.kGrouped(fp8Transposed: xT.span, xScales: xs.span, rows: rows, k: k, groupSizes: sizes.span,
                                 dyTransposed: dyT.span, dyScales: dys.span, n: n, into: &view)
        _ = consume view
        row = 0
        for (g, m) in sizes.enumerated() {
            for i in 0..<k {
                for j in 0..<n {
                    var exact = 0.0, absSum = 0.0
                    for t in row..<row + m {
                        exact += Double(x[t * k + i]) * Double(dy[t * n + j])
                        absSum += abs(Double(x[t * k + i]) * Double(dy[t * n + j]))
                    }
                    // each E4M3 code is within 2^-4 of its value (relative), so a product within 2^-3 + 2^-8
                    #expect(abs(Double(dw[(g * k + i) * n + j]) - exact) <= absSum * 0.13, "expert \(g) [\(i), \(j)]")
                }
            }
            row += m
        }
    }

    @Test func kGroupedFP8RejectsBadScalesAndSizes() throws {
        let p = WgradProblem(sizes: [3, 130], k: 5, n: 6, seed: 40)
        #expect(throws: MoEKitError.self) { try p.run(.kn, xScales: Array(p.xScales.dropLast())) }
        var dwSwift = [Float](repeating: .nan, count: 2 * 5 * 6)
        #expect(throws: MoEKitError.self) { // group sizes adding up to less than rows
            var view = dwSwift.mutableSpan
            try GroupedGEMM.kGrouped(fp8Transposed: p.xT.span, xScales: p.xScales.span, rows: p.rows, k: p.k,
                                     groupSizes: [3, 129].span, dyTransposed: p.dyT.span, dyScales: p.dyScales.span,
                                     n: p.n, into: &view)
        }
        #expect(dwSwift.allSatisfy { $0.isNaN })
        // the C entry point: NULL scales, and an expert stride smaller than one expert; nothing written
        var dw = [Float](repeating: .nan, count: 2 * 5 * 6)
        let sizes: [Int64] = [3, 130]
        let status = dw.withUnsafeMutableBytes { out in
            ck_gemm_k_grouped_fp8(p.xT, nil, p.rows, p.k, p.rows, sizes, 2, p.dyT, p.dyScales, p.n, p.rows, 0,
                                  out.baseAddress, CK_DTYPE_F32, CK_WEIGHTS_KN, 30)
        }
        #expect(status == CK_ERR_NULL_POINTER)
        let stride = dw.withUnsafeMutableBytes { out in
            ck_gemm_k_grouped_fp8(p.xT, p.xScales, p.rows, p.k, p.rows, sizes, 2, p.dyT, p.dyScales, p.n, p.rows, 0,
                                  out.baseAddress, CK_DTYPE_F32, CK_WEIGHTS_KN, 29)
        }
        #expect(stride == CK_ERR_INVALID_STRIDE)
        #expect(dw.allSatisfy { $0.isNaN })
    }

    @Test func fp8ScalesAreChecked() throws {
        let p = Problem(sizes: [2, 3], k: 130, n: 5, x: .e4m3, w: .e4m3, seed: 1)
        func attempt(xScales: [Float], wScales: [Float]) -> MoEKitError? {
            var y = [Float](repeating: 42, count: p.rows * p.n)
            var failure: MoEKitError?
            do {
                var view = y.mutableSpan
                try GroupedGEMM.mGrouped(fp8: p.xCodes.span, xScales: xScales.span, rows: p.rows, k: p.k,
                                         groupSizes: p.sizes.span, fp8Weights: p.wCodes.span, weightScales: wScales.span,
                                         layout: .nk, n: p.n, into: &view)
            } catch { failure = error }
            if failure != nil { #expect(y.allSatisfy { $0 == 42 }, "output written on error") }
            return failure
        }
        #expect(attempt(xScales: Array(p.xScales.dropLast()), wScales: p.wScales)?.argument == "xScales")
        #expect(attempt(xScales: p.xScales, wScales: Array(p.wScales.dropLast()))?.argument == "weightScales")
        #expect(attempt(xScales: p.xScales, wScales: p.wScales) == nil)
    }

    @Test func theCAPIRejectsBadTypeAndScaleCombinations() {
        let x = [UInt8](repeating: 0x38, count: 4 * 8), w = [UInt8](repeating: 0x38, count: 2 * 3 * 8)
        let f = [Float](repeating: 1, count: 64), sizes: [Int64] = [1, 3]
        var y = [Float](repeating: 42, count: 4 * 3)
        func call(_ xt: ck_dtype, _ xs: UnsafePointer<Float>?, _ wt: ck_dtype, _ ws: UnsafePointer<Float>?,
                  _ yt: ck_dtype) -> (ck_status, String) {
            let status = y.withUnsafeMutableBytes { yp in
                ck_gemm_m_grouped(x, xt, xs, 4, 8, 8, sizes, 2, w, wt, ws, CK_WEIGHTS_NK, 3, 24, 0, yp.baseAddress, yt, 3)
            }
            return (status, String(cString: ck_last_error_argument()))
        }
        f.withUnsafeBufferPointer { s in
            let one = s.baseAddress
            #expect(call(CK_DTYPE_E4M3FN, one, CK_DTYPE_F32, nil, CK_DTYPE_F32) == (CK_ERR_INVALID_VALUE, "w_type"))
            #expect(call(CK_DTYPE_E4M3FN, one, CK_DTYPE_E4M3FN, one, CK_DTYPE_E4M3FN) == (CK_ERR_INVALID_VALUE, "y_type"))
            #expect(call(CK_DTYPE_F32, one, CK_DTYPE_E4M3FN, one, CK_DTYPE_F32) == (CK_ERR_INVALID_VALUE, "x_scales"))
            #expect(call(CK_DTYPE_BF16, nil, CK_DTYPE_E4M3FN, nil, CK_DTYPE_F32) == (CK_ERR_NULL_POINTER, "w_scales"))
            #expect(call(CK_DTYPE_E4M3FN, nil, CK_DTYPE_E4M3FN, one, CK_DTYPE_F32) == (CK_ERR_NULL_POINTER, "x_scales"))
            #expect(call(ck_dtype(rawValue: 7), nil, CK_DTYPE_F32, nil, CK_DTYPE_F32) == (CK_ERR_INVALID_VALUE, "x_type"))
        }
        f.withUnsafeBufferPointer { s in // null operands of a non-empty problem
            let nullW = y.withUnsafeMutableBytes { yp in
                ck_gemm_m_grouped(s.baseAddress, CK_DTYPE_F32, nil, 4, 8, 8, sizes, 2, nil, CK_DTYPE_F32, nil,
                                  CK_WEIGHTS_NK, 3, 24, 0, yp.baseAddress, CK_DTYPE_F32, 3)
            }
            #expect((nullW, String(cString: ck_last_error_argument())) == (CK_ERR_NULL_POINTER, "w"))
            let nullX = y.withUnsafeMutableBytes { yp in
                ck_gemm_m_grouped(nil, CK_DTYPE_F32, nil, 4, 8, 8, sizes, 2, s.baseAddress, CK_DTYPE_F32, nil,
                                  CK_WEIGHTS_NK, 3, 24, 0, yp.baseAddress, CK_DTYPE_F32, 3)
            }
            #expect((nullX, String(cString: ck_last_error_argument())) == (CK_ERR_NULL_POINTER, "x"))
            let nullY = ck_gemm_m_grouped(s.baseAddress, CK_DTYPE_F32, nil, 4, 8, 8, sizes, 2, s.baseAddress,
                                          CK_DTYPE_F32, nil, CK_WEIGHTS_NK, 3, 24, 0, nil, CK_DTYPE_F32, 3)
            #expect((nullY, String(cString: ck_last_error_argument())) == (CK_ERR_NULL_POINTER, "y"))
        }
        #expect(y.allSatisfy { $0 == 42 }, "output written on error")
        // one expert's [n, k] wraps around size_t: rejected before anything is read
        let huge = y.withUnsafeMutableBytes { yp in
            ck_gemm_m_grouped(x, CK_DTYPE_F32, nil, 0, 1 << 31, 1 << 31, sizes, 2, nil, CK_DTYPE_F32, nil,
                              CK_WEIGHTS_NK, 1 << 33, 0, 0, yp.baseAddress, CK_DTYPE_F32, 1 << 33)
        }
        #expect(huge == CK_ERR_SIZE_OVERFLOW && String(cString: ck_last_error_argument()) == "w")
        f.withUnsafeBufferPointer { s in
            #expect(call(CK_DTYPE_E4M3FN, s.baseAddress, CK_DTYPE_E4M3FN, s.baseAddress, CK_DTYPE_BF16).0 == CK_OK)
        }
    }
}

/// A random E4M3 code: a normal one (exponent field 1...15 but not the NaN code), or any finite one.
private func e4m3Code(normal: Bool, using rng: inout SplitMix64) -> UInt8 {
    if normal { return UInt8.random(in: 0x08...0x7E, using: &rng) | (Bool.random(using: &rng) ? 0x80 : 0) }
    let c = UInt8.random(in: 0...253, using: &rng) // NaN is 0x7F / 0xFF
    return c >= 0x7F ? c + 1 : c
}

/// Whether element (row, column) of a tiled FP8 operand (row: the output column, column: the reduction) lies in
/// one of its normal-only 64 x 16 tiles (two thirds of them): the kernels decode blocks of normal codes on a
/// short path and the others (zero, subnormal) on the full one — the block loads 16 x 16 blocks, the `[K, N]`
/// decode 8 of the reduction x 64 columns — so operands that reach either take both.
private func inNormalTile(_ row: Int, _ column: Int) -> Bool { (row / 64 + column / 16) % 3 != 0 }

/// Outputs to accumulate onto: NaN for beta 0 (they must never be read), else BF16-exact values in [-1, 1].
func priorOutputs(_ count: Int, beta: Float, seed: UInt64) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ -> Float in
        beta == 0 ? .nan : Float(BFloat16Reference.value(BFloat16Reference.round(Float.random(in: -1...1, using: &rng))))
    }
}

/// Expects `got` (Float or, with `bf16Out`, BFloat16 bit patterns) to be the expected bits, and each element
/// within its float64 bound.
func expectMatches(_ got: [UInt32], _ want: (bits: [UInt32], exact: [Double], bound: [Double]), bf16Out: Bool,
                           _ what: String) {
    expectSameBits(got, want.bits, what)
    let values = got.map { bf16Out ? BFloat16Reference.value(UInt16($0)) : Double(Float(bitPattern: $0)) }
    expectWithinBounds(values, exact: want.exact, bound: want.bound, what)
}

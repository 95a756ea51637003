// BF16 dot products (`Runtime.withBF16DotProducts`): at avx512bf16 and avx512bf16vbmi the m-grouped GEMMs on
// BF16 x BF16, BF16 x E4M3 (weight-only FP8) and E4M3 x E4M3 operands give the bits of the instruction's order,
// written independently in GemmReference.dotPairs (per 128-wide scale block with FP8 weights), within the float64 bound, for every layout,
// sizes around the tiles' edges, odd K (a last pair with one half), beta, BF16 and FP32 outputs and row strides;
// below avx512bf16 the setting changes nothing (the canonical bits), nor does it for FP32 operands. Subnormal inputs and sums flush as the
// instruction defines; the bits do not depend on threads or on the other rows of the call; the setting belongs to the
// calling thread.
import CKernels
import Dispatch
import MoEKit
import Synchronization
import Testing
import TestSupport

@Suite struct BF16DotProductTests {
    typealias Reference = GroupedGEMMPrecisionTests

    static let shapes: [(sizes: [Int], k: Int, n: Int)] = [
        ([3, 0, 130], 300, 130), ([1, 2], 127, 64), ([5], 128, 257), ([0, 7, 1], 129, 17), ([2], 1, 3),
        ([2, 1], 2, 65), ([12, 70], 1030, 40), ([23], 260, 20), ([400], 257, 66), (Reference.raggedNK, 150, 70),
    ]

    /// Runs `p` under `Runtime.withBF16DotProducts` at every ISA, and checks each against the dot-product order at
    /// avx512bf16 and above (with and without AVX512_VBMI's decode) and the canonical one below.
    static func check(_ p: Reference.Problem, _ layout: WeightLayout, beta: Float, bf16Out: Bool, gaps: (x: Int, y: Int),
                      bounded: Bool, _ what: String) throws {
        let old = priorOutputs(p.rows * p.n, beta: beta, seed: 6)
        let dot = Reference.expected(p, beta: beta, old: old, bf16Out: bf16Out, dot: true)
        let canonical = Reference.expected(p, beta: beta, old: old, bf16Out: bf16Out)
        for (isa, got) in try forEachISA({ _ in
            try Runtime.withBF16DotProducts {
                try Reference.run(p, layout, beta: beta, old: old, bf16Out: bf16Out, gaps: gaps)
            }
        }) {
            let want = isa >= .avx512bf16 ? dot : canonical
            if bounded { expectMatches(got, want, bf16Out: bf16Out, "\(isa) \(what)") }
            else { expectSameBits(got, want.bits, "\(isa) \(what)") }
        }
    }

    static let combos: [(Reference.Element, Reference.Element)] = [(.bf16, .bf16), (.bf16, .e4m3), (.e4m3, .e4m3), (.f32, .bf16)]

    @Test(arguments: WeightLayout.allCases)
    func giveTheInstructionsOrderAtAVX512BF16(layout: WeightLayout) throws {
        for (c, (xt, wt)) in Self.combos.enumerated() {
            for (s, shape) in Self.shapes.enumerated() where xt != .f32 || s < 3 {
                let p = Reference.Problem(sizes: shape.sizes, k: shape.k, n: shape.n, x: xt, w: wt,
                                          seed: UInt64(100 + 16 * c + s))
                for (beta, bf16Out) in [(Float(0), true), (0, false), (0.5, true)] {
                    try Self.check(p, layout, beta: beta, bf16Out: bf16Out, gaps: s == 0 ? (3, 5) : (0, 0), bounded: true,
                                   "x \(xt) w \(wt) \(layout) \(shape) beta \(beta) bf16 out \(bf16Out)")
                }
            }
        }
    }

    /// The test above could not tell the orders apart if they agreed: they do not.
    @Test(arguments: [(Reference.Element.bf16, Reference.Element.bf16), (.bf16, .e4m3), (.e4m3, .e4m3)])
    func theOrdersDiffer(x: Reference.Element, w: Reference.Element) {
        let p = Reference.Problem(sizes: [3, 0, 130], k: 300, n: 130, x: x, w: w, seed: 100)
        let old = priorOutputs(p.rows * p.n, beta: 0, seed: 6)
        let dot = Reference.expected(p, beta: 0, old: old, bf16Out: false, dot: true).bits
        let canonical = Reference.expected(p, beta: 0, old: old, bf16Out: false).bits
        let differ = zip(dot, canonical).count { $0 != $1 }
        #expect(differ > dot.count / 10, "\(differ) of \(dot.count) outputs differ")
    }

    /// BF16 subnormals in x and w, and tiny normal values whose products and partial sums fall below 2^-126: at
    /// avx512bf16 the inputs read as zero and the sums flush, as GemmReference.dotPairs defines (bits only: flushing
    /// breaks the relative bound).
    @Test func subnormalsFlushAsTheInstructionDefines() throws {
        var p = Reference.Problem(sizes: [2, 9], k: 131, n: 70, x: .bf16, w: .bf16, seed: 7)
        var rng = SplitMix64(seed: 8)
        func tiny(_: Float) -> Float {
            let sign: UInt16 = Bool.random(using: &rng) ? 0x8000 : 0
            let bits = Int.random(in: 0..<4, using: &rng) == 0
                ? UInt16.random(in: 1...0x7F, using: &rng) // a subnormal
                : UInt16(Int.random(in: 57...70, using: &rng)) << 7 | UInt16.random(in: 0...0x7F, using: &rng) // 2^-70 ... 2^-57
            return Float(BFloat16Reference.value(sign | bits))
        }
        p.x = p.x.map(tiny)
        p.w = p.w.map(tiny)
        let old = priorOutputs(p.rows * p.n, beta: 0, seed: 6)
        let dot = Reference.expected(p, beta: 0, old: old, bf16Out: false, dot: true).bits
        #expect(dot != Reference.expected(p, beta: 0, old: old, bf16Out: false).bits, "flushing changes some outputs")
        for layout in WeightLayout.allCases {
            try Self.check(p, layout, beta: 0, bf16Out: false, gaps: (0, 0), bounded: false, "subnormals \(layout)")
        }
    }

    /// Each output row has the same bits on one thread and on two, and computed alone (a decode kernel's row against
    /// the tiles' rows), with BF16 and E4M3 weights, at each dot-product level this machine runs (with and without
    /// AVX512_VBMI's decode; below avx512bf16, where the setting changes nothing, at the detected level).
    @Test(arguments: WeightLayout.allCases)
    func sameBitsForEveryThreadCountAndBatch(layout: WeightLayout) throws {
        let dotLevels = Runtime.availableISAs.filter { $0 >= .avx512bf16 }
        for w in [Reference.Element.bf16, .e4m3] {
            let p = Reference.Problem(sizes: [1, 17, 400, 5], k: 515, n: 200, x: .bf16, w: w, seed: 9)
            let old = priorOutputs(p.rows * p.n, beta: 0, seed: 6)
            for isa in dotLevels.isEmpty ? [Runtime.detectedISA] : dotLevels {
                func run(_ q: Reference.Problem, threads: Int) throws -> [UInt32] {
                    try withRuntimeSettings(isa: isa, threads: threads) {
                        try Runtime.withBF16DotProducts {
                            try Reference.run(q, layout, beta: 0, old: Array(old[..<(q.rows * q.n)]), bf16Out: false)
                        }
                    }
                }
                let what = "\(layout), \(isa), \(w) weights"
                let one = try run(p, threads: 1), two = try run(p, threads: 2)
                expectSameBits(two, one, "\(what): two threads against one")
                var row = 0
                for (g, m) in p.sizes.enumerated() {
                    for r in [row, row + m - 1] where m > 0 {
                        var alone = p // the same weights, row r the only row
                        alone.sizes = p.sizes.indices.map { $0 == g ? 1 : 0 }
                        alone.x = Array(p.x[r * p.k..<(r + 1) * p.k])
                        expectSameBits(try run(alone, threads: 2), Array(one[r * p.n..<(r + 1) * p.n]),
                                       "\(what): row \(r) of expert \(g) alone")
                    }
                    row += m
                }
            }
        }
    }

    /// The masked layout (rows past validRows untouched, NaN in x there never read) and the contiguous one (padding
    /// rows +0, an expert in two runs) give each row the bits the grouped call gives it, under dot products too. The
    /// settings lock keeps other tests from lowering the ISA cap between the calls (which would change the order).
    @Test func maskedAndContiguousLayoutsGiveTheGroupedBits() throws {
        let p = Reference.Problem(sizes: [3, 0, 20, 1], k: 259, n: 70, x: .bf16, w: .bf16, seed: 11)
        let (k, n, maxRows) = (p.k, p.n, 24)
        let x = p.x.map { BFloat16($0) }, w = p.w.map { BFloat16($0) }
        try withRuntimeSettings { () throws(MoEKitError) in try Runtime.withBF16DotProducts { () throws(MoEKitError) in
            var grouped = [Float](repeating: .nan, count: p.rows * n)
            var view = grouped.mutableSpan
            try GroupedGEMM.mGrouped(x.span, rows: p.rows, k: k, groupSizes: p.sizes.span, weights: w.span,
                                     layout: .nk, n: n, into: &view)
            // masked: each expert's rows at the start of its maxRows, NaN after them in x and +inf in y
            var xm = [BFloat16](repeating: BFloat16(Float.nan), count: p.sizes.count * maxRows * k)
            var ym = [Float](repeating: .infinity, count: p.sizes.count * maxRows * n)
            var row = 0
            for (g, m) in p.sizes.enumerated() {
                for r in 0..<m { for l in 0..<k { xm[(g * maxRows + r) * k + l] = x[(row + r) * k + l] } }
                row += m
            }
            var masked = ym.mutableSpan
            try GroupedGEMM.mGroupedMasked(xm.span, maxRows: maxRows, k: k, validRows: p.sizes.span, weights: w.span,
                                           layout: .nk, n: n, into: &masked)
            _ = consume masked
            row = 0
            for (g, m) in p.sizes.enumerated() {
                for r in 0..<maxRows {
                    let got = Array(ym[(g * maxRows + r) * n..<(g * maxRows + r + 1) * n])
                    let want = r < m ? Array(grouped[(row + r) * n..<(row + r + 1) * n]) : Array(repeating: .infinity, count: n)
                    expectSameBits(got, want, "masked expert \(g) row \(r)")
                }
                row += m
            }
            // contiguous: expert 2's rows in two runs around a padding row and expert 0's rows
            let experts: [Int32] = Array(repeating: 2, count: 12) + [-1] + Array(repeating: 0, count: 3) + Array(repeating: 2, count: 8) + [3]
            let order = Array(3..<15) + [-1] + Array(0..<3) + Array(15..<23) + [23] // the grouped row of each
            var xc = [BFloat16](repeating: BFloat16(Float.nan), count: experts.count * k)
            for (i, r) in order.enumerated() where r >= 0 { for l in 0..<k { xc[i * k + l] = x[r * k + l] } }
            var yc = [Float](repeating: .nan, count: experts.count * n)
            var contiguous = yc.mutableSpan
            try GroupedGEMM.mGrouped(xc.span, rows: experts.count, k: k, rowExperts: experts.span, experts: p.sizes.count,
                                     weights: w.span, layout: .nk, n: n, into: &contiguous)
            _ = consume contiguous
            for (i, r) in order.enumerated() {
                let want = r < 0 ? [Float](repeating: 0, count: n) : Array(grouped[r * n..<(r + 1) * n])
                expectSameBits(Array(yc[i * n..<(i + 1) * n]), want, "contiguous row \(i)")
            }
        } }
    }

    /// Another thread may lower the ISA cap while a call runs: the call then runs wholly in one order, the one its
    /// kernels give. Experts of 9 to 12 rows of `.kn` and `.packed` weights, which only the dot decode kernels take
    /// as decode problems, go to the FMA tiles then (a decode kernel of the FMA table read them as `.nk` weights:
    /// 4520 wrong calls of 20000 in a C stress before the fix). The calls go on until both orders have come out (at
    /// least 400 calls, at most 20 s), so the test also shows that the cap changed under them.
    @Test(arguments: [WeightLayout.kn, .packed])
    func aCapLoweredDuringACallGivesOneOrder(layout: WeightLayout) throws {
        let top = Runtime.detectedISA
        guard top >= .avx512bf16 else { return } // no dot kernels to fall back from
        let p = Reference.Problem(sizes: [10, 12, 3], k: 256, n: 64, x: .bf16, w: .bf16, seed: 12)
        let old = priorOutputs(p.rows * p.n, beta: 0, seed: 6)
        let dot = Reference.expected(p, beta: 0, old: old, bf16Out: false, dot: true).bits
        let canonical = Reference.expected(p, beta: 0, old: old, bf16Out: false).bits
        final class Flag: Sendable { let stop = Atomic<Bool>(false) }
        let flag = Flag(), toggler = DispatchGroup()
        var counts = (dot: 0, canonical: 0, neither: 0)
        try withRuntimeSettings(isa: top, threads: 1) {
            DispatchQueue.global().async(group: toggler) {
                while !flag.stop.load(ordering: .relaxed) { Runtime.setMaxISA(.avx2); Runtime.setMaxISA(top) }
            }
            defer { flag.stop.store(true, ordering: .relaxed); toggler.wait() }
            let start = ContinuousClock.now
            var calls = 0
            while calls < 400 || (counts.dot == 0 || counts.canonical == 0) && ContinuousClock.now - start < .seconds(20) {
                let got = try Runtime.withBF16DotProducts {
                    try Reference.run(p, layout, beta: 0, old: old, bf16Out: false)
                }
                if got == dot { counts.dot += 1 } else if got == canonical { counts.canonical += 1 } else { counts.neither += 1 }
                calls += 1
            }
        }
        #expect(counts.neither == 0 && counts.dot > 0 && counts.canonical > 0, "\(counts)")
    }

    @Test func theSettingBelongsToTheCallingThread() {
        #expect(!Runtime.bf16DotProducts)
        let (inside, elsewhere) = Runtime.withBF16DotProducts { () -> (Bool, Bool) in
            let other = DispatchGroup()
            nonisolated(unsafe) var seen = true
            DispatchQueue.global().async(group: other) { seen = Runtime.bf16DotProducts }
            other.wait()
            return (Runtime.bf16DotProducts, seen)
        }
        #expect(inside && !elsewhere && !Runtime.bf16DotProducts)
    }
}

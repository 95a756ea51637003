// DeepGEMM's contiguous layout (a per-row expert index, -1 for padding): each row gets its own expert's
// canonical sum (GemmReference over GroupedGEMMPrecisionTests.Problem's exact operand values), whatever the
// order and length of the runs and with one expert in several runs, on the decode and packed paths, every ISA;
// padding rows (NaN activations, NaN scales) are never read and get an empty sum's output (beta == 1 leaves
// -0 and NaN payloads); strides skip their gaps; no experts at all, and K = 0; bad indices are rejected with
// nothing written.
import CKernels
import MoEKit
import Testing
import TestSupport

@Suite struct ContiguousLayoutTests {
    typealias Problem = GroupedGEMMPrecisionTests.Problem

    /// Runs of (expert, rows), -1 for padding: padding first, between runs and last; expert 2 in two runs and
    /// expert 0 in two; runs of 1 to 12 rows (the decode kernels) and of 70 (the packed path).
    static let runs: [(expert: Int32, rows: Int)] = [(-1, 2), (2, 3), (0, 1), (-1, 3), (2, 12), (1, 70), (0, 2), (-1, 1)]
    static let rowExperts: [Int32] = runs.flatMap { [Int32](repeating: $0.expert, count: $0.rows) }

    /// (activations, weights, BF16 output): FP32, weight-only FP8 and FP8 x FP8.
    static let combos: [(GroupedGEMMPrecisionTests.Element, GroupedGEMMPrecisionTests.Element, bf16Out: Bool)] = [
        (.f32, .f32, false), (.bf16, .e4m3, true), (.e4m3, .e4m3, false),
    ]

    @Test(arguments: 0..<combos.count)
    func rowsTakeTheirExpertsSumsAndPaddingAnEmptySum(combo: Int) throws {
        let (xt, wt, bf16Out) = Self.combos[combo]
        let experts = 3, rows = Self.rowExperts.count, k = 200, n = 140
        // sizes only fix the operand counts: rows of x, and three experts' weights
        var p = Problem(sizes: [rows, 0, 0], k: k, n: n, x: xt, w: wt, seed: 5)
        for r in 0..<rows where Self.rowExperts[r] < 0 { // padding rows: nothing there may be read
            for l in 0..<k {
                p.x[r * k + l] = .nan
                if xt == .e4m3 { p.xCodes[r * k + l] = 0x7F }
            }
            if xt == .e4m3 { for b in 0..<p.kb { p.xScales[r * p.kb + b] = .nan } }
        }
        var rng = SplitMix64(seed: 17)
        // padding rows of y also hold -0 and a NaN with a payload, which beta == 1 must leave as they are
        let specials: [Float] = [-0.0, Float(bitPattern: 0x7FC1_0000)]
        for layout in WeightLayout.allCases {
            for beta: Float in [0, 0.5, 1] {
                let old: [Float] = (0..<rows * n).map { i in
                    if beta == 0 { return .nan }
                    if Self.rowExperts[i / n] < 0 && i % 3 < 2 { return specials[i % 3] }
                    return Float(BFloat16(Float.random(in: -1...1, using: &rng)).floatValue)
                }
                let want: [UInt32] = (0..<rows * n).map { i in
                    let r = i / n, e = Int(Self.rowExperts[r])
                    if e < 0 && beta == 1 { return bf16Out ? UInt32(BFloat16(old[i]).bitPattern) : old[i].bitPattern }
                    let out = GemmReference.store(e < 0 ? 0 : p.sum(r, e, i % n).0, beta: beta, old: old[i])
                    if out.isNaN { return bf16Out ? 0x7FC0 : 0x7FC0_0000 } // the one NaN outputs carry
                    return bf16Out ? UInt32(BFloat16Reference.round(out)) : out.bitPattern
                }
                let runs = try forEachISA { _ in try Self.run(p, experts: experts, layout, beta: beta, old: old, bf16Out: bf16Out) }
                for (isa, got) in runs {
                    expectSameBits(got, want, "\(xt) x \(wt) \(isa) \(layout) beta \(beta)")
                }
            }
        }
    }

    /// The contiguous overload matching the problem's types, into `old` ([rows, n] values of the output type).
    static func run(_ p: Problem, experts: Int, _ layout: WeightLayout, beta: Float, old: [Float],
                    bf16Out: Bool) throws -> [UInt32] {
        let ids = rowExperts, wC = p.laidOut(p.wCodes, layout), ws = p.scales(layout)
        func go<Y: KernelFloat>(_ y: inout [Y]) throws {
            var view = y.mutableSpan
            switch (p.xt, p.wt) {
            case (.e4m3, _):
                try GroupedGEMM.mGrouped(fp8: p.xCodes.span, xScales: p.xScales.span, rows: p.rows, k: p.k,
                                         rowExperts: ids.span, experts: experts, fp8Weights: wC.span, weightScales: ws.span,
                                         layout: layout, n: p.n, beta: beta, into: &view)
            case (.bf16, .e4m3):
                let x = p.x.map { BFloat16($0) }
                try GroupedGEMM.mGrouped(x.span, rows: p.rows, k: p.k, rowExperts: ids.span, experts: experts,
                                         fp8Weights: wC.span, weightScales: ws.span, layout: layout, n: p.n, beta: beta,
                                         into: &view)
            default:
                let w = p.laidOut(p.w, layout)
                try GroupedGEMM.mGrouped(p.x.span, rows: p.rows, k: p.k, rowExperts: ids.span, experts: experts,
                                         weights: w.span, layout: layout, n: p.n, beta: beta, into: &view)
            }
        }
        return try outputBits(old, bf16Out: bf16Out, go, go)
    }

    /// Row strides past each row of x and y and an expert stride past each expert's weights, the gaps NaN in
    /// x and w and a marker in y: the packed call's bits, and y's gaps never written (padding rows included).
    @Test(arguments: [WeightLayout.nk, .kn])
    func stridesSkipTheGaps(layout: WeightLayout) throws {
        let experts = 3, rows = Self.rowExperts.count, k = 70, n = 33, ldx = k + 3, ldy = n + 5, ws = n * k + 7
        let p = Problem(sizes: [rows, 0, 0], k: k, n: n, x: .f32, w: .f32, seed: 8)
        let packedW = p.laidOut(p.w, layout), marker = Float(bitPattern: 0x7F80_0ABC)
        let x = (0..<rows * ldx).map { i in i % ldx < k ? p.x[i / ldx * k + i % ldx] : .nan }
        var w = [Float](repeating: .nan, count: experts * ws)
        for g in 0..<experts { for i in 0..<n * k { w[g * ws + i] = packedW[g * n * k + i] } }
        var packed = [Float](repeating: .nan, count: rows * n)
        var view = packed.mutableSpan
        try GroupedGEMM.mGrouped(p.x.span, rows: rows, k: k, rowExperts: Self.rowExperts.span, experts: experts,
                                 weights: packedW.span, layout: layout, n: n, into: &view)
        _ = consume view
        let want = (0..<rows * ldy).map { i in i % ldy < n ? packed[i / ldy * n + i % ldy].bitPattern : marker.bitPattern }
        for (isa, y) in try forEachISA({ _ -> [Float] in
            var y = [Float](repeating: marker, count: rows * ldy)
            var view = y.mutableSpan
            try GroupedGEMM.mGrouped(x.span, rows: rows, k: k, rowExperts: Self.rowExperts.span, experts: experts,
                                     weights: w.span, layout: layout, n: n, into: &view, xStride: ldx,
                                     weightsStride: ws, yStride: ldy)
            _ = consume view
            return y
        }) {
            expectSameBits(y.map(\.bitPattern), want, "\(isa) \(layout)")
        }
    }

    /// No experts and only padding (no weights at all, FP8 included), and K = 0: every row an empty sum.
    @Test func emptySumsWithoutWeights() throws {
        let rows = 5, n = 7, allPadding = [Int32](repeating: -1, count: rows)
        var y = [Float](repeating: .nan, count: rows * n)
        var view = y.mutableSpan
        try GroupedGEMM.mGrouped([Float](repeating: .nan, count: rows * 3).span, rows: rows, k: 3,
                                 rowExperts: allPadding.span, experts: 0, weights: [Float]().span, layout: .nk, n: n,
                                 into: &view)
        _ = consume view
        #expect(y.allSatisfy { $0.bitPattern == 0 })
        var b = [BFloat16](repeating: BFloat16(Float.nan), count: rows * n)
        var bview = b.mutableSpan
        let codes = [UInt8](repeating: 0x7F, count: rows * 3), scales = [Float](repeating: .nan, count: rows)
        try GroupedGEMM.mGrouped(fp8: codes.span, xScales: scales.span, rows: rows, k: 3, rowExperts: allPadding.span, experts: 0, fp8Weights: [UInt8]().span,
                                 weightScales: [Float]().span, layout: .kn, n: n, into: &bview)
        _ = consume bview
        #expect(b.allSatisfy { $0.bitPattern == 0 })
        // K = 0: real experts' rows are empty sums too
        var z = [Float](repeating: .nan, count: rows * n)
        var zview = z.mutableSpan
        try GroupedGEMM.mGrouped([Float]().span, rows: rows, k: 0, rowExperts: [Int32]([1, -1, 0, 0, 1]).span, experts: 2,
                                 weights: [Float]().span, layout: .nk, n: n, into: &zview)
        _ = consume zview
        #expect(z.allSatisfy { $0.bitPattern == 0 })
    }

    @Test func badIndicesAreRejectedAndNothingIsWritten() throws {
        let k = 4, n = 5, x = [Float](repeating: 1, count: 4 * k), w = [Float](repeating: 1, count: 2 * n * k)
        func attempt(_ ids: [Int32], experts: Int = 2) -> MoEKitError? {
            var y = TestBuffer<Float>([Float](repeating: 42, count: 4 * n))
            var failure: MoEKitError?
            do {
                try y.withMutableSpan { (view) throws(MoEKitError) in
                    try GroupedGEMM.mGrouped(x.span, rows: 4, k: k, rowExperts: ids.span, experts: experts, weights: w.span,
                                             layout: .nk, n: n, into: &view)
                }
            } catch { failure = error }
            let written = y.elements.contains { $0 != 42 }
            #expect(failure == nil ? written : !written && y.guardsIntact,
                    "\(ids): written \(written), error \(String(describing: failure))")
            return failure
        }
        #expect(attempt([0, 1, -1, 1]) == nil)
        #expect(attempt([-1, -1, -1, -1]) == nil)
        for ids: [Int32] in [[0, 2, 1, 1], [0, 1, -2, 1], [Int32.max, 0, 0, 0], [Int32.min, 0, 0, 0]] {
            #expect(attempt(ids).map { ErrorKind($0) == .invalidValue && $0.argument == "rowExperts" } == true, "\(ids)")
        }
        #expect(attempt([0, 1, 1])?.argument == "rowExperts")       // not one per row
        // n = 0: nothing to write, but the indices are still checked
        var none = [Float]()
        var noneView = none.mutableSpan
        var rejected: MoEKitError?
        do {
            try GroupedGEMM.mGrouped(x.span, rows: 4, k: k, rowExperts: [Int32]([0, 5, 0, 0]).span, experts: 2,
                                     weights: w.span, layout: .nk, n: 0, into: &noneView)
        } catch { rejected = error }
        _ = consume noneView
        #expect(rejected?.argument == "rowExperts")
        #expect(attempt([0, 0, 0, 0], experts: -1)?.argument == "experts")
        #expect(attempt([0, 0, 0, 0], experts: 3)?.argument == "weights") // more experts than the weights hold
        // the C entry point: a missing index array of a non-empty call, and none needed for an empty one
        var y = [Float](repeating: 42, count: 4 * n)
        let missing = ck_gemm_m_grouped_contiguous(x, CK_DTYPE_F32, nil, 4, k, k, nil, 2, w, CK_DTYPE_F32, nil, CK_WEIGHTS_NK,
                                                   n, n * k, 0, &y, CK_DTYPE_F32, n)
        #expect(missing == CK_ERR_NULL_POINTER && String(cString: ck_last_error_argument()) == "m_indices")
        #expect(y.allSatisfy { $0 == 42 })
        #expect(ck_gemm_m_grouped_contiguous(x, CK_DTYPE_F32, nil, 0, k, k, nil, 2, w, CK_DTYPE_F32, nil, CK_WEIGHTS_NK,
                                             n, n * k, 0, &y, CK_DTYPE_F32, n) == CK_OK)
    }
}

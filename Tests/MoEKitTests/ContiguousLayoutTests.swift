// DeepGEMM's contiguous layout (a per-row expert index, -1 for padding): each row gets its own expert's
// canonical sum (GemmReference over GroupedGEMMPrecisionTests.Problem's exact operand values), whatever the
// order and length of the runs and with one expert in several runs, on the decode and packed paths, every ISA;
// padding rows (NaN activations, NaN scales) are never read and get an empty sum's output; bad indices are
// rejected with nothing written.
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
        for layout in [WeightLayout.nk, .kn] {
            for beta: Float in [0, 0.5, 1] {
                let old: [Float] = (0..<rows * n).map { _ in
                    beta == 0 ? .nan : Float(BFloat16(Float.random(in: -1...1, using: &rng)).floatValue)
                }
                let want: [UInt32] = (0..<rows * n).map { i in
                    let r = i / n, e = Int(Self.rowExperts[r])
                    if e < 0 && beta == 1 { return bf16Out ? UInt32(BFloat16(old[i]).bitPattern) : old[i].bitPattern }
                    let out = GemmReference.store(e < 0 ? 0 : p.sum(r, e, i % n).0, beta: beta, old: old[i])
                    return bf16Out ? UInt32(BFloat16Reference.round(out)) : out.bitPattern
                }
                for (isa, got) in try forEachISA({ _ in try Self.run(p, experts: experts, layout, beta: beta, old: old, bf16Out: bf16Out) }) {
                    expectSameBits(got, want, "\(xt) x \(wt) \(isa) \(layout) beta \(beta)")
                }
            }
        }
    }

    /// The contiguous overload matching the problem's types, into `old` ([rows, n] values of the output type).
    static func run(_ p: Problem, experts: Int, _ layout: WeightLayout, beta: Float, old: [Float], bf16Out: Bool) throws -> [UInt32] {
        let ids = rowExperts, wC = p.laidOut(p.wCodes, layout), ws = p.scales(layout)
        func go<Y: KernelFloat>(_ y: inout [Y]) throws {
            var view = y.mutableSpan
            switch (p.xt, p.wt) {
            case (.e4m3, _):
                try GroupedGEMM.mGrouped(fp8: p.xCodes.span, xScales: p.xScales.span, rows: p.rows, k: p.k, rowExperts: ids.span,
                                         experts: experts, fp8Weights: wC.span, weightScales: ws.span, layout: layout,
                                         n: p.n, beta: beta, into: &view)
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
        if bf16Out {
            var y = old.map { BFloat16($0) }
            try go(&y)
            return y.map { UInt32($0.bitPattern) }
        }
        var y = old
        try go(&y)
        return y.map(\.bitPattern)
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
            #expect(failure == nil ? written : !written && y.guardsIntact, "\(ids): written \(written), error \(String(describing: failure))")
            return failure
        }
        #expect(attempt([0, 1, -1, 1]) == nil)
        #expect(attempt([-1, -1, -1, -1]) == nil)
        for ids: [Int32] in [[0, 2, 1, 1], [0, 1, -2, 1], [Int32.max, 0, 0, 0], [Int32.min, 0, 0, 0]] {
            #expect(attempt(ids).map { ErrorKind($0) == .invalidValue && $0.argument == "rowExperts" } == true, "\(ids)")
        }
        #expect(attempt([0, 1, 1])?.argument == "rowExperts")       // not one per row
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

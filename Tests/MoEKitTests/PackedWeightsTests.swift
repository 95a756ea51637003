// Packed weights (WeightLayout.packed, ck_gemm_pack_weights): the packing moves every element bit for bit into
// the documented strips (an independent Swift re-statement: packedReference), pads with +0, leaves the gaps
// between experts alone, and rejects bad input with nothing written. That the GEMMs on packed weights give the
// canonical bits is checked with the other layouts (GroupedGEMMTests, GroupedGEMMPrecisionTests,
// ContiguousLayoutTests run every layout).
import CKernels
import MoEKit
import Testing
import TestSupport

@Suite struct PackedWeightsTests {
    /// Expert shapes: one element, a strip exactly, a strip and a column, ragged strips with K past a scale block,
    /// and empty experts.
    static let shapes: [(n: Int, k: Int)] = [(1, 1), (64, 3), (65, 2), (130, 129), (200, 7), (0, 5), (5, 0)]

    /// Packs `experts` weights `w` ([experts, n, k] values, given as [N, K]) stored in `layout` with gaps of
    /// `sentinel` between experts, into a buffer of `sentinel` with gaps too; returns it.
    static func pack<T: BitwiseCopyable>(
        _ w: [T], experts: Int, n: Int, k: Int, layout: WeightLayout, sentinel: T,
        _ call: (Span<T>, Int, inout MutableSpan<T>, Int) throws(MoEKitError) -> Void
    ) throws -> [T] {
        let count = n * k, ws = count + 3, ps = try GroupedGEMM.packedCount(n: n, k: k) + 5
        var source = [T](repeating: sentinel, count: experts * ws)
        for g in 0..<experts {
            for j in 0..<n {
                for l in 0..<k { source[g * ws + (layout == .kn ? l * n + j : j * k + l)] = w[(g * n + j) * k + l] }
            }
        }
        var packed = [T](repeating: sentinel, count: experts * ps)
        var view = packed.mutableSpan
        try call(source.span, ws, &view, ps)
        _ = consume view
        return packed
    }

    /// The reference packing with `sentinel` in the gaps `pack` leaves.
    static func expected<T: BitwiseCopyable>(_ w: [T], experts: Int, n: Int, k: Int, sentinel: T) throws -> [T] {
        let count = try GroupedGEMM.packedCount(n: n, k: k), ps = count + 5
        let reference = packedReference(w, experts: experts, n: n, k: k)
        return (0..<experts * ps).map { i in i % ps < count ? reference[i / ps * count + i % ps] : sentinel }
    }

    static func bits<T: BitwiseCopyable>(_ a: [T]) -> [UInt8] { a.withUnsafeBytes { Array($0) } }

    @Test func everyElementMovesBitForBit() throws {
        let experts = 3
        var rng = SplitMix64(seed: 21)
        for (n, k) in Self.shapes {
            let count = experts * n * k
            // Float: NaN payloads, -0 and subnormals must survive; BF16 and E4M3: every bit pattern
            let specials: [Float] = [Float(bitPattern: 0x7FA0_0001), -0.0, Float(bitPattern: 1)]
            let floats = (0..<count).map { i in i % 7 < 3 ? specials[i % 7] : Float.random(in: -1...1, using: &rng) }
            let halves = (0..<count).map { _ in BFloat16(bitPattern: UInt16.random(in: 0...UInt16.max, using: &rng)) }
            let codes = (0..<count).map { _ in UInt8.random(in: 0...UInt8.max, using: &rng) }
            for layout in [WeightLayout.nk, .kn] {
                for threads in [1, 3] {
                    try withThreads(threads) {
                        let context = "\(n) x \(k) \(layout) \(threads) threads"
                        func expectPacked<T: BitwiseCopyable>(
                            _ w: [T], sentinel: T, _ name: String,
                            _ call: (Span<T>, Int, inout MutableSpan<T>, Int) throws(MoEKitError) -> Void
                        ) throws {
                            let got = try Self.pack(w, experts: experts, n: n, k: k, layout: layout, sentinel: sentinel, call)
                            let want = try Self.expected(w, experts: experts, n: n, k: k, sentinel: sentinel)
                            #expect(Self.bits(got) == Self.bits(want), "\(name) \(context)")
                        }
                        func expectPacked<T: KernelFloat>(_ w: [T], sentinel: T, _ name: String) throws {
                            try expectPacked(w, sentinel: sentinel, name) { w, ws, p, ps throws(MoEKitError) in
                                try GroupedGEMM.packWeights(w, layout: layout, experts: experts, n: n, k: k, into: &p,
                                                            weightsStride: ws, packedStride: ps)
                            }
                        }
                        try expectPacked(floats, sentinel: Float(bitPattern: 0x7F80_0ABC), "Float")
                        try expectPacked(halves, sentinel: BFloat16(bitPattern: 0x7F81), "BFloat16")
                        try expectPacked(codes, sentinel: UInt8(0xA5), "E4M3") { w, ws, p, ps throws(MoEKitError) in
                            try GroupedGEMM.packWeights(fp8: w, layout: layout, experts: experts, n: n, k: k, into: &p,
                                                        weightsStride: ws, packedStride: ps)
                        }
                    }
                }
            }
        }
    }

    @Test func packedCountRoundsNUpToStrips() throws {
        #expect(try GroupedGEMM.packedCount(n: 1408, k: 2048) == 1408 * 2048)
        #expect(try GroupedGEMM.packedCount(n: 65, k: 3) == 128 * 3)
        #expect(try GroupedGEMM.packedCount(n: 1, k: 7) == 64 * 7)
        #expect(try GroupedGEMM.packedCount(n: 0, k: 7) == 0)
        #expect(throws: MoEKitError.sizeOverflow(argument: "n")) { try GroupedGEMM.packedCount(n: Int.max, k: 1) }
        #expect(throws: MoEKitError.sizeOverflow(argument: "n")) { try GroupedGEMM.packedCount(n: 1 << 40, k: 1 << 30) }
        #expect((try? GroupedGEMM.packedCount(n: -1, k: 1)) == nil)
    }

    /// Bad arguments throw (the Swift API) or return a status naming the argument (the C API), and write nothing.
    @Test func badInputIsRejectedUntouched() throws {
        let n = 65, k = 4, experts = 2, count = try GroupedGEMM.packedCount(n: n, k: k)
        let w = [Float](repeating: 1, count: experts * n * k)
        func attempt(layout: WeightLayout = .nk, packedCount: Int = experts * count, weights: Int = experts * n * k,
                     packedStride: Int? = nil) -> (MoEKitError?, Bool) {
            var packed = [Float](repeating: 7, count: packedCount)
            var view = packed.mutableSpan
            var caught: MoEKitError?
            do throws(MoEKitError) {
                try GroupedGEMM.packWeights(Array(w[..<weights]).span, layout: layout, experts: experts, n: n, k: k,
                                            into: &view, packedStride: packedStride)
            } catch { caught = error }
            _ = consume view
            return (caught, packed.allSatisfy { $0 == 7 })
        }
        for (error, untouched) in [attempt(layout: .packed), attempt(packedCount: experts * count - 1),
                                   attempt(weights: experts * n * k - 1), attempt(packedStride: count - 1)] {
            #expect(error != nil)
            #expect(untouched)
        }
        #expect(attempt(layout: .packed).0?.argument == "layout")
        #expect(attempt(packedCount: experts * count - 1).0?.argument == "packed")
        #expect(attempt(weights: experts * n * k - 1).0?.argument == "weights")

        // the m-grouped calls take packed weights' own size; the k-grouped calls do not take the layout
        let x = [Float](repeating: 1, count: 3 * k)
        var y = [Float](repeating: 7, count: 3 * n)
        var view = y.mutableSpan
        #expect(throws: MoEKitError.bufferTooSmall(argument: "weights", required: experts * count, actual: experts * n * k)) {
            try GroupedGEMM.mGrouped(x.span, rows: 3, k: k, groupSizes: [1, 2].span, weights: w.span, layout: .packed, n: n,
                                     into: &view)
        }
        _ = consume view
        let dy = [Float](repeating: 1, count: 3 * n)
        var dw = [Float](repeating: 7, count: experts * n * k)
        var dwView = dw.mutableSpan
        #expect(throws: MoEKitError.self) {
            try GroupedGEMM.kGrouped(x.span, rows: 3, k: k, groupSizes: [1, 2].span, dy: dy.span, n: n, into: &dwView,
                                     layout: .packed)
        }
        _ = consume dwView
        #expect(y.allSatisfy { $0 == 7 } && dw.allSatisfy { $0 == 7 })
    }

    @Test func theCAPIRejectsBadArgumentsUntouched() {
        let n = 65, k = 4, count = 128 * k
        var w = [Float](repeating: 1, count: 2 * n * k + 2 * count)
        var out = [Float](repeating: 7, count: 2 * count)
        w.withUnsafeMutableBufferPointer { wp in
            out.withUnsafeMutableBufferPointer { op in
                func expect(_ status: ck_status, _ want: ck_status, _ argument: String, _ context: String) {
                    #expect(status == want, "\(context): \(String(cString: ck_status_name(status)))")
                    #expect(String(cString: ck_last_error_argument()) == argument, "\(context)")
                    #expect(op.allSatisfy { $0 == 7 }, "\(context): output written")
                }
                let src = UnsafeRawPointer(wp.baseAddress!), dst = UnsafeMutableRawPointer(op.baseAddress!)
                expect(ck_gemm_pack_weights(nil, CK_DTYPE_F32, CK_WEIGHTS_NK, 2, n, k, n * k, dst, count),
                       CK_ERR_NULL_POINTER, "w", "NULL w")
                expect(ck_gemm_pack_weights(src, CK_DTYPE_F32, CK_WEIGHTS_NK, 2, n, k, n * k, nil, count),
                       CK_ERR_NULL_POINTER, "packed", "NULL packed")
                expect(ck_gemm_pack_weights(src, ck_dtype(rawValue: 7), CK_WEIGHTS_NK, 2, n, k, n * k, dst, count),
                       CK_ERR_INVALID_VALUE, "type", "bad type")
                expect(ck_gemm_pack_weights(src, CK_DTYPE_F32, CK_WEIGHTS_PACKED, 2, n, k, n * k, dst, count),
                       CK_ERR_INVALID_VALUE, "layout", "packed source")
                expect(ck_gemm_pack_weights(src, CK_DTYPE_F32, CK_WEIGHTS_NK, 2, n, k, n * k, dst, count - 1),
                       CK_ERR_INVALID_STRIDE, "packed", "short packed stride")
                expect(ck_gemm_pack_weights(src, CK_DTYPE_F32, CK_WEIGHTS_NK, 2, n, k, n * k - 1, dst, count),
                       CK_ERR_INVALID_STRIDE, "w", "short weights stride")
                expect(ck_gemm_pack_weights(src, CK_DTYPE_F32, CK_WEIGHTS_NK, 2, Int.max, 3, n * k, dst, count),
                       CK_ERR_SIZE_OVERFLOW, "w", "overflowing expert")
                expect(ck_gemm_pack_weights(src, CK_DTYPE_F32, CK_WEIGHTS_NK, 2, 1 << 40, 1 << 30, n * k, dst, count),
                       CK_ERR_SIZE_OVERFLOW, "w", "overflowing packed expert")
                // packed over the second expert of w: overlapping, rejected with w intact
                let before = Array(wp)
                let overlap = UnsafeMutableRawPointer(wp.baseAddress! + n * k)
                #expect(ck_gemm_pack_weights(src, CK_DTYPE_F32, CK_WEIGHTS_NK, 2, n, k, n * k, overlap, count)
                            == CK_ERR_INVALID_VALUE)
                #expect(String(cString: ck_last_error_argument()) == "packed")
                #expect(Array(wp) == before, "w written")
                var elements = 99
                #expect(ck_gemm_packed_size(1 << 40, 1 << 30, &elements) == CK_ERR_SIZE_OVERFLOW && elements == 99)
                #expect(ck_gemm_packed_size(1, 1, nil) == CK_ERR_NULL_POINTER)
                // empty packs write nothing and need no buffers
                #expect(ck_gemm_pack_weights(nil, CK_DTYPE_F32, CK_WEIGHTS_NK, 0, n, k, n * k, nil, count) == CK_OK)
                #expect(ck_gemm_pack_weights(nil, CK_DTYPE_F32, CK_WEIGHTS_KN, 2, 0, k, 0, nil, 0) == CK_OK)
            }
        }
        #expect(out.allSatisfy { $0 == 7 })
    }
}

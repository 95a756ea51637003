import CKernels

/// How each expert's weight matrix is laid out.
public enum WeightLayout: Sendable, CaseIterable {
    /// `[N, K]`: the checkpoint / `nn.Linear` layout; `y = x · wᵀ` (the forward pass).
    case nk
    /// `[K, N]`: `y = x · w` (the data gradient `dX = dY · W`, and wgrad outputs `[K, N]`).
    case kn
    var c: ck_weight_layout { self == .nk ? CK_WEIGHTS_NK : CK_WEIGHTS_KN }
}

/// Grouped expert GEMMs: every expert of a MoE layer in one call, balanced across threads.
///
/// Results are bitwise identical for every ISA and thread count, and **batch-invariant**: a token's output
/// row has the same bits whatever other tokens share its expert or the call. See <doc:GroupedGEMM>.
public enum GroupedGEMM {
    /// m-grouped GEMM: `y[rows of g] = x[rows of g] · op(w[g]) + beta · y[rows of g]`.
    ///
    /// - Parameters:
    ///   - x: `[rows, k]`, each expert's token rows back to back.
    ///   - groupSizes: `[experts]` rows per expert (zeros allowed), summing to `rows`.
    ///   - weights: `[experts, n, k]` (``WeightLayout/nk``) or `[experts, k, n]` (``WeightLayout/kn``),
    ///     experts `weightsStride` elements apart (default: packed).
    ///   - y: `[rows, n]`. With `beta == 0` it is only written (NaN there cannot leak).
    public static func mGrouped(
        _ x: Span<Float>, rows: Int, k: Int, groupSizes: Span<Int>, weights: Span<Float>, layout: WeightLayout,
        n: Int, beta: Float = 0, into y: inout MutableSpan<Float>,
        xStride: Int? = nil, weightsStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try requireNonNegative(["rows": rows, "k": k, "n": n])
        let nk = try product(n, k, "n")
        let experts = groupSizes.count, ldx = xStride ?? k, ldy = yStride ?? n, ws = weightsStride ?? nk
        try requireMatrix("x", count: x.count, rows: rows, columns: k, stride: ldx)
        try requireMatrix("weights", count: weights.count, rows: experts, columns: nk, stride: ws)
        try requireMatrix("y", count: y.count, rows: rows, columns: n, stride: ldy)
        let status = x.withUnsafeBufferPointer { xp in
            groupSizes.withUnsafeBufferPointer { gp in
                weights.withUnsafeBufferPointer { wp in
                    y.withUnsafeMutableBufferPointer { yp in
                        ck_gemm_m_grouped_f32(xp.baseAddress, rows, k, ldx, int64(gp), experts, wp.baseAddress, layout.c,
                                              n, ws, beta, yp.baseAddress, ldy)
                    }
                }
            }
        }
        try check(status)
    }

    /// m-grouped GEMM in DeepGEMM's masked layout (decode): `x` is `[experts, maxRows, k]`, `y` is
    /// `[experts, maxRows, n]`, and only the first `validRows[g]` rows of expert `g` are read and written.
    public static func mGroupedMasked(
        _ x: Span<Float>, maxRows: Int, k: Int, validRows: Span<Int>, weights: Span<Float>, layout: WeightLayout,
        n: Int, beta: Float = 0, into y: inout MutableSpan<Float>, weightsStride: Int? = nil
    ) throws(MoEKitError) {
        try requireNonNegative(["maxRows": maxRows, "k": k, "n": n])
        let nk = try product(n, k, "n"), experts = validRows.count, ws = weightsStride ?? nk
        let allRows = try product(experts, maxRows, "maxRows")
        try requireMatrix("x", count: x.count, rows: allRows, columns: k, stride: k)
        try requireMatrix("weights", count: weights.count, rows: experts, columns: nk, stride: ws)
        try requireMatrix("y", count: y.count, rows: allRows, columns: n, stride: n)
        let status = x.withUnsafeBufferPointer { xp in
            validRows.withUnsafeBufferPointer { vp in
                weights.withUnsafeBufferPointer { wp in
                    y.withUnsafeMutableBufferPointer { yp in
                        ck_gemm_m_grouped_masked_f32(xp.baseAddress, maxRows, k, int64(vp), experts, wp.baseAddress,
                                                     layout.c, n, ws, beta, yp.baseAddress)
                    }
                }
            }
        }
        try check(status)
    }

    /// k-grouped GEMM (the weight gradient): `dw[g] = x_gᵀ · dy_g + beta · dw[g]` over each expert's token range.
    ///
    /// - Parameters:
    ///   - x: `[rows, k]`; `dy`: `[rows, n]`; `groupSizes` as in ``mGrouped(_:rows:k:groupSizes:weights:layout:n:beta:into:xStride:weightsStride:yStride:)``.
    ///   - dw: `[experts, k, n]` (``WeightLayout/kn``) or `[experts, n, k]` (``WeightLayout/nk``). An expert
    ///     with no tokens gets exact zeros (`beta · dw` with accumulation; untouched when `beta == 1`).
    public static func kGrouped(
        _ x: Span<Float>, rows: Int, k: Int, groupSizes: Span<Int>, dy: Span<Float>, n: Int, beta: Float = 0,
        into dw: inout MutableSpan<Float>, layout: WeightLayout = .kn,
        xStride: Int? = nil, dyStride: Int? = nil, dwStride: Int? = nil
    ) throws(MoEKitError) {
        try requireNonNegative(["rows": rows, "k": k, "n": n])
        let nk = try product(n, k, "n")
        let experts = groupSizes.count, ldx = xStride ?? k, lddy = dyStride ?? n, ws = dwStride ?? nk
        try requireMatrix("x", count: x.count, rows: rows, columns: k, stride: ldx)
        try requireMatrix("dy", count: dy.count, rows: rows, columns: n, stride: lddy)
        try requireMatrix("dw", count: dw.count, rows: experts, columns: nk, stride: ws)
        let status = x.withUnsafeBufferPointer { xp in
            groupSizes.withUnsafeBufferPointer { gp in
                dy.withUnsafeBufferPointer { dp in
                    dw.withUnsafeMutableBufferPointer { wp in
                        ck_gemm_k_grouped_f32(xp.baseAddress, rows, k, ldx, int64(gp), experts, dp.baseAddress, n, lddy,
                                              beta, wp.baseAddress, layout.c, ws)
                    }
                }
            }
        }
        try check(status)
    }

    private static func product(_ a: Int, _ b: Int, _ name: String) throws(MoEKitError) -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        if overflow { throw .sizeOverflow(argument: name) }
        return p
    }

    /// `Int` buffers as the C API's `int64_t` (the same layout on every 64-bit platform Swift supports here).
    private static func int64(_ p: UnsafeBufferPointer<Int>) -> UnsafePointer<Int64>? {
        UnsafeRawPointer(p.baseAddress)?.assumingMemoryBound(to: Int64.self)
    }
}

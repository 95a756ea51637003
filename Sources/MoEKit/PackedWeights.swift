import CKernels

extension GroupedGEMM {
    /// The elements of one expert's `[n, k]` weights packed for ``WeightLayout/packed``: `⌈n/64⌉ · 64 · k`.
    public static func packedCount(n: Int, k: Int) throws(MoEKitError) -> Int {
        try requireNonNegative(["n": n, "k": k])
        var count = 0
        try check(ck_gemm_packed_size(n, k, &count))
        if count < 0 { throw .sizeOverflow(argument: "n") } // past Int.max (the C count is a size_t)
        return count
    }

    /// Packs experts' weights once, at load time, for the m-grouped calls with ``WeightLayout/packed``.
    ///
    /// Each expert's `W [n, k]` is cut into ⌈n/64⌉ strips of 64 rows, strip `s` stored as `[k, 64]` with element
    /// `(l, c)` = `W[64·s + c, l]` (`+0` past `n`). The elements move bit for bit, and every m-grouped result on
    /// the packed weights is bitwise the one on the unpacked weights. Packed, the calls read FP32 strips as
    /// they stand and decode BF16 and E4M3 row by row instead of transposing `W`'s blocks on every call (see
    /// <doc:GroupedGEMMs> for what that buys).
    ///
    /// - Parameters:
    ///   - weights: `[experts, n, k]` (``WeightLayout/nk``) or `[experts, k, n]` (``WeightLayout/kn``).
    ///   - layout: how `weights` are stored (``WeightLayout/packed`` is not a source layout).
    ///   - experts: the experts to pack.
    ///   - n: rows of each expert's `W` (the GEMM's output columns).
    ///   - k: columns of each expert's `W` (the reduction length).
    ///   - packed: the packed experts, `packedStride` elements apart; the elements between them are left alone.
    ///   - weightsStride: elements from one expert's weights to the next (default `n · k`).
    ///   - packedStride: elements from one packed expert to the next (default ``packedCount(n:k:)``).
    public static func packWeights<W: KernelFloat>(
        _ weights: Span<W>, layout: WeightLayout, experts: Int, n: Int, k: Int, into packed: inout MutableSpan<W>,
        weightsStride: Int? = nil, packedStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(weights) { w in
            GEMMOutput.with(&packed) { p in pack(w, layout, experts, n, k, p, weightsStride, packedStride) }
        }.get()
    }

    /// Packs experts' E4M3 weight codes for ``WeightLayout/packed``, as
    /// ``packWeights(_:layout:experts:n:k:into:weightsStride:packedStride:)`` packs `Float` and ``BFloat16``
    /// weights. Their scales need no packing: with ``WeightLayout/packed`` they keep the ``WeightLayout/nk``
    /// grid, `[⌈n/128⌉, ⌈k/128⌉]` per expert.
    public static func packWeights(
        fp8 codes: Span<UInt8>, layout: WeightLayout, experts: Int, n: Int, k: Int, into packed: inout MutableSpan<UInt8>,
        weightsStride: Int? = nil, packedStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(e4m3: codes, scales: Span()) { w in
            let count = packed.count
            return packed.withUnsafeMutableBytes { raw in
                pack(w, layout, experts, n, k, GEMMOutput(base: raw.baseAddress, count: count, type: CK_DTYPE_E4M3FN),
                     weightsStride, packedStride)
            }
        }.get()
    }

    /// Packing on checked operands.
    private static func pack(
        _ w: GEMMOperand, _ layout: WeightLayout, _ experts: Int, _ n: Int, _ k: Int, _ packed: GEMMOutput,
        _ weightsStride: Int?, _ packedStride: Int?
    ) -> Result<Void, MoEKitError> {
        Result { () throws(MoEKitError) in
            try requireNonNegative(["experts": experts, "n": n, "k": k])
            if layout == .packed {
                throw .invalidValue(argument: "layout", reason: "layout is the source's: .nk or .kn, not .packed")
            }
            let count = try checkedProduct(n, k, "n"), packedCount = try packedCount(n: n, k: k)
            let ws = weightsStride ?? count, ps = packedStride ?? packedCount
            try requireMatrix("weights", count: w.count, rows: experts, columns: count, stride: ws)
            try requireMatrix("packed", count: packed.count, rows: experts, columns: packedCount, stride: ps)
            try check(ck_gemm_pack_weights(w.base, w.type, layout.c, experts, n, k, ws, packed.base, ps))
        }
    }
}

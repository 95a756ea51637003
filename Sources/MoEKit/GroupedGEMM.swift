import CKernels

/// How each expert's weight matrix is laid out.
public enum WeightLayout: Sendable, CaseIterable {
    /// `[N, K]`: the checkpoint / `nn.Linear` layout; `y = x · wᵀ` (the forward pass).
    case nk
    /// `[K, N]`: `y = x · w` (the data gradient `dX = dY · W`, and wgrad outputs `[K, N]`).
    case kn
    /// `[N, K]` weights as ``GroupedGEMM/packWeights(_:layout:experts:n:k:into:weightsStride:packedStride:)``
    /// writes them, `y = x · wᵀ`: ⌈N/64⌉ strips of `[K, 64]` per expert
    /// (``GroupedGEMM/packedCount(n:k:)`` elements). m-grouped calls only; FP8 scales as for ``nk``.
    case packed

    var c: ck_weight_layout {
        switch self {
        case .nk: CK_WEIGHTS_NK
        case .kn: CK_WEIGHTS_KN
        case .packed: CK_WEIGHTS_PACKED
        }
    }

    /// The elements of one expert's `[n, k]` weights in this layout.
    func expertCount(n: Int, k: Int) throws(MoEKitError) -> Int {
        self == .packed ? try GroupedGEMM.packedCount(n: n, k: k) : try checkedProduct(n, k, "n")
    }
}

/// Grouped expert GEMMs: every expert of a MoE layer in one call, balanced across threads.
///
/// Inputs are `Float`, ``BFloat16`` or FP8 E4M3 codes with block scales; outputs `Float` or ``BFloat16``.
/// Results are bitwise identical for every ISA and thread count, and **batch-invariant**: a token's output
/// row has the same bits whatever other tokens share its expert or the call. See <doc:GroupedGEMMs>.
public enum GroupedGEMM {
    /// m-grouped GEMM: `y[rows of g] = x[rows of g] · op(w[g]) + beta · y[rows of g]`.
    ///
    /// - Parameters:
    ///   - x: `[rows, k]`, each expert's token rows back to back.
    ///   - rows: rows of `x` and `y`.
    ///   - k: the reduction length.
    ///   - groupSizes: `[experts]` rows per expert (zeros allowed), summing to `rows`.
    ///   - weights: `[experts, n, k]` (``WeightLayout/nk``), `[experts, k, n]` (``WeightLayout/kn``) or packed
    ///     (``WeightLayout/packed``).
    ///   - layout: how each expert's weights are stored.
    ///   - n: output columns.
    ///   - beta: finite; `0` (the default) overwrites `y`.
    ///   - y: `[rows, n]`. With `beta == 0` it is only written (NaN there cannot leak).
    ///   - xStride: row stride of `x` (default `k`).
    ///   - weightsStride: elements from one expert's weights to the next (default `n · k`; packed:
    ///     ``packedCount(n:k:)``).
    ///   - yStride: row stride of `y` (default `n`).
    public static func mGrouped<X: KernelFloat, W: KernelFloat, Y: KernelFloat>(
        _ x: Span<X>, rows: Int, k: Int, groupSizes: Span<Int>, weights: Span<W>, layout: WeightLayout,
        n: Int, beta: Float = 0, into y: inout MutableSpan<Y>,
        xStride: Int? = nil, weightsStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(x) { x in
            GEMMOperand.with(weights) { w in
                GEMMOutput.with(&y) { y in
                    mGrouped(x, rows, k, xStride, groupSizes, w, layout, n, weightsStride, beta, y, yStride)
                }
            }
        }.get()
    }

    /// Weight-only FP8 m-grouped GEMM: `Float` or ``BFloat16`` activations times E4M3 weights with 128 × 128
    /// block scales — DeepSeek-V3's checkpoint format, without a BF16 copy of the weights.
    ///
    /// - Parameters:
    ///   - x: `[rows, k]`, each expert's token rows back to back.
    ///   - rows: rows of `x` and `y`.
    ///   - k: the reduction length.
    ///   - groupSizes: `[experts]` rows per expert (zeros allowed), summing to `rows`.
    ///   - fp8Weights: E4M3 codes laid out as in ``mGrouped(_:rows:k:groupSizes:weights:layout:n:beta:into:xStride:weightsStride:yStride:)``.
    ///   - weightScales: per expert, the multipliers of its 128 × 128 blocks, laid out like the blocks:
    ///     `[⌈n/128⌉, ⌈k/128⌉]` for ``WeightLayout/nk`` (the checkpoint's `weight_scale_inv`) and
    ///     ``WeightLayout/packed``, `[⌈k/128⌉, ⌈n/128⌉]` for ``WeightLayout/kn``; experts back to back.
    ///   - layout: how each expert's weights are stored.
    ///   - n: output columns.
    ///   - beta: finite; `0` (the default) overwrites `y`.
    ///   - y: `[rows, n]`. With `beta == 0` it is only written (NaN there cannot leak).
    ///   - xStride: row stride of `x` (default `k`).
    ///   - weightsStride: elements from one expert's weights to the next (default `n · k`; packed:
    ///     ``packedCount(n:k:)``).
    ///   - yStride: row stride of `y` (default `n`).
    public static func mGrouped<X: KernelFloat, Y: KernelFloat>(
        _ x: Span<X>, rows: Int, k: Int, groupSizes: Span<Int>, fp8Weights: Span<UInt8>, weightScales: Span<Float>,
        layout: WeightLayout, n: Int, beta: Float = 0, into y: inout MutableSpan<Y>,
        xStride: Int? = nil, weightsStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(x) { x in
            GEMMOperand.with(e4m3: fp8Weights, scales: weightScales) { w in
                GEMMOutput.with(&y) { y in
                    mGrouped(x, rows, k, xStride, groupSizes, w, layout, n, weightsStride, beta, y, yStride)
                }
            }
        }.get()
    }

    /// FP8 × FP8 m-grouped GEMM (DeepSeek-V3's `fp8_gemm`, DeepGEMM's 1D2D): E4M3 activations with 1 × 128
    /// scales `[rows, ⌈k/128⌉]` times E4M3 weights with 128 × 128 block scales (as in
    /// ``mGrouped(_:rows:k:groupSizes:fp8Weights:weightScales:layout:n:beta:into:xStride:weightsStride:yStride:)``);
    /// each 128-wide block's partial sum is scaled by `xScale · weightScale`.
    ///
    /// - Parameters:
    ///   - x: `[rows, k]` E4M3 codes, each expert's token rows back to back.
    ///   - xScales: `[rows, ⌈k/128⌉]` multipliers (packed).
    ///   - rows: rows of `x` and `y`.
    ///   - k: the reduction length.
    ///   - groupSizes: `[experts]` rows per expert (zeros allowed), summing to `rows`.
    ///   - fp8Weights: E4M3 codes `[experts, n, k]` (``WeightLayout/nk``), `[experts, k, n]` (``WeightLayout/kn``)
    ///     or packed (``WeightLayout/packed``).
    ///   - weightScales: as in the weight-only call.
    ///   - layout: how each expert's weights are stored.
    ///   - n: output columns.
    ///   - beta: finite; `0` (the default) overwrites `y`.
    ///   - y: `[rows, n]`. With `beta == 0` it is only written (NaN there cannot leak).
    ///   - xStride: row stride of `x` (default `k`).
    ///   - weightsStride: elements from one expert's weights to the next (default `n · k`; packed:
    ///     ``packedCount(n:k:)``).
    ///   - yStride: row stride of `y` (default `n`).
    public static func mGrouped<Y: KernelFloat>(
        fp8 x: Span<UInt8>, xScales: Span<Float>, rows: Int, k: Int, groupSizes: Span<Int>, fp8Weights: Span<UInt8>,
        weightScales: Span<Float>, layout: WeightLayout, n: Int, beta: Float = 0, into y: inout MutableSpan<Y>,
        xStride: Int? = nil, weightsStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(e4m3: x, scales: xScales) { x in
            GEMMOperand.with(e4m3: fp8Weights, scales: weightScales) { w in
                GEMMOutput.with(&y) { y in
                    mGrouped(x, rows, k, xStride, groupSizes, w, layout, n, weightsStride, beta, y, yStride)
                }
            }
        }.get()
    }

    /// m-grouped GEMM in DeepGEMM's masked layout (decode): `x` is `[experts, maxRows, k]`, `y` is
    /// `[experts, maxRows, n]`, and only the first `validRows[g]` rows of expert `g` are read and written
    /// (each `validRows[g]` in `0...maxRows`; `beta` finite, as in
    /// ``mGrouped(_:rows:k:groupSizes:weights:layout:n:beta:into:xStride:weightsStride:yStride:)``).
    ///
    /// - Parameters:
    ///   - x: `[experts, maxRows, k]`, packed; rows past `validRows[g]` may hold anything (NaN included).
    ///   - maxRows: rows reserved per expert in `x` and `y`.
    ///   - k: the reduction length.
    ///   - validRows: `[experts]` rows of each expert to compute.
    ///   - weights: as in the m-grouped call.
    ///   - layout: how each expert's weights are stored.
    ///   - n: output columns.
    ///   - beta: finite; `0` (the default) overwrites the valid rows of `y`.
    ///   - y: `[experts, maxRows, n]`, packed; rows past `validRows[g]` are left as they are.
    ///   - weightsStride: elements from one expert's weights to the next (default `n · k`; packed:
    ///     ``packedCount(n:k:)``).
    public static func mGroupedMasked<X: KernelFloat, W: KernelFloat, Y: KernelFloat>(
        _ x: Span<X>, maxRows: Int, k: Int, validRows: Span<Int>, weights: Span<W>, layout: WeightLayout,
        n: Int, beta: Float = 0, into y: inout MutableSpan<Y>, weightsStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(x) { x in
            GEMMOperand.with(weights) { w in
                GEMMOutput.with(&y) { y in mGroupedMasked(x, maxRows, k, validRows, w, layout, n, weightsStride, beta, y) }
            }
        }.get()
    }

    /// Weight-only FP8 in the masked layout (decode of DeepSeek-V3's FP8 checkpoint); scales as in
    /// ``mGrouped(_:rows:k:groupSizes:fp8Weights:weightScales:layout:n:beta:into:xStride:weightsStride:yStride:)``,
    /// the other arguments as in
    /// ``mGroupedMasked(_:maxRows:k:validRows:weights:layout:n:beta:into:weightsStride:)``.
    public static func mGroupedMasked<X: KernelFloat, Y: KernelFloat>(
        _ x: Span<X>, maxRows: Int, k: Int, validRows: Span<Int>, fp8Weights: Span<UInt8>, weightScales: Span<Float>,
        layout: WeightLayout, n: Int, beta: Float = 0, into y: inout MutableSpan<Y>, weightsStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(x) { x in
            GEMMOperand.with(e4m3: fp8Weights, scales: weightScales) { w in
                GEMMOutput.with(&y) { y in mGroupedMasked(x, maxRows, k, validRows, w, layout, n, weightsStride, beta, y) }
            }
        }.get()
    }

    /// FP8 × FP8 in the masked layout: `xScales` is `[experts · maxRows, ⌈k/128⌉]`; the weights and their
    /// scales as in
    /// ``mGrouped(_:rows:k:groupSizes:fp8Weights:weightScales:layout:n:beta:into:xStride:weightsStride:yStride:)``,
    /// the other arguments as in
    /// ``mGroupedMasked(_:maxRows:k:validRows:weights:layout:n:beta:into:weightsStride:)``.
    public static func mGroupedMasked<Y: KernelFloat>(
        fp8 x: Span<UInt8>, xScales: Span<Float>, maxRows: Int, k: Int, validRows: Span<Int>, fp8Weights: Span<UInt8>,
        weightScales: Span<Float>, layout: WeightLayout, n: Int, beta: Float = 0, into y: inout MutableSpan<Y>,
        weightsStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(e4m3: x, scales: xScales) { x in
            GEMMOperand.with(e4m3: fp8Weights, scales: weightScales) { w in
                GEMMOutput.with(&y) { y in mGroupedMasked(x, maxRows, k, validRows, w, layout, n, weightsStride, beta, y) }
            }
        }.get()
    }

    /// m-grouped GEMM in DeepGEMM's contiguous layout: `rowExperts[i]` is row `i`'s expert, or `-1` for a
    /// padding row (DeepGEMM's `m_indices`, which pads each expert's rows to its M alignment). Each run of rows
    /// with one expert is computed as that expert's rows, with the same bits as
    /// ``mGrouped(_:rows:k:groupSizes:weights:layout:n:beta:into:xStride:weightsStride:yStride:)`` gives them
    /// (runs may come in any order and an expert may have several, each reading its weights again). A padding
    /// row of `x` is never read; its row of `y` is an empty sum's: `+0` (`fma(beta, y, +0)` with `beta`, left as
    /// it is when `beta == 1`).
    ///
    /// - Parameters:
    ///   - x: `[rows, k]`; padding rows may hold anything (NaN included).
    ///   - rows: rows of `x` and `y`.
    ///   - k: the reduction length.
    ///   - rowExperts: `[rows]`, each `-1` or an expert in `0..<experts`; any other value throws
    ///     ``MoEKitError/invalidValue(argument:reason:)``, and a count other than `rows`
    ///     ``MoEKitError/invalidShape(argument:reason:)``, with nothing written.
    ///   - experts: the experts in `weights`.
    ///   - weights: `[experts, n, k]` (``WeightLayout/nk``), `[experts, k, n]` (``WeightLayout/kn``) or packed
    ///     (``WeightLayout/packed``).
    ///   - layout: how each expert's weights are stored.
    ///   - n: output columns.
    ///   - beta: finite; `0` (the default) overwrites `y`.
    ///   - y: `[rows, n]`. With `beta == 0` it is only written (NaN there cannot leak).
    ///   - xStride: row stride of `x` (default `k`).
    ///   - weightsStride: elements from one expert's weights to the next (default `n · k`; packed:
    ///     ``packedCount(n:k:)``).
    ///   - yStride: row stride of `y` (default `n`).
    public static func mGrouped<X: KernelFloat, W: KernelFloat, Y: KernelFloat>(
        _ x: Span<X>, rows: Int, k: Int, rowExperts: Span<Int32>, experts: Int, weights: Span<W>, layout: WeightLayout,
        n: Int, beta: Float = 0, into y: inout MutableSpan<Y>,
        xStride: Int? = nil, weightsStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(x) { x in
            GEMMOperand.with(weights) { w in
                GEMMOutput.with(&y) { y in
                    mGrouped(x, rows, k, xStride, rowExperts, experts, w, layout, n, weightsStride, beta, y, yStride)
                }
            }
        }.get()
    }

    /// Weight-only FP8 in DeepGEMM's contiguous layout; weights and scales as in
    /// ``mGrouped(_:rows:k:groupSizes:fp8Weights:weightScales:layout:n:beta:into:xStride:weightsStride:yStride:)``,
    /// the other arguments as in
    /// ``mGrouped(_:rows:k:rowExperts:experts:weights:layout:n:beta:into:xStride:weightsStride:yStride:)``.
    public static func mGrouped<X: KernelFloat, Y: KernelFloat>(
        _ x: Span<X>, rows: Int, k: Int, rowExperts: Span<Int32>, experts: Int, fp8Weights: Span<UInt8>,
        weightScales: Span<Float>, layout: WeightLayout, n: Int, beta: Float = 0, into y: inout MutableSpan<Y>,
        xStride: Int? = nil, weightsStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(x) { x in
            GEMMOperand.with(e4m3: fp8Weights, scales: weightScales) { w in
                GEMMOutput.with(&y) { y in
                    mGrouped(x, rows, k, xStride, rowExperts, experts, w, layout, n, weightsStride, beta, y, yStride)
                }
            }
        }.get()
    }

    /// FP8 × FP8 in DeepGEMM's contiguous layout (`m_grouped_fp8_gemm_nt_contiguous`): `xScales` is
    /// `[rows, ⌈k/128⌉]` (padding rows' scales are never read); operands as in
    /// ``mGrouped(fp8:xScales:rows:k:groupSizes:fp8Weights:weightScales:layout:n:beta:into:xStride:weightsStride:yStride:)``,
    /// the grouping as in
    /// ``mGrouped(_:rows:k:rowExperts:experts:weights:layout:n:beta:into:xStride:weightsStride:yStride:)``.
    public static func mGrouped<Y: KernelFloat>(
        fp8 x: Span<UInt8>, xScales: Span<Float>, rows: Int, k: Int, rowExperts: Span<Int32>, experts: Int,
        fp8Weights: Span<UInt8>, weightScales: Span<Float>, layout: WeightLayout, n: Int, beta: Float = 0,
        into y: inout MutableSpan<Y>, xStride: Int? = nil, weightsStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(e4m3: x, scales: xScales) { x in
            GEMMOperand.with(e4m3: fp8Weights, scales: weightScales) { w in
                GEMMOutput.with(&y) { y in
                    mGrouped(x, rows, k, xStride, rowExperts, experts, w, layout, n, weightsStride, beta, y, yStride)
                }
            }
        }.get()
    }

    /// k-grouped GEMM (the weight gradient): `dw[g] = x_gᵀ · dy_g + beta · dw[g]` over each expert's token range.
    ///
    /// - Parameters:
    ///   - x: `[rows, k]`, each expert's token rows back to back.
    ///   - rows: tokens (rows of `x` and `dy`).
    ///   - k: rows of each expert's `dw` block in ``WeightLayout/kn`` (columns of `x`).
    ///   - groupSizes: `[experts]` tokens per expert (zeros allowed), summing to `rows`.
    ///   - dy: `[rows, n]`.
    ///   - n: columns of `dy`.
    ///   - beta: finite; `0` (the default) overwrites `dw`.
    ///   - dw: `[experts, k, n]` (``WeightLayout/kn``) or `[experts, n, k]` (``WeightLayout/nk``; not packed). An expert
    ///     with no tokens gets exact zeros (with `beta`: `fma(beta, dw, +0)`; untouched when `beta == 1`).
    ///   - layout: how `dw` is stored.
    ///   - xStride: row stride of `x` (default `k`).
    ///   - dyStride: row stride of `dy` (default `n`).
    ///   - dwStride: elements from one expert's block of `dw` to the next (default `n · k`).
    public static func kGrouped<X: KernelFloat, D: KernelFloat, W: KernelFloat>(
        _ x: Span<X>, rows: Int, k: Int, groupSizes: Span<Int>, dy: Span<D>, n: Int, beta: Float = 0,
        into dw: inout MutableSpan<W>, layout: WeightLayout = .kn,
        xStride: Int? = nil, dyStride: Int? = nil, dwStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(x) { x in
            GEMMOperand.with(dy) { dy in
                GEMMOutput.with(&dw) { dw in
                    Result { () throws(MoEKitError) in
                        try requireNonNegative(["rows": rows, "k": k, "n": n])
                        let nk = try checkedProduct(n, k, "n")
                        let experts = groupSizes.count, ldx = xStride ?? k, lddy = dyStride ?? n, ws = dwStride ?? nk
                        try x.require("x", rows: rows, columns: k, stride: ldx)
                        try dy.require("dy", rows: rows, columns: n, stride: lddy)
                        try requireMatrix("dw", count: dw.count, rows: experts, columns: nk, stride: ws)
                        try check(groupSizes.withUnsafeBufferPointer { gp in
                            ck_gemm_k_grouped(x.base, x.type, rows, k, ldx, int64(gp), experts, dy.base, dy.type, n, lddy,
                                              beta, dw.base, dw.type, layout.c, ws)
                        })
                    }
                }
            }
        }.get()
    }

    /// FP8 k-grouped GEMM (DeepSeek-V3's weight gradient, DeepGEMM's `k_grouped` 1D1D): `dw[g] = x_gᵀ · dy_g +
    /// beta · dw[g]` from E4M3 operands quantized per channel over 128 tokens and stored transposed, as
    /// ``Quantization/quantizePerChannelTransposed(_:tokens:channels:groupSize:format:scaling:codes:scales:xStride:codesStride:scalesStride:)``
    /// writes them.
    ///
    /// Each expert's tokens form blocks of 128 from its own first token. With `S` = Σ ⌈groupSizes[g] / 128⌉,
    /// block `b` of expert `g` has its scales in column `B_g + b` of `xScales` and `dyScales`, `B_g` being the
    /// blocks of the experts before `g`: quantizing each expert's token range on its own (codes at column
    /// offset = its first token, scales at column offset `B_g`, strides `rows` and `S`) writes exactly this,
    /// and when every size is a multiple of 128 it is the whole tensor quantized at once. Per block, the
    /// partial sum is scaled by `xScale · dyScale` (see <doc:GroupedGEMMs>).
    ///
    /// - Parameters:
    ///   - xT: `[k, rows]` codes.
    ///   - xScales: `[k, S]` multipliers (packed).
    ///   - rows: tokens (columns of `xT` and `dyT`).
    ///   - k: rows of `xT`.
    ///   - groupSizes: `[experts]` tokens per expert (zeros allowed), summing to `rows`.
    ///   - dyT: `[n, rows]` codes.
    ///   - dyScales: `[n, S]` multipliers (packed).
    ///   - n: rows of `dyT`.
    ///   - beta: finite; `0` (the default) overwrites `dw`.
    ///   - dw: as in ``kGrouped(_:rows:k:groupSizes:dy:n:beta:into:layout:xStride:dyStride:dwStride:)``.
    ///   - layout: how `dw` is stored.
    ///   - xStride: row stride of `xT` (default `rows`).
    ///   - dyStride: row stride of `dyT` (default `rows`).
    ///   - dwStride: elements from one expert's block of `dw` to the next (default `n · k`).
    public static func kGrouped<W: KernelFloat>(
        fp8Transposed xT: Span<UInt8>, xScales: Span<Float>, rows: Int, k: Int, groupSizes: Span<Int>,
        dyTransposed dyT: Span<UInt8>, dyScales: Span<Float>, n: Int, beta: Float = 0,
        into dw: inout MutableSpan<W>, layout: WeightLayout = .kn,
        xStride: Int? = nil, dyStride: Int? = nil, dwStride: Int? = nil
    ) throws(MoEKitError) {
        try GEMMOperand.with(e4m3: xT, scales: xScales) { x in
            GEMMOperand.with(e4m3: dyT, scales: dyScales) { dy in
                GEMMOutput.with(&dw) { dw in
                    Result { () throws(MoEKitError) in
                        try requireNonNegative(["rows": rows, "k": k, "n": n])
                        let nk = try checkedProduct(n, k, "n")
                        let experts = groupSizes.count, ldx = xStride ?? rows, lddy = dyStride ?? rows, ws = dwStride ?? nk
                        var blocks = 0 // S (sizes the C call rejects count as 0 or rows here)
                        for g in groupSizes.indices {
                            let (sum, overflow) = blocks.addingReportingOverflow(divUp(min(max(groupSizes[g], 0), rows), 128))
                            if overflow { throw .sizeOverflow(argument: "groupSizes") }
                            blocks = sum
                        }
                        try x.require("xT", rows: k, columns: rows, stride: ldx, scales: try checkedProduct(k, blocks, "k"), "xScales")
                        try dy.require("dyT", rows: n, columns: rows, stride: lddy, scales: try checkedProduct(n, blocks, "n"), "dyScales")
                        try requireMatrix("dw", count: dw.count, rows: experts, columns: nk, stride: ws)
                        try check(groupSizes.withUnsafeBufferPointer { gp in
                            ck_gemm_k_grouped_fp8(x.base?.assumingMemoryBound(to: UInt8.self), x.scales, rows, k, ldx,
                                                  int64(gp), experts, dy.base?.assumingMemoryBound(to: UInt8.self),
                                                  dy.scales, n, lddy, beta, dw.base, dw.type, layout.c, ws)
                        })
                    }
                }
            }
        }.get()
    }

    /// The m-grouped GEMM on checked operands, its rows grouped by `groupSizes`.
    private static func mGrouped(
        _ x: GEMMOperand, _ rows: Int, _ k: Int, _ xStride: Int?, _ groupSizes: Span<Int>, _ w: GEMMOperand,
        _ layout: WeightLayout, _ n: Int, _ weightsStride: Int?, _ beta: Float, _ y: GEMMOutput, _ yStride: Int?
    ) -> Result<Void, MoEKitError> {
        groupSizes.withUnsafeBufferPointer { gp in
            mGrouped(x, rows, k, xStride, experts: gp.count, w, layout, n, weightsStride, y, yStride) {
                ldx, ws, ldy throws(MoEKitError) in
                try check(ck_gemm_m_grouped(x.base, x.type, x.scales, rows, k, ldx, int64(gp), gp.count, w.base, w.type,
                                            w.scales, layout.c, n, ws, beta, y.base, y.type, ldy))
            }
        }
    }

    /// The m-grouped GEMM on checked operands, its rows grouped by `rowExperts` (DeepGEMM's contiguous layout).
    private static func mGrouped(
        _ x: GEMMOperand, _ rows: Int, _ k: Int, _ xStride: Int?, _ rowExperts: Span<Int32>, _ experts: Int,
        _ w: GEMMOperand, _ layout: WeightLayout, _ n: Int, _ weightsStride: Int?, _ beta: Float, _ y: GEMMOutput,
        _ yStride: Int?
    ) -> Result<Void, MoEKitError> {
        if rowExperts.count != rows {
            let reason = "rowExperts holds \(rowExperts.count) indices for \(rows) rows"
            return .failure(.invalidShape(argument: "rowExperts", reason: reason))
        }
        return rowExperts.withUnsafeBufferPointer { ep in
            mGrouped(x, rows, k, xStride, experts: experts, w, layout, n, weightsStride, y, yStride) {
                ldx, ws, ldy throws(MoEKitError) in
                try check(ck_gemm_m_grouped_contiguous(x.base, x.type, x.scales, rows, k, ldx, ep.baseAddress, experts,
                                                       w.base, w.type, w.scales, layout.c, n, ws, beta, y.base, y.type, ldy))
            }
        }
    }

    /// The checks every m-grouped overload with a row-major `[rows, k]` x shares; then `call(ldx, weightsStride,
    /// ldy)` runs the C entry point.
    private static func mGrouped(
        _ x: GEMMOperand, _ rows: Int, _ k: Int, _ xStride: Int?, experts: Int, _ w: GEMMOperand,
        _ layout: WeightLayout, _ n: Int, _ weightsStride: Int?, _ y: GEMMOutput, _ yStride: Int?,
        _ call: (Int, Int, Int) throws(MoEKitError) -> Void
    ) -> Result<Void, MoEKitError> {
        Result { () throws(MoEKitError) in
            try requireNonNegative(["rows": rows, "k": k, "n": n, "experts": experts])
            let expert = try layout.expertCount(n: n, k: k)
            let ldx = xStride ?? k, ldy = yStride ?? n, ws = weightsStride ?? expert
            try x.require("x", rows: rows, columns: k, stride: ldx, scales: try checkedProduct(rows, divUp(k, 128), "rows"), "xScales")
            try w.require("weights", rows: experts, columns: expert, stride: ws,
                          scales: try checkedProduct(experts, scaleGrid(n, k), "n"), "weightScales")
            try requireMatrix("y", count: y.count, rows: rows, columns: n, stride: ldy)
            try call(ldx, ws, ldy)
        }
    }

    /// The masked m-grouped GEMM on checked operands.
    private static func mGroupedMasked(
        _ x: GEMMOperand, _ maxRows: Int, _ k: Int, _ validRows: Span<Int>, _ w: GEMMOperand, _ layout: WeightLayout,
        _ n: Int, _ weightsStride: Int?, _ beta: Float, _ y: GEMMOutput
    ) -> Result<Void, MoEKitError> {
        Result { () throws(MoEKitError) in
            try requireNonNegative(["maxRows": maxRows, "k": k, "n": n])
            let expert = try layout.expertCount(n: n, k: k), experts = validRows.count, ws = weightsStride ?? expert
            let allRows = try checkedProduct(experts, maxRows, "maxRows")
            try x.require("x", rows: allRows, columns: k, stride: k, scales: try checkedProduct(allRows, divUp(k, 128), "maxRows"), "xScales")
            try w.require("weights", rows: experts, columns: expert, stride: ws,
                          scales: try checkedProduct(experts, scaleGrid(n, k), "n"), "weightScales")
            try requireMatrix("y", count: y.count, rows: allRows, columns: n, stride: n)
            try check(validRows.withUnsafeBufferPointer { vp in
                ck_gemm_m_grouped_masked(x.base, x.type, x.scales, maxRows, k, int64(vp), experts, w.base, w.type,
                                         w.scales, layout.c, n, ws, beta, y.base, y.type)
            })
        }
    }
}

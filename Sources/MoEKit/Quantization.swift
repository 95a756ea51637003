import CKernels

/// DeepSeek-V3's fine-grained FP8 quantization: a scale per group of elements, stored as a multiplier
/// (`x ≈ decode(q) * s`).
///
/// For each group: `amax = max|x|` floored at 1e-4, `s = amax / format.maxValue` (or, with ``UE8M0``
/// scales, the exact smallest power of two ≥ that), `q = fp8(x / s)`. Partial groups at the edges behave as
/// if zero-padded. A group holding NaN gets a NaN scale and NaN codes; a group holding ±inf gets an infinite
/// scale (``UE8M0``: NaN), its infinities encode to NaN and its finite elements to ±0.
///
/// All matrices are row-major; each `…Stride` is a row stride in elements (default: packed rows).
/// A call that throws has written nothing.
public enum Quantization {
    /// Per-token `1 × groupSize` quantization along rows (activations; V3 uses 1 × 128).
    ///
    /// - Parameters:
    ///   - x: `[rows, columns]`.
    ///   - rows: tokens.
    ///   - columns: elements per token.
    ///   - groupSize: elements per scale along the row (any size ≥ 1; the last group may be partial).
    ///   - format: the FP8 format of the codes.
    ///   - scaling: how `x` is divided by its group's scale.
    ///   - codes: `[rows, columns]` FP8 codes.
    ///   - scales: `[rows, ⌈columns / groupSize⌉]`.
    ///   - xStride: row stride of `x` (default `columns`).
    ///   - codesStride: row stride of `codes` (default `columns`).
    ///   - scalesStride: row stride of `scales` (default `⌈columns / groupSize⌉`).
    public static func quantizePerToken<Input: KernelFloat, Scale: QuantizationScale>(
        _ x: Span<Input>, rows: Int, columns: Int, groupSize: Int = 128,
        format: FP8Format = .e4m3fn, scaling: Scaling = .divide,
        codes: inout MutableSpan<UInt8>, scales: inout MutableSpan<Scale>,
        xStride: Int? = nil, codesStride: Int? = nil, scalesStride: Int? = nil
    ) throws(MoEKitError) {
        try quantize(x, rows: rows, columns: columns, group: groupSize, groupName: "groupSize",
                     scaleRows: divUp(rows, 1), format: format, scaling: scaling, codes: &codes, scales: &scales,
                     strides: (xStride ?? columns, codesStride ?? columns, scalesStride)) {
            ck_quant_per_token($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        }
    }

    /// Per-block `blockSize × blockSize` quantization (weights: DeepSeek's checkpoint `weight [N, K]` with
    /// `weight_scale_inv [⌈N/128⌉, ⌈K/128⌉]`).
    ///
    /// - Parameters:
    ///   - x: `[rows, columns]`.
    ///   - rows: rows of `x` (a weight's output features `N`).
    ///   - columns: columns of `x` (its input features `K`).
    ///   - blockSize: the side of a square block (≥ 1; edge blocks may be partial).
    ///   - format: the FP8 format of the codes.
    ///   - scaling: how `x` is divided by its group's scale.
    ///   - codes: `[rows, columns]` FP8 codes.
    ///   - scales: `[⌈rows / blockSize⌉, ⌈columns / blockSize⌉]`.
    ///   - xStride: row stride of `x` (default `columns`).
    ///   - codesStride: row stride of `codes` (default `columns`).
    ///   - scalesStride: row stride of `scales` (default `⌈columns / blockSize⌉`).
    public static func quantizePerBlock<Input: KernelFloat, Scale: QuantizationScale>(
        _ x: Span<Input>, rows: Int, columns: Int, blockSize: Int = 128,
        format: FP8Format = .e4m3fn, scaling: Scaling = .divide,
        codes: inout MutableSpan<UInt8>, scales: inout MutableSpan<Scale>,
        xStride: Int? = nil, codesStride: Int? = nil, scalesStride: Int? = nil
    ) throws(MoEKitError) {
        try requirePositive(blockSize, "blockSize")
        try quantize(x, rows: rows, columns: columns, group: blockSize, groupName: "blockSize",
                     scaleRows: divUp(max(rows, 0), blockSize), format: format, scaling: scaling,
                     codes: &codes, scales: &scales, strides: (xStride ?? columns, codesStride ?? columns, scalesStride)) {
            ck_quant_per_block($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        }
    }

    /// Per-channel `groupSize × 1` quantization over tokens, writing the transposed tensor (the activations of
    /// the weight-gradient GEMM; V3 uses 128 × 1). The result is the per-token layout of `xᵀ`, so
    /// ``dequantizePerToken(codes:scales:rows:columns:groupSize:format:into:codesStride:scalesStride:yStride:)``
    /// with `rows: channels, columns: tokens` decodes it.
    ///
    /// - Parameters:
    ///   - x: `[tokens, channels]`.
    ///   - tokens: rows of `x`.
    ///   - channels: columns of `x`.
    ///   - groupSize: tokens per scale (≥ 1; the last group may be partial).
    ///   - format: the FP8 format of the codes.
    ///   - scaling: how `x` is divided by its group's scale.
    ///   - codes: `[channels, tokens]` FP8 codes.
    ///   - scales: `[channels, ⌈tokens / groupSize⌉]`.
    ///   - xStride: row stride of `x` (default `channels`).
    ///   - codesStride: row stride of `codes` (default `tokens`).
    ///   - scalesStride: row stride of `scales` (default `⌈tokens / groupSize⌉`).
    public static func quantizePerChannelTransposed<Input: KernelFloat, Scale: QuantizationScale>(
        _ x: Span<Input>, tokens: Int, channels: Int, groupSize: Int = 128,
        format: FP8Format = .e4m3fn, scaling: Scaling = .divide,
        codes: inout MutableSpan<UInt8>, scales: inout MutableSpan<Scale>,
        xStride: Int? = nil, codesStride: Int? = nil, scalesStride: Int? = nil
    ) throws(MoEKitError) {
        try requireNonNegative(["tokens": tokens, "channels": channels])
        try requirePositive(groupSize, "groupSize")
        let ldx = xStride ?? channels, ldq = codesStride ?? tokens
        let groups = divUp(tokens, groupSize), lds = scalesStride ?? groups
        try requireMatrix("x", count: x.count, rows: tokens, columns: channels, stride: ldx)
        try requireMatrix("codes", count: codes.count, rows: channels, columns: tokens, stride: ldq)
        try requireMatrix("scales", count: scales.count, rows: channels, columns: groups, stride: lds)
        var params = ck_quant_params(format: format.c, scale_format: Scale.c, scaling: scaling.c)
        let status = x.withUnsafeBufferPointer { xp in
            codes.withUnsafeMutableBufferPointer { qp in
                scales.withUnsafeMutableBufferPointer { sp in
                    ck_quant_per_channel_transposed(UnsafeRawPointer(xp.baseAddress), Input.c, tokens, channels, ldx,
                                                    groupSize, &params, qp.baseAddress, ldq, UnsafeMutableRawPointer(sp.baseAddress), lds)
                }
            }
        }
        try check(status)
    }

    /// Decodes per-token quantized codes: `y = decode(q) * s` (rounded once more for ``BFloat16`` output).
    ///
    /// - Parameters:
    ///   - codes: `[rows, columns]`.
    ///   - scales: `[rows, ⌈columns / groupSize⌉]`.
    ///   - rows: rows of `codes`.
    ///   - columns: columns of `codes`.
    ///   - groupSize: elements per scale along the row, as quantized.
    ///   - format: the FP8 format of the codes.
    ///   - y: `[rows, columns]`.
    ///   - codesStride: row stride of `codes` (default `columns`).
    ///   - scalesStride: row stride of `scales` (default `⌈columns / groupSize⌉`).
    ///   - yStride: row stride of `y` (default `columns`).
    public static func dequantizePerToken<Scale: QuantizationScale, Output: KernelFloat>(
        codes: Span<UInt8>, scales: Span<Scale>, rows: Int, columns: Int, groupSize: Int = 128,
        format: FP8Format = .e4m3fn, into y: inout MutableSpan<Output>,
        codesStride: Int? = nil, scalesStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try dequantize(codes: codes, scales: scales, rows: rows, columns: columns, group: groupSize, groupName: "groupSize",
                       scaleRows: rows, format: format, y: &y, strides: (codesStride ?? columns, scalesStride, yStride ?? columns)) {
            ck_dequant_per_token($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        }
    }

    /// Decodes per-block quantized codes: `y = decode(q) * s[row / blockSize, column / blockSize]`.
    ///
    /// - Parameters:
    ///   - codes: `[rows, columns]`.
    ///   - scales: `[⌈rows / blockSize⌉, ⌈columns / blockSize⌉]`.
    ///   - rows: rows of `codes`.
    ///   - columns: columns of `codes`.
    ///   - blockSize: the side of a square block, as quantized.
    ///   - format: the FP8 format of the codes.
    ///   - y: `[rows, columns]`.
    ///   - codesStride: row stride of `codes` (default `columns`).
    ///   - scalesStride: row stride of `scales` (default `⌈columns / blockSize⌉`).
    ///   - yStride: row stride of `y` (default `columns`).
    public static func dequantizePerBlock<Scale: QuantizationScale, Output: KernelFloat>(
        codes: Span<UInt8>, scales: Span<Scale>, rows: Int, columns: Int, blockSize: Int = 128,
        format: FP8Format = .e4m3fn, into y: inout MutableSpan<Output>,
        codesStride: Int? = nil, scalesStride: Int? = nil, yStride: Int? = nil
    ) throws(MoEKitError) {
        try requirePositive(blockSize, "blockSize")
        try dequantize(codes: codes, scales: scales, rows: rows, columns: columns, group: blockSize, groupName: "blockSize",
                       scaleRows: divUp(max(rows, 0), blockSize), format: format, y: &y,
                       strides: (codesStride ?? columns, scalesStride, yStride ?? columns)) {
            ck_dequant_per_block($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        }
    }

    // MARK: - Shared plumbing of the row-scaled layouts

    private typealias QuantEntry = (UnsafeRawPointer?, ck_dtype, Int, Int, Int, Int, UnsafePointer<ck_quant_params>,
                                    UnsafeMutablePointer<UInt8>?, Int, UnsafeMutableRawPointer?, Int) -> ck_status
    private typealias DequantEntry = (UnsafePointer<UInt8>?, ck_fp8_format, Int, Int, Int, Int, UnsafeRawPointer?,
                                      ck_scale_format, Int, UnsafeMutableRawPointer?, ck_dtype, Int) -> ck_status

    private static func quantize<Input: KernelFloat, Scale: QuantizationScale>(
        _ x: Span<Input>, rows: Int, columns: Int, group: Int, groupName: String, scaleRows: Int,
        format: FP8Format, scaling: Scaling, codes: inout MutableSpan<UInt8>, scales: inout MutableSpan<Scale>,
        strides: (x: Int, codes: Int, scales: Int?), entry: QuantEntry
    ) throws(MoEKitError) {
        try requireNonNegative(["rows": rows, "columns": columns])
        try requirePositive(group, groupName)
        let groups = divUp(columns, group), lds = strides.scales ?? groups
        try requireMatrix("x", count: x.count, rows: rows, columns: columns, stride: strides.x)
        try requireMatrix("codes", count: codes.count, rows: rows, columns: columns, stride: strides.codes)
        try requireMatrix("scales", count: scales.count, rows: scaleRows, columns: groups, stride: lds)
        var params = ck_quant_params(format: format.c, scale_format: Scale.c, scaling: scaling.c)
        let status = x.withUnsafeBufferPointer { xp in
            codes.withUnsafeMutableBufferPointer { qp in
                scales.withUnsafeMutableBufferPointer { sp in
                    entry(UnsafeRawPointer(xp.baseAddress), Input.c, rows, columns, strides.x, group, &params,
                          qp.baseAddress, strides.codes, UnsafeMutableRawPointer(sp.baseAddress), lds)
                }
            }
        }
        try check(status)
    }

    private static func dequantize<Scale: QuantizationScale, Output: KernelFloat>(
        codes: Span<UInt8>, scales: Span<Scale>, rows: Int, columns: Int, group: Int, groupName: String, scaleRows: Int,
        format: FP8Format, y: inout MutableSpan<Output>, strides: (codes: Int, scales: Int?, y: Int), entry: DequantEntry
    ) throws(MoEKitError) {
        try requireNonNegative(["rows": rows, "columns": columns])
        try requirePositive(group, groupName)
        let groups = divUp(columns, group), lds = strides.scales ?? groups
        try requireMatrix("codes", count: codes.count, rows: rows, columns: columns, stride: strides.codes)
        try requireMatrix("scales", count: scales.count, rows: scaleRows, columns: groups, stride: lds)
        try requireMatrix("y", count: y.count, rows: rows, columns: columns, stride: strides.y)
        let status = codes.withUnsafeBufferPointer { qp in
            scales.withUnsafeBufferPointer { sp in
                y.withUnsafeMutableBufferPointer { yp in
                    entry(qp.baseAddress, format.c, rows, columns, strides.codes, group, UnsafeRawPointer(sp.baseAddress),
                          Scale.c, lds, UnsafeMutableRawPointer(yp.baseAddress), Output.c, strides.y)
                }
            }
        }
        try check(status)
    }
}

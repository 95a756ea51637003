// DeepSeek-V3's fine-grained quantization from its written rules (ck_formats.h, semantics F3-F5, edge
// table rows 4-7), element by element in Float arithmetic on top of FP8Reference / BFloat16Reference:
// amax per group (NaN if any NaN), floored at Float(1e-4), s = amax / max, UE8M0 = exact smallest power
// of two >= s, q = fp8(x / s) or fp8(x * (1 / s)) saturating, dequant y = decode(q) * s.
import MoEKit

/// Format, scale format and scaling of one quantization.
public struct QuantizationConfig: Sendable, Hashable, CustomStringConvertible {
    public var format: FP8Format
    public var scaleFormat: ScaleFormat
    public var scaling: Scaling
    public init(_ format: FP8Format, _ scaleFormat: ScaleFormat, _ scaling: Scaling) {
        (self.format, self.scaleFormat, self.scaling) = (format, scaleFormat, scaling)
    }
    public static let all: [QuantizationConfig] = FP8Format.allCases.flatMap { f in
        [ScaleFormat.float32, .ue8m0].flatMap { sf in Scaling.allCases.map { QuantizationConfig(f, sf, $0) } }
    }
    public var description: String { "\(format)/\(scaleFormat)/\(scaling)" }
}

public enum ScaleReference {
    /// The floor DeepSeek-V3 applies to a group's amax (kernel.py: `amax.clamp(min=1e-4)` in fp32).
    public static let amaxFloor = Float(1e-4)

    /// max |x| over the group, NaN if any element is NaN, 0 for an empty group.
    public static func amax(_ values: some Sequence<Float>) -> Float {
        var m: Float = 0
        for v in values {
            if v.isNaN { return .nan }
            m = max(m, v.magnitude)
        }
        return m
    }

    /// s = max(amax, 1e-4) / max_fmt in Float (NaN stays NaN, inf gives inf).
    public static func floatScale(amax: Float, format: FP8Format) -> Float {
        if amax.isNaN { return .nan }
        return max(amax, amaxFloor) / Float(FP8Reference.of(format).maxFinite)
    }

    /// Exponent byte of the smallest power of two >= floatScale; 0xFF for NaN and infinite amax.
    public static func ue8m0(amax: Float, format: FP8Format) -> UInt8 {
        guard amax.isFinite else { return 0xFF }
        let s = floatScale(amax: amax, format: format)
        var k = Int(s.exponent) // 2^k <= s < 2^(k+1)
        if Double(s) != pow2(k) { k += 1 }
        precondition(k >= -127 && k <= 127)
        return UInt8(k + 127)
    }

    /// The value of a UE8M0 byte: 2^(e − 127), NaN for 0xFF.
    public static func ue8m0Value(_ e: UInt8) -> Float {
        e == 0xFF ? .nan : Float(pow2(Int(e) - 127))
    }

    /// The scale the quantizer divides by: the Float scale, or the UE8M0 power of two (NaN for NaN groups,
    /// inf for infinite groups).
    public static func quantizingScale(amax: Float, config: QuantizationConfig) -> Float {
        let s = floatScale(amax: amax, format: config.format)
        if config.scaleFormat == .float32 || !amax.isFinite { return s }
        return ue8m0Value(ue8m0(amax: amax, format: config.format))
    }

    /// One element's code: fp8(x / s) or fp8(x * (1 / s)), Float arithmetic, saturating encode.
    public static func quantize(_ x: Float, scale s: Float, config: QuantizationConfig,
                                fp8: FP8Reference? = nil) -> UInt8 {
        let y = config.scaling == .divide ? x / s : x * (1 / s)
        return (fp8 ?? FP8Reference.of(config.format)).encode(y, overflow: .saturate)
    }

    /// One element's dequantized Float: decode(q) * s.
    public static func dequantize(_ q: UInt8, scale s: Float, format: FP8Format) -> Float {
        Float(FP8Reference.of(format).value(q)) * s
    }
}

/// Result of a reference quantization, packed (no strides): codes in the output layout and one scale per
/// group in the scale layout.
public struct ReferenceQuantized: Sendable {
    public var codes: [UInt8]
    public var floatScales: [Float]    // filled for .float32
    public var ue8m0Scales: [UInt8]    // filled for .ue8m0
    public var quantizingScales: [Float]
}

/// A quantization layout: how x's elements map to output positions and scale groups.
public enum QuantLayout: String, Sendable, CaseIterable, CustomStringConvertible {
    /// x [rows, columns] -> q [rows, columns], scales [rows, ⌈columns / g⌉].
    case perToken
    /// x [rows, columns] -> q [rows, columns], scales [⌈rows / g⌉, ⌈columns / g⌉].
    case perBlock
    /// x [tokens = rows, channels = columns] -> q [channels, tokens], scales [channels, ⌈tokens / g⌉].
    case perChannelTransposed
    public var description: String { rawValue }

    /// Shape of the codes matrix for an x of [rows, columns].
    public func codesShape(rows: Int, columns: Int) -> (rows: Int, columns: Int) {
        self == .perChannelTransposed ? (columns, rows) : (rows, columns)
    }
    /// Shape of the scales matrix.
    public func scalesShape(rows: Int, columns: Int, group g: Int) -> (rows: Int, columns: Int) {
        switch self {
        case .perToken: return (rows, divUp(columns, g))
        case .perBlock: return (divUp(rows, g), divUp(columns, g))
        case .perChannelTransposed: return (columns, divUp(rows, g))
        }
    }
    /// Position of x[r, c] in the codes matrix.
    public func codesPosition(_ r: Int, _ c: Int) -> (row: Int, column: Int) {
        self == .perChannelTransposed ? (c, r) : (r, c)
    }
    /// Position of x[r, c]'s scale in the scales matrix.
    public func scalePosition(_ r: Int, _ c: Int, group g: Int) -> (row: Int, column: Int) {
        switch self {
        case .perToken: return (r, c / g)
        case .perBlock: return (r / g, c / g)
        case .perChannelTransposed: return (c, r / g)
        }
    }
}

public func divUp(_ a: Int, _ b: Int) -> Int { a / b + (a % b != 0 ? 1 : 0) }

public enum QuantizationReference {
    /// Quantizes packed x [rows, columns] (row-major values) with `layout` and group/block size `group`.
    public static func quantize(_ x: [Float], rows: Int, columns: Int, group: Int, layout: QuantLayout,
                                config: QuantizationConfig) -> ReferenceQuantized {
        precondition(x.count == rows * columns)
        let cs = layout.codesShape(rows: rows, columns: columns)
        let ss = layout.scalesShape(rows: rows, columns: columns, group: group)
        let groups = ss.rows * ss.columns
        // Members of each group (a zero-padded edge group simply has fewer members).
        var amax = [Float](repeating: 0, count: groups)
        for r in 0..<rows {
            for c in 0..<columns {
                let p = layout.scalePosition(r, c, group: group), g = p.row * ss.columns + p.column
                let v = x[r * columns + c]
                if amax[g].isNaN { continue }
                amax[g] = v.isNaN ? .nan : max(amax[g], v.magnitude)
            }
        }
        var result = ReferenceQuantized(codes: [UInt8](repeating: 0, count: rows * columns), floatScales: [],
                                        ue8m0Scales: [], quantizingScales: [])
        result.quantizingScales = amax.map { ScaleReference.quantizingScale(amax: $0, config: config) }
        switch config.scaleFormat {
        case .float32: result.floatScales = amax.map { ScaleReference.floatScale(amax: $0, format: config.format) }
        case .ue8m0: result.ue8m0Scales = amax.map { ScaleReference.ue8m0(amax: $0, format: config.format) }
        }
        let fp8 = FP8Reference.of(config.format)
        for r in 0..<rows {
            for c in 0..<columns {
                let p = layout.scalePosition(r, c, group: group), g = p.row * ss.columns + p.column
                let q = layout.codesPosition(r, c)
                result.codes[q.row * cs.columns + q.column] =
                    ScaleReference.quantize(x[r * columns + c], scale: result.quantizingScales[g], config: config, fp8: fp8)
            }
        }
        return result
    }

    /// Dequantizes packed codes [rows, columns] with per-group scale values (packed scales matrix of
    /// `layout`, which must be .perToken or .perBlock): the Float results' bits, or for bf16 output the bf16
    /// bits (in the low half).
    public static func dequantize(codes: [UInt8], scaleValues: [Float], rows: Int, columns: Int, group: Int,
                                  layout: QuantLayout, format: FP8Format, output: KernelFloatType) -> [UInt32] {
        precondition(layout != .perChannelTransposed)
        let ss = layout.scalesShape(rows: rows, columns: columns, group: group)
        var y = [UInt32](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                let p = layout.scalePosition(r, c, group: group)
                let f = ScaleReference.dequantize(codes[r * columns + c], scale: scaleValues[p.row * ss.columns + p.column],
                                                  format: format)
                y[r * columns + c] = output == .float32 ? f.bitPattern : UInt32(BFloat16Reference.round(f))
            }
        }
        return y
    }
}

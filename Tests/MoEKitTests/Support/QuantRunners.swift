// Describes one quantizer / dequantizer call (layout, shape, strides, offsets, types, options), runs it
// through the public Swift API on TestBuffers, and compares every output element, every stride gap and
// every guard byte with the TestSupport reference.
import MoEKit
import TestSupport

struct QuantCase: CustomStringConvertible, Sendable {
    var layout: QuantLayout
    var rows: Int              // x rows (tokens for .perChannelTransposed)
    var columns: Int           // x columns (channels)
    var group: Int             // group or block size
    var input: KernelFloatType = .float32
    var config = QuantizationConfig(.e4m3fn, .float32, .divide)
    var xPad = 0, codesPad = 0, scalesPad = 0 // extra elements per row beyond the row length
    var offset = 0             // elements every buffer starts into its allocation

    var codesShape: (rows: Int, columns: Int) { layout.codesShape(rows: rows, columns: columns) }
    var scalesShape: (rows: Int, columns: Int) { layout.scalesShape(rows: rows, columns: columns, group: group) }
    var xStride: Int { columns + xPad }
    var codesStride: Int { codesShape.columns + codesPad }
    var scalesStride: Int { scalesShape.columns + scalesPad }
    var description: String {
        "\(layout) \(rows)x\(columns) g\(group) \(input) \(config) pads \(xPad)/\(codesPad)/\(scalesPad) offset \(offset)"
    }
}

/// Outputs of one quantizer call, with everything around them.
struct QuantOutput {
    var codes: TestBuffer<UInt8>
    var floatScales: TestBuffer<Float>?
    var ue8m0Scales: TestBuffer<UE8M0>?
    var bytes: [UInt8] { codes.allBytes + (floatScales?.allBytes ?? ue8m0Scales!.allBytes) }
}

enum QuantRun {
    /// Runs the quantizer of `c` on packed row-major x [rows, columns] (bf16-representable if c.input is bf16).
    static func quantize(_ c: QuantCase, _ x: [Float], fillByte: UInt8 = 0xA5) throws(MoEKitError) -> QuantOutput {
        switch (c.input, c.config.scaleFormat) {
        case (.float32, .float32):
            let (q, s) = try run(c, x, Float.self, fillByte)
            return QuantOutput(codes: q, floatScales: s)
        case (.float32, .ue8m0):
            let (q, s) = try run(c, x, UE8M0.self, fillByte)
            return QuantOutput(codes: q, ue8m0Scales: s)
        case (.bfloat16, .float32):
            let (q, s) = try run(c, x.asBFloat16, Float.self, fillByte)
            return QuantOutput(codes: q, floatScales: s)
        case (.bfloat16, .ue8m0):
            let (q, s) = try run(c, x.asBFloat16, UE8M0.self, fillByte)
            return QuantOutput(codes: q, ue8m0Scales: s)
        }
    }

    private static func run<Input: KernelFloat, Scale: QuantizationScale>(
        _ c: QuantCase, _ x: [Input], _: Scale.Type, _ fillByte: UInt8
    ) throws(MoEKitError) -> (TestBuffer<UInt8>, TestBuffer<Scale>) {
        let xb = stridedBuffer(x, rows: c.rows, columns: c.columns, stride: c.xStride, offset: c.offset)
        var codes = TestBuffer<UInt8>(rows: c.codesShape.rows, columns: c.codesShape.columns, stride: c.codesStride,
                                      offset: c.offset, fillByte: fillByte)
        var scales = TestBuffer<Scale>(rows: c.scalesShape.rows, columns: c.scalesShape.columns, stride: c.scalesStride,
                                       offset: c.offset, fillByte: fillByte)
        try xb.withSpan { (xs) throws(MoEKitError) in
            try codes.withMutableSpan { (qs) throws(MoEKitError) in
                try scales.withMutableSpan { (ss) throws(MoEKitError) in
                    let (f, sc) = (c.config.format, c.config.scaling)
                    switch c.layout {
                    case .perToken:
                        try Quantization.quantizePerToken(xs, rows: c.rows, columns: c.columns, groupSize: c.group, format: f,
                                                          scaling: sc, codes: &qs, scales: &ss, xStride: c.xStride,
                                                          codesStride: c.codesStride, scalesStride: c.scalesStride)
                    case .perBlock:
                        try Quantization.quantizePerBlock(xs, rows: c.rows, columns: c.columns, blockSize: c.group, format: f,
                                                          scaling: sc, codes: &qs, scales: &ss, xStride: c.xStride,
                                                          codesStride: c.codesStride, scalesStride: c.scalesStride)
                    case .perChannelTransposed:
                        try Quantization.quantizePerChannelTransposed(xs, tokens: c.rows, channels: c.columns, groupSize: c.group,
                                                                      format: f, scaling: sc, codes: &qs, scales: &ss,
                                                                      xStride: c.xStride, codesStride: c.codesStride,
                                                                      scalesStride: c.scalesStride)
                    }
                }
            }
        }
        return (codes, scales)
    }

    /// The reference of `c` on x.
    static func reference(_ c: QuantCase, _ x: [Float]) -> ReferenceQuantized {
        QuantizationReference.quantize(x, rows: c.rows, columns: c.columns, group: c.group, layout: c.layout, config: c.config)
    }

    /// Compares every code and scale with the reference. NaN codes must be the format's NaN code (their sign
    /// is that of a NaN produced by x / NaN and is not specified); NaN float scales must be NaN. Every other
    /// byte must be bit-exact, and stride gaps, offsets and guards must still hold `fillByte`.
    static func mismatches(_ c: QuantCase, _ out: QuantOutput, _ ref: ReferenceQuantized, fillByte: UInt8 = 0xA5) -> Mismatches {
        var m = Mismatches()
        let fp8 = FP8Reference.of(c.config.format)
        let (cr, cc) = c.codesShape
        for r in 0..<cr {
            for col in 0..<cc {
                let got = out.codes[r, col, stride: c.codesStride], want = ref.codes[r * cc + col]
                let ok = fp8.isNaN(want) ? got & 0x7F == fp8.nanCode : got == want
                if !ok {
                    m.add("code[\(r),\(col)] = 0x\(String(got, radix: 16)), expected 0x\(String(want, radix: 16))")
                }
            }
        }
        checkGaps(out.codes, rows: cr, columns: cc, stride: c.codesStride, fillByte: fillByte, "codes", &m)
        let (sr, sc) = c.scalesShape
        for r in 0..<sr {
            for col in 0..<sc {
                let i = r * sc + col
                if let s = out.floatScales {
                    let got = s[r, col, stride: c.scalesStride], want = ref.floatScales[i]
                    if !(want.isNaN ? got.isNaN : got.bitPattern == want.bitPattern) {
                        m.add("scale[\(r),\(col)] = \(got), expected \(want)")
                    }
                } else if let s = out.ue8m0Scales {
                    let got = s[r, col, stride: c.scalesStride].bitPattern, want = ref.ue8m0Scales[i]
                    if got != want { m.add("ue8m0 scale[\(r),\(col)] = \(got), expected \(want)") }
                }
            }
        }
        if let s = out.floatScales { checkGaps(s, rows: sr, columns: sc, stride: c.scalesStride, fillByte: fillByte, "scales", &m) }
        if let s = out.ue8m0Scales { checkGaps(s, rows: sr, columns: sc, stride: c.scalesStride, fillByte: fillByte, "scales", &m) }
        return m
    }
}

/// Every byte of `b` outside the [rows, columns] matrix with row stride `stride` must still be `fillByte`.
func checkGaps<T>(_ b: TestBuffer<T>, rows: Int, columns: Int, stride: Int, fillByte: UInt8, _ name: String,
                  _ m: inout Mismatches) {
    if !b.guardsIntact { m.add("\(name): bytes before or after the matrix were written") }
    let size = MemoryLayout<T>.stride
    b.storage.withUnsafeBytes { raw in
        for r in 0..<max(rows - 1, 0) {
            let start = (b.offset + r * stride + columns) * size, end = (b.offset + (r + 1) * stride) * size
            if raw[start..<end].contains(where: { $0 != fillByte }) { m.add("\(name): stride gap after row \(r) was written") }
        }
    }
}

// MARK: - Dequantization

struct DequantCase: CustomStringConvertible, Sendable {
    var layout: QuantLayout    // .perToken or .perBlock
    var rows: Int, columns: Int, group: Int
    var format: FP8Format = .e4m3fn
    var scaleFormat: ScaleFormat = .float32
    var output: KernelFloatType = .float32
    var codesPad = 0, scalesPad = 0, yPad = 0, offset = 0

    var scalesShape: (rows: Int, columns: Int) { layout.scalesShape(rows: rows, columns: columns, group: group) }
    var codesStride: Int { columns + codesPad }
    var scalesStride: Int { scalesShape.columns + scalesPad }
    var yStride: Int { columns + yPad }
    var description: String {
        "dequant \(layout) \(rows)x\(columns) g\(group) \(format) \(scaleFormat)->\(output) pads \(codesPad)/\(scalesPad)/\(yPad) offset \(offset)"
    }
}

/// Scales of a quantized tensor, packed.
enum PackedScales {
    case float32([Float]), ue8m0([UInt8])
    var values: [Float] {
        switch self {
        case .float32(let s): return s
        case .ue8m0(let e): return e.map(ScaleReference.ue8m0Value)
        }
    }
}

/// A dequantizer's output: Float or bf16 y.
struct DequantOutput {
    var float: TestBuffer<Float>?
    var bfloat16: TestBuffer<BFloat16>?
    var bytes: [UInt8] { float?.allBytes ?? bfloat16!.allBytes }
    /// Bit pattern of y[r, c] (bf16 in the low half).
    func bits(_ r: Int, _ c: Int, stride: Int) -> UInt32 {
        if let f = float { return f[r, c, stride: stride].bitPattern }
        return UInt32(bfloat16![r, c, stride: stride].bitPattern)
    }
}

enum DequantRun {
    static func dequantize(_ c: DequantCase, codes: [UInt8], scales: PackedScales, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> DequantOutput {
        let qb = stridedBuffer(codes, rows: c.rows, columns: c.columns, stride: c.codesStride, offset: c.offset)
        let (sr, sc) = c.scalesShape
        switch (scales, c.output) {
        case (.float32(let s), .float32):
            return DequantOutput(float: try run(c, qb, stridedBuffer(s, rows: sr, columns: sc, stride: c.scalesStride, offset: c.offset), Float.self, fillByte))
        case (.float32(let s), .bfloat16):
            return DequantOutput(bfloat16: try run(c, qb, stridedBuffer(s, rows: sr, columns: sc, stride: c.scalesStride, offset: c.offset), BFloat16.self, fillByte))
        case (.ue8m0(let e), .float32):
            let s = e.map { UE8M0(bitPattern: $0) }
            return DequantOutput(float: try run(c, qb, stridedBuffer(s, rows: sr, columns: sc, stride: c.scalesStride, offset: c.offset), Float.self, fillByte))
        case (.ue8m0(let e), .bfloat16):
            let s = e.map { UE8M0(bitPattern: $0) }
            return DequantOutput(bfloat16: try run(c, qb, stridedBuffer(s, rows: sr, columns: sc, stride: c.scalesStride, offset: c.offset), BFloat16.self, fillByte))
        }
    }

    private static func run<Scale: QuantizationScale, Output: KernelFloat>(
        _ c: DequantCase, _ qb: TestBuffer<UInt8>, _ sb: TestBuffer<Scale>, _: Output.Type, _ fillByte: UInt8
    ) throws(MoEKitError) -> TestBuffer<Output> {
        var y = TestBuffer<Output>(rows: c.rows, columns: c.columns, stride: c.yStride, offset: c.offset, fillByte: fillByte)
        try qb.withSpan { (qs) throws(MoEKitError) in
            try sb.withSpan { (ss) throws(MoEKitError) in
                try y.withMutableSpan { (ys) throws(MoEKitError) in
                    if c.layout == .perBlock {
                        try Quantization.dequantizePerBlock(codes: qs, scales: ss, rows: c.rows, columns: c.columns, blockSize: c.group,
                                                            format: c.format, into: &ys, codesStride: c.codesStride,
                                                            scalesStride: c.scalesStride, yStride: c.yStride)
                    } else {
                        try Quantization.dequantizePerToken(codes: qs, scales: ss, rows: c.rows, columns: c.columns, groupSize: c.group,
                                                            format: c.format, into: &ys, codesStride: c.codesStride,
                                                            scalesStride: c.scalesStride, yStride: c.yStride)
                    }
                }
            }
        }
        return y
    }

    /// Compares y with the reference: bit-exact, except that a NaN must be a NaN (f32) or the quiet bf16
    /// NaN ±0x7FC0 (bf16), since the sign of NaN · s is not specified. Gaps and guards must be untouched.
    static func mismatches(_ c: DequantCase, _ out: DequantOutput, codes: [UInt8], scales: PackedScales,
                           fillByte: UInt8 = 0xA5) -> Mismatches {
        let want = QuantizationReference.dequantize(codes: codes, scaleValues: scales.values, rows: c.rows, columns: c.columns,
                                                    group: c.group, layout: c.layout, format: c.format, output: c.output)
        var m = Mismatches()
        for r in 0..<c.rows {
            for col in 0..<c.columns {
                let got = out.bits(r, col, stride: c.yStride), w = want[r * c.columns + col]
                let ok: Bool
                if c.output == .float32 {
                    ok = Float(bitPattern: w).isNaN ? Float(bitPattern: got).isNaN : got == w
                } else {
                    ok = w & 0x7FFF == 0x7FC0 ? got & 0x7FFF == 0x7FC0 : got == w
                }
                if !ok { m.add("y[\(r),\(col)] = 0x\(String(got, radix: 16)), expected 0x\(String(w, radix: 16))") }
            }
        }
        if let f = out.float { checkGaps(f, rows: c.rows, columns: c.columns, stride: c.yStride, fillByte: fillByte, "y", &m) }
        if let b = out.bfloat16 { checkGaps(b, rows: c.rows, columns: c.columns, stride: c.yStride, fillByte: fillByte, "y", &m) }
        return m
    }
}

// Proves every output element is written and nothing else is: each kernel runs on outputs pre-filled with
// 0x00 and with 0xFF bytes (0xFF… is a NaN for Float outputs), at lengths and shapes with vector tails,
// strides and unaligned starts, and the casts and dequantizers also with streaming stores. Both runs must give identical outputs equal to the reference, and the
// offset padding, stride gaps and guards after each output must still hold the fill byte. Inputs hold no
// NaN, so a NaN left in a Float output can only be an unwritten element.
import MoEKit
import TestSupport
import Testing

@Suite("Every output byte written, no other byte")
struct OutputCoverageTests {
    static let fills: [UInt8] = [0x00, 0xFF]

    @Test("casts", arguments: [1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 1000, 65536 + 17])
    func casts(n: Int) throws {
        try checkCasts(n: n, offset: n % 3, streamThreshold: nil)
    }

    /// With streaming stores for every output (threshold 0), at each start within a 64-byte line, so that both
    /// the vectors that start on a multiple of their size (streamed) and the others (stored) are covered.
    @Test("casts and dequantizers with streaming stores", arguments: 0..<16)
    func streaming(offset: Int) throws {
        try checkCasts(n: 200 + offset, offset: offset, streamThreshold: 0)
        for layout in [QuantLayout.perToken, .perBlock] {
            for output in [KernelFloatType.float32, .bfloat16] {
                // Rows 61 + 2 elements apart start at every alignment.
                let c = DequantCase(layout: layout, rows: 17, columns: 61, group: 16, format: .e4m3fn, scaleFormat: .float32,
                                    output: output, yPad: 2, offset: offset)
                try checkDequant(c, seed: UInt64(offset), streamThreshold: 0)
            }
        }
    }

    func checkCasts(n: Int, offset: Int, streamThreshold: Int?) throws {
        var rng = SplitMix64(seed: UInt64(n))
        let x = RandomData.varied(n, exponents: -20...20, using: &rng)
        let xb = RandomData.bf16Representable(x).asBFloat16
        try checkEveryISA("casts n \(n) offset \(offset)", streamThreshold: streamThreshold) { _ in
            var m = Mismatches(), bytes: [UInt8] = []
            for fill in Self.fills {
                let b = try CastRun.toBFloat16(x, offset: offset, fillByte: fill)
                for i in 0..<n where b[i].bitPattern != BFloat16Reference.round(x[i]) { m.add("bf16[\(i)] fill \(fill)") }
                let f = try CastRun.toFloat(xb, offset: offset, fillByte: fill)
                for i in 0..<n where f[i].bitPattern != BFloat16Reference.widenedBits(xb[i].bitPattern) { m.add("f32[\(i)] fill \(fill)") }
                var outputs = [b.allBytes, f.allBytes]
                for format in FP8Format.allCases {
                    let ref = FP8Reference.of(format)
                    let q = try CastRun.encode(x, format: format, overflow: .saturate, offset: offset, fillByte: fill)
                    for i in 0..<n where q[i] != ref.encode(x[i], overflow: .saturate) { m.add("\(format) code[\(i)] fill \(fill)") }
                    let qb = try CastRun.encode(xb, format: format, overflow: .nan, offset: offset, fillByte: fill)
                    for i in 0..<n where qb[i] != ref.encode(Double(xb[i].floatValue), overflow: .nan) { m.add("\(format) bf16 code[\(i)] fill \(fill)") }
                    let d = try CastRun.decode(q.elements, format: format, as: Float.self, offset: offset, fillByte: fill)
                    for i in 0..<n where d[i].bitPattern != ref.decodeFloatBits(q[i]) { m.add("\(format) decode[\(i)] fill \(fill)") }
                    let db = try CastRun.decode(q.elements, format: format, as: BFloat16.self, offset: offset, fillByte: fill)
                    for i in 0..<n where db[i].bitPattern != BFloat16Reference.round(ref.value(q[i])) { m.add("\(format) decode bf16[\(i)] fill \(fill)") }
                    outputs += [q.allBytes, qb.allBytes, d.allBytes, db.allBytes]
                }
                for (k, o) in outputs.enumerated() {
                    let size: Int = o.count / (offset + n + TestBuffer<UInt8>.guardCount) // element size of this output
                    let head: ArraySlice<UInt8> = o[0..<offset * size], tail: ArraySlice<UInt8> = o[(offset + n) * size..<o.count]
                    if head.contains(where: { $0 != fill }) || tail.contains(where: { $0 != fill }) {
                        m.add("output \(k) wrote outside its \(n) elements (fill \(fill))")
                    }
                    bytes += o[offset * size..<(offset + n) * size]
                }
            }
            // Identical outputs for both fills: the second half of `bytes` repeats the first.
            let half: Int = bytes.count / 2
            let first: [UInt8] = Array(bytes[0..<half]), second: [UInt8] = Array(bytes[half..<bytes.count])
            if first != second { m.add("outputs depend on the prefill") }
            return (bytes, m)
        }
    }

    static let quantCases: [QuantCase] = [
        QuantCase(layout: .perToken, rows: 3, columns: 129, group: 32, xPad: 3, codesPad: 5, scalesPad: 2, offset: 1),
        QuantCase(layout: .perToken, rows: 2, columns: 1000, group: 7, codesPad: 1, scalesPad: 1),
        QuantCase(layout: .perBlock, rows: 130, columns: 37, group: 32, xPad: 1, codesPad: 2, scalesPad: 3, offset: 1),
        QuantCase(layout: .perChannelTransposed, rows: 37, columns: 19, group: 16, xPad: 2, codesPad: 3, scalesPad: 1, offset: 1),
        QuantCase(layout: .perChannelTransposed, rows: 300, columns: 33, group: 128, codesPad: 9, scalesPad: 2),
    ]

    @Test("quantizers", arguments: quantCases)
    func quantizers(base: QuantCase) throws {
        for config in QuantizationConfig.all {
            for input in [KernelFloatType.float32, .bfloat16] {
                var c = base
                c.config = config
                c.input = input
                let x = QuantData.random(rows: c.rows, columns: c.columns, input: input, seed: UInt64(c.rows + c.columns))
                let ref = QuantRun.reference(c, x)
                try checkEveryISA(c.description) { _ in
                    let outs = try Self.fills.map { fill throws(MoEKitError) in try QuantRun.quantize(c, x, fillByte: fill) }
                    var m = Mismatches()
                    for (out, fill) in zip(outs, Self.fills) {
                        let got = QuantRun.mismatches(c, out, ref, fillByte: fill)
                        if !got.isEmpty { m.add("fill \(fill): \(got.summary)") }
                    }
                    let written = outs.map { Self.matrixBytes(c, $0) }
                    if written[0] != written[1] { m.add("codes/scales depend on the prefill") }
                    return (written[0], m)
                }
            }
        }
    }

    /// The codes and scales elements only (no gaps).
    static func matrixBytes(_ c: QuantCase, _ out: QuantOutput) -> [UInt8] {
        var b: [UInt8] = []
        for r in 0..<c.codesShape.rows { for col in 0..<c.codesShape.columns { b.append(out.codes[r, col, stride: c.codesStride]) } }
        for r in 0..<c.scalesShape.rows {
            for col in 0..<c.scalesShape.columns {
                if let s = out.floatScales { b += bytes(of: s[r, col, stride: c.scalesStride]) }
                if let s = out.ue8m0Scales { b.append(s[r, col, stride: c.scalesStride].bitPattern) }
            }
        }
        return b
    }

    @Test("dequantizers", arguments: [QuantLayout.perToken, .perBlock], [KernelFloatType.float32, .bfloat16])
    func dequantizers(layout: QuantLayout, output: KernelFloatType) throws {
        for scaleFormat in [ScaleFormat.float32, .ue8m0] {
            try checkDequant(DequantCase(layout: layout, rows: 67, columns: 45, group: 16, format: .e4m3fn, scaleFormat: scaleFormat,
                                         output: output, codesPad: 2, scalesPad: 1, yPad: 3, offset: 1),
                             seed: 45, streamThreshold: nil)
        }
    }

    func checkDequant(_ c: DequantCase, seed: UInt64, streamThreshold: Int?) throws {
        var rng = SplitMix64(seed: seed)
        // No NaN codes (0x7F/0xFF) and no NaN / 0xFF scales: every NaN in y would be a prefill byte.
        let codes = (0..<c.rows * c.columns).map { _ in UInt8.random(in: 0...0x7E, using: &rng) | (rng.next() & 1 == 0 ? 0 : 0x80) }
        let n = c.scalesShape.rows * c.scalesShape.columns
        let scales: PackedScales = c.scaleFormat == .float32
            ? .float32((0..<n).map { _ in Float.random(in: 0.001...10, using: &rng) })
            : .ue8m0((0..<n).map { _ in UInt8.random(in: 100...150, using: &rng) })
        try checkEveryISA(c.description, streamThreshold: streamThreshold) { _ in
            var m = Mismatches()
            var written: [[UInt8]] = []
            for fill in Self.fills {
                let y = try DequantRun.dequantize(c, codes: codes, scales: scales, fillByte: fill)
                let got = DequantRun.mismatches(c, y, codes: codes, scales: scales, fillByte: fill)
                if !got.isEmpty { m.add("fill \(fill): \(got.summary)") }
                written.append((0..<c.rows).flatMap { r in (0..<c.columns).flatMap { col in bytes(of: y.bits(r, col, stride: c.yStride)) } })
            }
            if written[0] != written[1] { m.add("y depends on the prefill") }
            return (written[0], m)
        }
    }
}

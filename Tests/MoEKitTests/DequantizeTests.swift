// Proves: per-token and per-block dequantization compute y = decode(q) * s in Float (rounded once more to
// bf16 for BFloat16 output) bit-exactly against the reference and identically on every ISA, for all 256
// codes (NaN and inf codes included), Float scales of every class (±0, subnormal, huge, ±inf, NaN with
// payloads) and every UE8M0 byte (0 = 2^-127 ... 254, 0xFF = NaN), partial groups and blocks, strides and
// unaligned buffers.
import MoEKit
import TestSupport
import Testing

@Suite("Dequantize")
struct DequantizeTests {
    /// Random codes over all 256 values; scales mostly ordinary with every special class mixed in.
    static func data(_ c: DequantCase, seed: UInt64) -> (codes: [UInt8], scales: PackedScales) {
        var rng = SplitMix64(seed: seed)
        let codes = (0..<c.rows * c.columns).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let count = c.scalesShape.rows * c.scalesShape.columns
        switch c.scaleFormat {
        case .float32:
            let specials: [Float] = [0, -0.0, .infinity, -.infinity, .nan, Float(bitPattern: 0xFFC1_2345), Float(bitPattern: 0x7FA0_0001), 0x1p-149, 0x1p-130,
                                     .greatestFiniteMagnitude, 1e30, -2.5, 1]
            let s: [Float] = (0..<count).map { i in
                if i % 3 == 2 { return specials[(i / 3) % specials.count] }
                return Float(sign: .plus, exponent: Int.random(in: -30...20, using: &rng), significand: Float.random(in: 1..<2, using: &rng))
            }
            return (codes, .float32(s))
        case .ue8m0:
            let specials: [UInt8] = [0, 1, 127, 254, 255, 104]
            let e: [UInt8] = (0..<count).map { i in i % 3 == 2 ? specials[(i / 3) % specials.count] : UInt8.random(in: 0...255, using: &rng) }
            return (codes, .ue8m0(e))
        }
    }

    static let shapes: [(layout: QuantLayout, rows: Int, columns: Int, group: Int)] = [
        (.perToken, 3, 1, 128), (.perToken, 3, 127, 32), (.perToken, 2, 1000, 128), (.perToken, 4, 255, 7),
        (.perToken, 5, 129, 1), (.perToken, 2, 1000, 200), (.perToken, 1, 3, 2), (.perToken, 6, 500, 16), (.perBlock, 64, 80, 16),
        (.perBlock, 300, 260, 128), (.perBlock, 129, 33, 32), (.perBlock, 7, 7, 7), (.perBlock, 5, 9, 1), (.perBlock, 201, 3, 200),
    ]

    @Test("codes x scales x output types", arguments: shapes)
    func sweep(shape: (layout: QuantLayout, rows: Int, columns: Int, group: Int)) throws {
        var variant = 0
        for format in FP8Format.allCases {
            for scaleFormat in [ScaleFormat.float32, .ue8m0] {
                for output in [KernelFloatType.float32, .bfloat16] {
                    let pads = [(0, 0, 0, 0), (3, 1, 5, 1), (0, 2, 1, 1)][variant % 3]
                    variant += 1
                    let c = DequantCase(layout: shape.layout, rows: shape.rows, columns: shape.columns, group: shape.group,
                                        format: format, scaleFormat: scaleFormat, output: output,
                                        codesPad: pads.0, scalesPad: pads.1, yPad: pads.2, offset: pads.3)
                    let (codes, scales) = Self.data(c, seed: UInt64(shape.rows * 1_000_003 + shape.columns * 101 + variant))
                    try checkEveryISA(c.description) { _ in
                        let y = try DequantRun.dequantize(c, codes: codes, scales: scales)
                        return (y.bytes, DequantRun.mismatches(c, y, codes: codes, scales: scales))
                    }
                }
            }
        }
    }

    /// Literal facts: exact products, the bf16 second rounding, signed zeros, 0 * inf = NaN.
    @Test("landmarks")
    func landmarks() throws {
        let c = DequantCase(layout: .perToken, rows: 1, columns: 6, group: 6, format: .e4m3fn)
        let codes: [UInt8] = [0x7E, 0xFE, 0x01, 0x80, 0x39, 0x7F] // 448, -448, 2^-9, -0, 1.125 * 2^0, NaN
        let y = try DequantRun.dequantize(c, codes: codes, scales: .float32([0.5]))
        #expect(Array(y.float!.elements.prefix(5)) == [224, -224, 0x1p-10, -0.0, 0.5625])
        #expect(y.float![3].sign == .minus && y.float![5].isNaN)
        // bf16 output rounds decode(q) * s once more: 1.125 * (1 + 2^-10) is not a bf16 value.
        var b = c
        b.output = .bfloat16
        let z = try DequantRun.dequantize(b, codes: codes, scales: .float32([1 + 0x1p-10]))
        #expect(z.bfloat16![4].bitPattern == BFloat16(1.125 * (1 + 0x1p-10)).bitPattern)
        #expect(z.bfloat16![4].floatValue == 1.125)
        let inf = try DequantRun.dequantize(c, codes: codes, scales: .float32([.infinity]))
        #expect(inf.float!.elements.map(\.isNaN) == [false, false, false, true, false, true])
        let e8 = try DequantRun.dequantize(c, codes: codes, scales: .ue8m0([0]))
        #expect(e8.float![0] == 448 * 0x1p-127 && e8.float![2] == 0x1p-136) // 2^-9 * 2^-127: a Float subnormal
    }
}

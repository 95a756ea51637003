// Proves the quantizers' edge-table rules (semantics section 7, rows 4-7 and 9) on every layout, config and
// ISA, both against the reference and as literal facts: all-zero groups get s = Float(1e-4)/max exactly
// (UE8M0: 2^-22 / 2^-29) and codes ±0 with -0 kept as 0x80, dequantizing to exact signed zeros; a NaN (one or
// all) poisons its group's scale (NaN / 0xFF) and every code, and nothing else; a ±inf group gets s = inf
// (UE8M0 0xFF), ±0 codes for its finite elements and NaN for its infinities, and dequantizes to NaN; groups
// with amax < 1e-4 or only Float subnormals keep the floor; subnormal FP8 codes come out as documented;
// groups whose elements all scale to normal FP8 values agree too.
import MoEKit
import TestSupport
import Testing

/// The kinds of group the edge data is made of, one per group in rotation.
enum GroupKind: Int, CaseIterable {
    case normal, allZero, allNaN, oneNaN, positiveInf, mixedInf, tiny, floatSubnormals, subnormalCodes, narrowNormal

    /// Element `i` of a group of this kind.
    func value(_ i: Int, _ rng: inout SplitMix64) -> Float {
        let sign: Float = rng.next() & 1 == 0 ? 1 : -1
        let varied = sign * Float(sign: .plus, exponent: Int.random(in: -10...10, using: &rng), significand: Float.random(in: 1..<2, using: &rng))
        switch self {
        case .normal: return varied
        case .allZero: return sign < 0 ? -0.0 : 0
        case .allNaN: // quiet and signalling NaNs with payloads
            return Float(bitPattern: (sign < 0 ? 0xFF80_0000 : 0x7F80_0000) | (i % 2 == 0 ? 0x40_0000 | UInt32(i % 5) : UInt32(i % 5 + 1)))
        case .oneNaN: return i == 1 ? -.nan : varied
        case .positiveInf: return i == 2 ? .infinity : varied
        case .mixedInf: return i == 0 ? -.infinity : i == 3 ? .infinity : (i == 1 ? -0.0 : varied)
        case .tiny: return sign * Float.random(in: 1e-7..<9e-5, using: &rng)
        case .floatSubnormals: return sign * Float(bitPattern: UInt32.random(in: 1...0x7F_FFFF, using: &rng))
        case .narrowNormal: // within a factor 64 of each other: every x / s is a normal fp8 value (no subnormal step)
            return sign * Float(sign: .plus, exponent: Int.random(in: 4...9, using: &rng), significand: Float.random(in: 1..<2, using: &rng))
        case .subnormalCodes:
            // amax 448·2^4 (s = 16 with Float scales, e4m3fn) and values on and between fp8 subnormal steps
            let steps: [Float] = [7168, 0x1p-5, 0x3p-6, 0x1p-6, 0x1p-3, 0x7p-5, 0x1p-2, 0x5p-7, 0xFp-6]
            return sign * steps[i % steps.count]
        }
    }
}

@Suite("Quantization edge cases")
struct QuantizationEdgeCaseTests {
    /// Packed x for `c` where the group with flat scale index g is of kind g % kinds (a group's elements are
    /// numbered in row-major order of x).
    static func edgeData(_ c: QuantCase, seed: UInt64) -> (x: [Float], kinds: [GroupKind]) {
        var rng = SplitMix64(seed: seed)
        let ss = c.scalesShape
        let kinds = (0..<ss.rows * ss.columns).map { GroupKind.allCases[$0 % GroupKind.allCases.count] }
        var seen = [Int](repeating: 0, count: kinds.count)
        var x = [Float](repeating: 0, count: c.rows * c.columns)
        for r in 0..<c.rows {
            for col in 0..<c.columns {
                let p = c.layout.scalePosition(r, col, group: c.group), g = p.row * ss.columns + p.column
                x[r * c.columns + col] = kinds[g].value(seen[g], &rng)
                seen[g] += 1
            }
        }
        if c.input == .bfloat16 { x = RandomData.bf16Representable(x) }
        return (x, kinds)
    }

    static let cases: [QuantCase] = [
        QuantCase(layout: .perToken, rows: 4, columns: 200, group: 7),
        QuantCase(layout: .perToken, rows: 5, columns: 700, group: 32),
        QuantCase(layout: .perBlock, rows: 20, columns: 23, group: 4),
        QuantCase(layout: .perBlock, rows: 70, columns: 300, group: 32),
        QuantCase(layout: .perChannelTransposed, rows: 23, columns: 20, group: 4),
        QuantCase(layout: .perChannelTransposed, rows: 300, columns: 41, group: 32),
    ]

    @Test("edge groups against the reference and as literal rules", arguments: cases)
    func edgeGroups(base: QuantCase) throws {
        for input in [KernelFloatType.float32, .bfloat16] {
            for config in QuantizationConfig.all {
                var c = base
                c.input = input
                c.config = config
                c.offset = 1
                let (x, kinds) = Self.edgeData(c, seed: UInt64(c.rows * 1000 + c.columns))
                let ref = QuantRun.reference(c, x)
                var outputs: [QuantOutput] = []
                try checkEveryISA(c.description) { _ in
                    let out = try QuantRun.quantize(c, x)
                    outputs.append(out)
                    return (out.bytes, QuantRun.mismatches(c, out, ref))
                }
                for out in outputs { expectNone(Self.literalRules(c, x, kinds, out), "\(c) literal rules") }
                try Self.checkDequantized(c, x, kinds, outputs[0])
            }
        }
    }

    /// The edge table, stated directly (independently of QuantizationReference).
    static func literalRules(_ c: QuantCase, _ x: [Float], _ kinds: [GroupKind], _ out: QuantOutput) -> Mismatches {
        var m = Mismatches()
        let fp8 = FP8Reference.of(c.config.format)
        let ss = c.scalesShape
        let floorScale = Float(1e-4) / Float(fp8.maxFinite)
        let floorExponent: UInt8 = c.config.format == .e4m3fn ? 127 - 22 : 127 - 29
        func scale(_ g: Int) -> (float: Float?, e8: UInt8?) {
            let (r, col) = (g / ss.columns, g % ss.columns)
            return (out.floatScales?[r, col, stride: c.scalesStride], out.ue8m0Scales?[r, col, stride: c.scalesStride].bitPattern)
        }
        for g in kinds.indices {
            let s = scale(g)
            switch kinds[g] {
            case .allZero, .tiny, .floatSubnormals:
                if let f = s.float, f.bitPattern != floorScale.bitPattern { m.add("group \(g) \(kinds[g]): scale \(f), expected the floor") }
                if let e = s.e8, e != floorExponent { m.add("group \(g) \(kinds[g]): ue8m0 \(e), expected \(floorExponent)") }
            case .allNaN, .oneNaN:
                if let f = s.float, !f.isNaN { m.add("group \(g) NaN: scale \(f)") }
                if let e = s.e8, e != 0xFF { m.add("group \(g) NaN: ue8m0 \(e)") }
            case .positiveInf, .mixedInf:
                if let f = s.float, f != .infinity { m.add("group \(g) inf: scale \(f)") }
                if let e = s.e8, e != 0xFF { m.add("group \(g) inf: ue8m0 \(e)") }
            case .normal, .subnormalCodes, .narrowNormal:
                break
            }
        }
        for r in 0..<c.rows {
            for col in 0..<c.columns {
                let v = x[r * c.columns + col]
                let p = c.layout.scalePosition(r, col, group: c.group), g = p.row * ss.columns + p.column
                let q = c.layout.codesPosition(r, col)
                let code = out.codes[q.row, q.column, stride: c.codesStride]
                let signBit: UInt8 = v.sign == .minus ? 0x80 : 0
                switch kinds[g] {
                case .allZero, .floatSubnormals:
                    if code != signBit { m.add("[\(r),\(col)] \(kinds[g]) \(v): code 0x\(String(code, radix: 16))") }
                case .allNaN, .oneNaN:
                    if code & 0x7F != fp8.nanCode { m.add("[\(r),\(col)] in a NaN group: code 0x\(String(code, radix: 16))") }
                case .positiveInf, .mixedInf:
                    let want = v.isInfinite ? fp8.nanCode : 0
                    if code & 0x7F != want || (!v.isInfinite && code != signBit) {
                        m.add("[\(r),\(col)] \(v) in an inf group: code 0x\(String(code, radix: 16))")
                    }
                case .subnormalCodes where c.config == QuantizationConfig(.e4m3fn, .float32, .divide) && c.input == .float32:
                    // s = 7168 / 448 = 16; x / 16 in subnormal steps of 2^-9: 1, 1.5 (tie -> 2), 0.5 (tie -> 0), 4, 7,
                    // 8 (the smallest normal), 1.25 -> 1, 7.5 (tie -> even 8) (edge row 9).
                    let table: [Float: UInt8] = [7168: 0x7E, 0x1p-5: 0x01, 0x3p-6: 0x02, 0x1p-6: 0x00, 0x1p-3: 0x04, 0x7p-5: 0x07,
                                                 0x1p-2: 0x08, 0x5p-7: 0x01, 0xFp-6: 0x08]
                    if let want = table[v.magnitude], code != signBit | want {
                        m.add("[\(r),\(col)] \(v): code 0x\(String(code, radix: 16)), expected 0x\(String(signBit | want, radix: 16))")
                    }
                default:
                    break
                }
            }
        }
        return m
    }

    /// Dequantizing the edge outputs (per-token / per-block layouts): zero groups give exact signed zeros,
    /// NaN and inf groups give NaN everywhere, and everything equals the reference.
    static func checkDequantized(_ c: QuantCase, _ x: [Float], _ kinds: [GroupKind], _ out: QuantOutput) throws {
        guard c.layout != .perChannelTransposed else { return }
        let scales: PackedScales = c.config.scaleFormat == .float32
            ? .float32(packed(out.floatScales!, c.scalesShape, c.scalesStride))
            : .ue8m0(packed(out.ue8m0Scales!, c.scalesShape, c.scalesStride).map(\.bitPattern))
        let codes = packed(out.codes, c.codesShape, c.codesStride)
        for output in [KernelFloatType.float32, .bfloat16] {
            let d = DequantCase(layout: c.layout, rows: c.rows, columns: c.columns, group: c.group, format: c.config.format,
                                scaleFormat: c.config.scaleFormat, output: output, offset: 1)
            try checkEveryISA("\(d) of edge data") { _ in
                let y = try DequantRun.dequantize(d, codes: codes, scales: scales)
                var m = DequantRun.mismatches(d, y, codes: codes, scales: scales)
                let ss = c.scalesShape
                for r in 0..<c.rows {
                    for col in 0..<c.columns {
                        let p = c.layout.scalePosition(r, col, group: c.group), kind = kinds[p.row * ss.columns + p.column]
                        let bits = y.bits(r, col, stride: d.yStride), v = x[r * c.columns + col]
                        let isNaN = output == .float32 ? Float(bitPattern: bits).isNaN : bits & 0x7FFF > 0x7F80
                        switch kind {
                        case .allZero:
                            let zero: UInt32 = v.sign == .minus ? (output == .float32 ? 0x8000_0000 : 0x8000) : 0
                            if bits != zero { m.add("zero group [\(r),\(col)]: 0x\(String(bits, radix: 16))") }
                        case .allNaN, .oneNaN, .positiveInf, .mixedInf:
                            if !isNaN { m.add("\(kind) group [\(r),\(col)] dequantized to 0x\(String(bits, radix: 16))") }
                        default:
                            if isNaN { m.add("\(kind) group [\(r),\(col)] dequantized to NaN") }
                        }
                    }
                }
                return (y.bytes, m)
            }
        }
    }

    /// The packed [rows, columns] contents of a strided buffer.
    static func packed<T>(_ b: TestBuffer<T>, _ shape: (rows: Int, columns: Int), _ stride: Int) -> [T] {
        (0..<shape.rows).flatMap { r in (0..<shape.columns).map { b[r, $0, stride: stride] } }
    }
}

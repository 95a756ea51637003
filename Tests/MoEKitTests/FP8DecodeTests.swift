// Proves: all 256 codes of E4M3FN and E5M2 decode exactly to Float and to BFloat16 on every ISA (values
// from the format definition; NaN codes give the canonical quiet NaN sign|0x7FC00000 / sign|0x7FC0), and
// the reference table itself agrees with ml_dtypes' decode tables.
import MoEKit
import TestSupport
import Testing

@Suite("FP8 decode: all 256 codes")
struct FP8DecodeTests {
    static let allCodes: [UInt8] = (0...255).map { UInt8($0) }

    @Test("decode to Float", arguments: FP8Format.allCases, [0, 1])
    func decodeToFloat(format: FP8Format, offset: Int) throws {
        let ref = FP8Reference.of(format)
        try checkEveryISA("decode \(format) -> Float, offset \(offset)") { _ in
            let y = try CastRun.decode(Self.allCodes, format: format, as: Float.self, offset: offset)
            var m = Mismatches()
            for code in Self.allCodes where y[Int(code)].bitPattern != ref.decodeFloatBits(code) {
                m.add("code 0x\(String(code, radix: 16)): got 0x\(String(y[Int(code)].bitPattern, radix: 16)), expected 0x\(String(ref.decodeFloatBits(code), radix: 16))")
            }
            if !y.guardsIntact { m.add("guards written") }
            return (y.allBytes, m)
        }
    }

    @Test("decode to BFloat16", arguments: FP8Format.allCases, [0, 1])
    func decodeToBFloat16(format: FP8Format, offset: Int) throws {
        let ref = FP8Reference.of(format)
        try checkEveryISA("decode \(format) -> BFloat16, offset \(offset)") { _ in
            let y = try CastRun.decode(Self.allCodes, format: format, as: BFloat16.self, offset: offset)
            var m = Mismatches()
            for code in Self.allCodes {
                let v = ref.value(code)
                // every FP8 value is a bf16 value: rounding must be exact
                let want: UInt16 = v.isNaN ? (code & 0x80 != 0 ? 0xFFC0 : 0x7FC0) : BFloat16Reference.round(v)
                if !v.isNaN { #expect(BFloat16Reference.value(want) == v) }
                if y[Int(code)].bitPattern != want {
                    m.add("code 0x\(String(code, radix: 16)): got 0x\(String(y[Int(code)].bitPattern, radix: 16)), expected 0x\(String(want, radix: 16))")
                }
            }
            if !y.guardsIntact { m.add("guards written") }
            return (y.allBytes, m)
        }
    }

    /// Every SIMD width and tail: decoding 1...70 codes from a rotating start gives the same values.
    @Test("decode lengths around the vector widths", arguments: FP8Format.allCases)
    func decodeLengths(format: FP8Format) throws {
        let ref = FP8Reference.of(format)
        try checkEveryISA("decode \(format) lengths 0...70") { _ in
            var m = Mismatches(), all: [UInt8] = []
            for n in 0...70 {
                let codes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 37 + n) }
                let y = try CastRun.decode(codes, format: format, as: Float.self, offset: n % 3)
                for i in 0..<n where y[i].bitPattern != ref.decodeFloatBits(codes[i]) { m.add("n \(n) i \(i)") }
                if !y.guardsIntact { m.add("n \(n): guards written") }
                all += y.allBytes
            }
            return (all, m)
        }
    }

    @Test("reference decode tables equal ml_dtypes'", arguments: FP8Format.allCases)
    func referenceMatchesMLDtypes(format: FP8Format) {
        let ref = FP8Reference.of(format)
        let floats = Self.allCodes.map { ref.decodeFloatBits($0) }
        let bf16 = Self.allCodes.map { c in ref.isNaN(c) ? UInt16(c & 0x80) << 8 | 0x7FC0 : BFloat16Reference.round(ref.value(c)) }
        #expect(FNV1a64.of(floats) == MLDtypesDigests.of(format).decodeFloat)
        #expect(FNV1a64.of(bf16) == MLDtypesDigests.of(format).decodeBFloat16)
    }

    @Test("format landmarks from the definition")
    func landmarks() {
        let e4 = FP8Reference.e4m3fn, e5 = FP8Reference.e5m2
        #expect(e4.maxFinite == 448 && e4.maxFiniteCode == 0x7E)
        #expect(e5.maxFinite == 57344 && e5.maxFiniteCode == 0x7B)
        #expect(e4.minSubnormal == pow2(-9) && e5.minSubnormal == pow2(-16))
        #expect(e4.value(0x08) == pow2(-6) && e5.value(0x04) == pow2(-14)) // smallest normals
        #expect(e4.virtualNext == 480 && e5.virtualNext == 65536)
        #expect((0...255).filter { e4.isNaN(UInt8($0)) } == [0x7F, 0xFF])
        #expect((0...255).filter { e5.isNaN(UInt8($0)) } == [0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF])
        #expect(e5.value(0x7C) == .infinity && e5.value(0xFC) == -.infinity)
        #expect(e4.value(0x80).sign == .minus && e4.value(0x80) == 0)
        #expect(!e4.values.contains { $0.isInfinite })
        // Codes order like their values: the magnitude codes ascend with the values.
        for ref in [e4, e5] { #expect(ref.magnitudes.map(\.code) == ref.magnitudes.map(\.code).sorted()) }
    }
}

// Proves: every one of the 65536 BFloat16 inputs encodes to E4M3FN and E5M2, in both overflow modes, to
// exactly the code of the TestSupport nearest-even reference on every ISA (bit-exact, NaN sign kept), and
// that reference equals ml_dtypes' casts (digest constants computed off-line).
import MoEKit
import TestSupport
import Testing

@Suite("FP8 encode: all 65536 BFloat16 inputs", .tags(.exhaustive))
struct FP8EncodeBF16Tests {
    static let inputs = InputSets.allBFloat16
    static let inputValues = inputs.map(\.floatValue)

    @Test("kernel == reference on every ISA", arguments: FP8Format.allCases, OverflowMode.allCases)
    func exhaustive(format: FP8Format, overflow: OverflowMode) throws {
        let ref = FP8Reference.of(format)
        let expected = Self.inputs.map { ref.encode(BFloat16Reference.value($0.bitPattern), overflow: overflow) }
        #expect(FNV1a64.of(expected) == MLDtypesDigests.of(format).encode(.allBFloat16, overflow),
                "reference disagrees with ml_dtypes")
        try checkEveryISA("bf16 -> \(format) \(overflow)") { _ in
            let codes = try CastRun.encode(Self.inputs, format: format, overflow: overflow, offset: 1)
            return (codes.allBytes, codeMismatches(codes, expected, inputs: Self.inputValues))
        }
    }

    /// Hand-checked rows of the semantics' edge table (rows 8 and 9) and F1, through the bf16 path.
    @Test("documented landmarks")
    func landmarks() throws {
        func code(_ v: Float, _ f: FP8Format, _ o: OverflowMode) throws -> UInt8 {
            try CastRun.encode([BFloat16(v)], format: f, overflow: o)[0]
        }
        #expect(try code(448, .e4m3fn, .nan) == 0x7E)
        #expect(try code(464, .e4m3fn, .nan) == 0x7E)    // the tie rounds to even 448
        #expect(try code(480, .e4m3fn, .nan) == 0x7F)    // above the tie: NaN
        #expect(try code(-480, .e4m3fn, .nan) == 0xFF)
        #expect(try code(480, .e4m3fn, .saturate) == 0x7E)
        #expect(try code(.infinity, .e4m3fn, .nan) == 0x7F)
        #expect(try code(-.infinity, .e4m3fn, .saturate) == 0xFE)
        #expect(try code(61440, .e5m2, .nan) == 0x7C)     // the tie rounds to even: inf
        #expect(try code(-61440, .e5m2, .saturate) == 0xFB)
        #expect(try code(.infinity, .e5m2, .nan) == 0x7C)
        #expect(try code(-.infinity, .e5m2, .nan) == 0xFC)
        #expect(try code(.nan, .e5m2, .saturate) == 0x7E)
        #expect(try code(-.nan, .e4m3fn, .saturate) == 0xFF)
        #expect(try code(-0.0, .e4m3fn, .nan) == 0x80)
        #expect(try code(0x1p-10, .e4m3fn, .nan) == 0x00) // half the smallest subnormal: tie to even 0
        #expect(try code(-0x1p-10, .e4m3fn, .nan) == 0x80)
        #expect(try code(0x3p-10, .e4m3fn, .nan) == 0x02) // 1.5 subnormal steps: tie to even 2
        #expect(try code(0x1p-17, .e5m2, .nan) == 0x00)
        #expect(try code(0x3p-17, .e5m2, .nan) == 0x02)
    }
}

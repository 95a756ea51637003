// Proves: Float -> BFloat16 rounds to nearest even exactly like the Double-arithmetic reference (specials,
// NaN payloads -> sign|0x7FC0, overflow to ±inf, every exponent with its tie / near-tie mantissas, Float
// subnormals, random values, a 4.2M-pattern sweep equal to ml_dtypes) on every ISA and in BFloat16.init;
// BFloat16 -> Float widens all 65536 patterns exactly.
import MoEKit
import TestSupport
import Testing

@Suite("BFloat16 casts")
struct BFloat16CastTests {
    /// Every exponent (including 0 = subnormals and 255 = inf/NaN), both signs, with the mantissas that
    /// decide rounding: exact, just below / at / just above the half-way point, with even and odd bf16 lsb.
    static let exponentSweep: [Float] = {
        let lows: [UInt32] = [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF]
        let highs: [UInt32] = [0x00, 0x01, 0x02, 0x3F, 0x7E, 0x7F] // bf16 mantissa: lsb even and odd, and the top
        var v: [Float] = []
        for e in UInt32(0)...255 {
            for h in highs {
                for l in lows {
                    let bits = e << 23 | h << 16 | l
                    v.append(Float(bitPattern: bits))
                    v.append(Float(bitPattern: bits | 0x8000_0000))
                }
            }
        }
        return v
    }()

    func expectConverted(_ x: [Float], _ label: String) throws {
        let expected = x.map { BFloat16Reference.round($0) }
        try checkEveryISA("Float -> BFloat16 \(label)") { _ in
            let y = try CastRun.toBFloat16(x, offset: 1)
            var m = Mismatches()
            for i in x.indices where y[i].bitPattern != expected[i] {
                m.add("\(x[i]) (0x\(String(x[i].bitPattern, radix: 16))): got 0x\(String(y[i].bitPattern, radix: 16)), expected 0x\(String(expected[i], radix: 16))")
            }
            if !y.guardsIntact { m.add("guards written") }
            return (y.allBytes, m)
        }
        // The scalar Swift initializer follows the same rule.
        var m = Mismatches()
        for i in x.indices where BFloat16(x[i]).bitPattern != expected[i] { m.add("BFloat16(\(x[i]))") }
        expectNone(m, "BFloat16.init(Float) \(label)")
    }

    @Test("specials and every exponent")
    func specialsAndExponents() throws {
        try expectConverted(InputSets.floatSpecials + Self.exponentSweep, "specials + exponents")
        // Literal rules: NaN payloads dropped with the sign kept; the largest Float rounds to inf; ties to even.
        let y = try CastRun.toBFloat16([Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFC1_2345), .greatestFiniteMagnitude,
                                        Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), Float(bitPattern: 0x0000_8000)])
        #expect(y.elements.map(\.bitPattern) == [0x7FC0, 0xFFC0, 0x7F80, 0x3F80, 0x3F82, 0x0000])
    }

    @Test("random values")
    func random() throws {
        var rng = SplitMix64(seed: 0xBF16)
        try expectConverted(RandomData.bitPatterns(1 << 16, using: &rng) + RandomData.varied(1 << 16, exponents: -140...127, using: &rng),
                            "random")
    }

    @Test("lengths 0...70")
    func lengths() throws {
        try checkEveryISA("Float -> BFloat16 lengths") { _ in
            var all: [UInt8] = [], m = Mismatches()
            for n in 0...70 {
                let x = (0..<n).map { Self.exponentSweep[($0 * 131 + n * 17) % Self.exponentSweep.count] }
                let y = try CastRun.toBFloat16(x, offset: n % 3)
                for i in 0..<n where y[i].bitPattern != BFloat16Reference.round(x[i]) { m.add("n \(n) i \(i)") }
                if !y.guardsIntact { m.add("n \(n) guards") }
                all += y.allBytes
                let z = try CastRun.toFloat(y.elements, offset: n % 2)
                for i in 0..<n where z[i].bitPattern != BFloat16Reference.widenedBits(y[i].bitPattern) { m.add("widen n \(n) i \(i)") }
                all += z.allBytes
            }
            return (all, m)
        }
    }

    @Test("stride sweep equals ml_dtypes", .tags(.exhaustive))
    func strideSweep() throws {
        let x = InputSets.strideSweep
        let results = try forEachISA { _ in try CastRun.toBFloat16(x) }
        for (isa, y) in results {
            #expect(FNV1a64.of(y.elements.map(\.bitPattern)) == MLDtypesDigests.strideSweepBFloat16, "\(isa)")
        }
        var m = Mismatches()
        for i in stride(from: 0, to: x.count, by: 16) where BFloat16Reference.round(x[i]) != results[0].1[i].bitPattern {
            m.add("x[\(i)] = \(x[i])")
        }
        expectNone(m, "reference vs kernel on the sweep subsample")
    }

    @Test("BFloat16 -> Float: all 65536 patterns exactly")
    func widenAll() throws {
        let x = InputSets.allBFloat16
        try checkEveryISA("BFloat16 -> Float") { _ in
            let y = try CastRun.toFloat(x, offset: 1)
            var m = Mismatches()
            for i in x.indices {
                let want = BFloat16Reference.widenedBits(x[i].bitPattern)
                if y[i].bitPattern != want { m.add("0x\(String(x[i].bitPattern, radix: 16)) -> 0x\(String(y[i].bitPattern, radix: 16))") }
                if x[i].floatValue.bitPattern != want { m.add("floatValue of 0x\(String(x[i].bitPattern, radix: 16))") }
            }
            if !y.guardsIntact { m.add("guards written") }
            return (y.allBytes, m)
        }
    }
}

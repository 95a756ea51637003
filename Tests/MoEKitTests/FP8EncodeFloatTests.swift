// Proves: Float inputs encode bit-exactly like the reference on every ISA and in both overflow modes for
// every FP8 rounding midpoint ±1, ±2 ulp (subnormal steps and the overflow ties 464 / 61440 included, both
// signs), for specials (NaN payloads of both signs, ±inf, ±0, Float subnormals, ±greatestFiniteMagnitude),
// for a random sample, at every length around the vector widths; and that a 4.2M-value sweep over all
// Float classes and the midpoint set agree with ml_dtypes' digests.
import MoEKit
import TestSupport
import Testing

@Suite("FP8 encode: Float inputs")
struct FP8EncodeFloatTests {
    func check(_ x: [Float], _ format: FP8Format, _ overflow: OverflowMode, _ label: String, offset: Int = 1) throws {
        let ref = FP8Reference.of(format)
        let expected = x.map { ref.encode($0, overflow: overflow) }
        try checkEveryISA("\(label) -> \(format) \(overflow)") { _ in
            let codes = try CastRun.encode(x, format: format, overflow: overflow, offset: offset)
            return (codes.allBytes, codeMismatches(codes, expected, inputs: x))
        }
    }

    @Test("every midpoint ±2 ulp", arguments: FP8Format.allCases, OverflowMode.allCases)
    func midpoints(format: FP8Format, overflow: OverflowMode) throws {
        let x = InputSets.midpoints(format)
        let digests = MLDtypesDigests.of(format)
        #expect(x.count == digests.midpointCount)
        let ref = FP8Reference.of(format)
        #expect(FNV1a64.of(x.map { ref.encode($0, overflow: overflow) }) == digests.encode(.midpoints, overflow),
                "reference disagrees with ml_dtypes")
        // The set holds the overflow ties and the smallest subnormal tie.
        let tie: Float = format == .e4m3fn ? 464 : 61440
        #expect(x.contains(tie) && x.contains(-tie))
        #expect(x.contains(Float(ref.minSubnormal / 2)))
        try check(x, format, overflow, "midpoints")
    }

    @Test("special values", arguments: FP8Format.allCases, OverflowMode.allCases)
    func specials(format: FP8Format, overflow: OverflowMode) throws {
        let ref = FP8Reference.of(format)
        var x = InputSets.floatSpecials
        // Float subnormals: the smallest, the largest, and a few between; all far below the fp8 step.
        x += [0x1p-149, 0x1p-140, 0x1p-127, Float.leastNormalMagnitude.nextDown].flatMap { [$0, -$0] }
        // Just around the format's max and its overflow tie.
        let max = Float(ref.maxFinite), tie = Float((ref.maxFinite + ref.virtualNext) / 2)
        x += [max, max.nextUp, max.nextDown, tie, tie.nextUp, tie.nextDown, Float(ref.virtualNext), 1e30].flatMap { [$0, -$0] }
        try check(x, format, overflow, "specials")
        // The rules themselves, stated literally (ck_formats.h):
        let nanSigned = try CastRun.encode([Float.nan, -Float.nan, Float(bitPattern: 0xFF80_0001)], format: format, overflow: overflow)
        #expect(nanSigned.elements == [ref.nanCode, 0x80 | ref.nanCode, 0x80 | ref.nanCode])
        let inf = try CastRun.encode([Float.infinity, -Float.infinity, .greatestFiniteMagnitude], format: format, overflow: overflow)
        let over: UInt8 = overflow == .saturate ? ref.maxFiniteCode : (format == .e4m3fn ? 0x7F : 0x7C)
        #expect(inf.elements == [over, 0x80 | over, over])
    }

    @Test("random sample: every class and the fp8 range", arguments: FP8Format.allCases, OverflowMode.allCases)
    func random(format: FP8Format, overflow: OverflowMode) throws {
        var rng = SplitMix64(seed: 0xF8_0001 &+ UInt64(format == .e4m3fn ? 0 : 1))
        let ref = FP8Reference.of(format)
        let lowest = ref.minNormalExponent - ref.mantissaBits - 4, highest = Int(ref.maxFinite.exponent) + 2
        let x = RandomData.bitPatterns(1 << 16, using: &rng) + RandomData.varied(1 << 17, exponents: lowest...highest, using: &rng)
        try check(x, format, overflow, "random")
    }

    @Test("lengths 0...70 around the vector widths", arguments: FP8Format.allCases)
    func lengths(format: FP8Format) throws {
        var rng = SplitMix64(seed: 70)
        let ref = FP8Reference.of(format)
        let pool = RandomData.varied(70, exponents: -18...17, using: &rng) + [.nan, .infinity, 1e9, -1e9]
        try checkEveryISA("encode \(format) lengths") { _ in
            var all: [UInt8] = [], m = Mismatches()
            for n in 0...70 {
                let x = (0..<n).map { pool[($0 * 7 + n) % pool.count] }
                for overflow in OverflowMode.allCases {
                    let codes = try CastRun.encode(x, format: format, overflow: overflow, offset: n % 4)
                    let got = codeMismatches(codes, x.map { ref.encode($0, overflow: overflow) }, inputs: x)
                    if !got.isEmpty { m.add("n \(n) \(overflow): \(got.summary)") }
                    all += codes.allBytes
                }
            }
            return (all, m)
        }
    }

    /// 4.2M Float bit patterns (i·1021) through every ISA against ml_dtypes' digests; the reference is checked
    /// on a 1-in-16 subsample of the same set (its full agreement is the digest).
    @Test("stride sweep equals ml_dtypes", .tags(.exhaustive), arguments: FP8Format.allCases, OverflowMode.allCases)
    func strideSweep(format: FP8Format, overflow: OverflowMode) throws {
        let x = InputSets.strideSweep
        let want = MLDtypesDigests.of(format).encode(.strideSweep, overflow)
        let ref = FP8Reference.of(format)
        let results = try forEachISA { _ in try CastRun.encode(x, format: format, overflow: overflow) }
        for (isa, codes) in results {
            #expect(FNV1a64.of(codes.elements) == want, "\(isa): \(format) \(overflow) differs from ml_dtypes")
            #expect(codes.guardsIntact)
        }
        let sample = stride(from: 0, to: x.count, by: 16)
        var m = Mismatches()
        let codes = results[0].1
        for i in sample where ref.encode(x[i], overflow: overflow) != codes[i] { m.add("x[\(i)] = \(x[i])") }
        expectNone(m, "reference vs kernel on the sweep subsample")
    }
}

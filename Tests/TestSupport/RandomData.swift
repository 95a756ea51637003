// Deterministic random data: a seeded SplitMix64 generator and float generators covering many magnitudes.

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same sequence on every run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public enum RandomData {
    /// Random sign, significand in [1, 2) and exponent in `exponents`; a few exact ±0.
    public static func varied(_ count: Int, exponents: ClosedRange<Int> = -20...20,
                              using rng: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in
            let roll = rng.next() % 64
            if roll == 0 { return 0 }
            if roll == 1 { return -0.0 }
            let e = Int.random(in: exponents, using: &rng)
            let v = Float(sign: rng.next() & 1 == 0 ? .plus : .minus, exponent: e,
                          significand: Float.random(in: 1..<2, using: &rng))
            return v
        }
    }

    /// Uniformly random bit patterns (every class: NaN with payloads, inf, subnormals, zeros).
    public static func bitPatterns(_ count: Int, using rng: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
    }

    /// Values rounded to bf16 (so a Float and a BFloat16 input hold the same numbers).
    public static func bf16Representable(_ values: [Float]) -> [Float] {
        values.map { Float(bitPattern: UInt32(BFloat16Reference.round($0)) << 16) }
    }
}

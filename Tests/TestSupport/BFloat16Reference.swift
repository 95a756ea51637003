// bfloat16 from its definition, in Double: 1 sign bit, 8 exponent bits (bias 127), 7 mantissa bits,
// subnormals down to 2^-133. Rounding is done by scaling to the format's quantum and rounding to an
// integer (nearest, ties to even), not by the 0x7FFF-plus-lsb bit trick the kernels use.

public enum BFloat16Reference {
    static let mantissaBits = 7
    static let minNormalExponent = -126

    /// The value of a bf16 bit pattern (NaN for NaN patterns).
    public static func value(_ bits: UInt16) -> Double {
        let negative = bits & 0x8000 != 0
        let exponent = Int((bits >> 7) & 0xFF), mantissa = Int(bits & 0x7F)
        var magnitude: Double
        if exponent == 0xFF {
            magnitude = mantissa == 0 ? .infinity : .nan
        } else if exponent == 0 {
            magnitude = Double(mantissa) * pow2(minNormalExponent - mantissaBits)
        } else {
            magnitude = Double(128 + mantissa) * pow2(exponent - 127 - mantissaBits)
        }
        return negative ? -magnitude : magnitude
    }

    /// bf16 widened to Float: exact; a NaN keeps its sign and payload (the pattern shifted into the
    /// upper half, which is what an exact widening of a NaN means).
    public static func widenedBits(_ bits: UInt16) -> UInt32 {
        let v = value(bits)
        if v.isNaN { return UInt32(bits) << 16 }
        let f = Float(v)
        precondition(Double(f) == v)
        return f.bitPattern
    }

    /// Rounds `x` to bf16: nearest, ties to even, subnormals kept, overflow to ±inf, NaN to sign|0x7FC0.
    public static func round(_ x: Double) -> UInt16 {
        let sign: UInt16 = x.sign == .minus ? 0x8000 : 0
        if x.isNaN { return sign | 0x7FC0 }
        let a = x.magnitude
        if a == 0 { return sign }
        if a.isInfinite { return sign | 0x7F80 }
        let exponent = max(Int(a.exponent), minNormalExponent)
        let quantum = pow2(exponent - mantissaBits)
        let r = (a / quantum).rounded(.toNearestOrEven) * quantum // the rounded magnitude, exact in Double
        if r >= pow2(128) { return sign | 0x7F80 }
        // Pack r: subnormal if below 2^-126, else 1.m * 2^e.
        if r < pow2(minNormalExponent) {
            return sign | UInt16(r / pow2(minNormalExponent - mantissaBits))
        }
        let e = Int(r.exponent)
        let significand = Int(r / pow2(e - mantissaBits)) // 128...255
        return sign | UInt16(e + 127) << 7 | UInt16(significand - 128)
    }

    public static func round(_ x: Float) -> UInt16 { round(Double(x)) }
}

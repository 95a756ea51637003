// The FP8 formats from their definition, in Double: the value of every code and round-to-nearest-even
// encoding by searching the finite values. Written from the format definitions (sign, biased exponent,
// mantissa, subnormals, which codes are NaN/inf) and ck_formats.h's overflow rules, not from the C bit tricks.
import MoEKit

/// One FP8 format, derived from its field widths.
public struct FP8Reference: Sendable {
    public let format: FP8Format
    public let exponentBits: Int
    public let mantissaBits: Int
    public let bias: Int
    /// IEEE-style specials (all-ones exponent: mantissa 0 = inf, else NaN) as in E5M2; otherwise "FN":
    /// no infinities and only S.1111.111 is NaN, as in E4M3FN.
    public let ieeeSpecials: Bool
    /// Value of each of the 256 codes (NaN for NaN codes).
    public let values: [Double]
    /// Non-negative finite magnitudes in ascending order with their codes.
    public let magnitudes: [(value: Double, code: UInt8)]
    /// The magnitude code MoEKit (and ml_dtypes) writes for NaN: 0x7F (e4m3fn) or 0x7E (e5m2).
    public let nanCode: UInt8
    /// The magnitude code of infinity (e5m2: 0x7C), nil when the format has none.
    public let infinityCode: UInt8?

    public static let e4m3fn = FP8Reference(.e4m3fn)
    public static let e5m2 = FP8Reference(.e5m2)
    public static func of(_ format: FP8Format) -> FP8Reference { format == .e4m3fn ? .e4m3fn : .e5m2 }

    init(_ format: FP8Format) {
        self.format = format
        switch format {
        case .e4m3fn: (exponentBits, mantissaBits, bias, ieeeSpecials) = (4, 3, 7, false)
        case .e5m2: (exponentBits, mantissaBits, bias, ieeeSpecials) = (5, 2, 15, true)
        }
        let (e, m, b, ieee) = (exponentBits, mantissaBits, bias, ieeeSpecials)
        let expMask = (1 << e) - 1, mantMask = (1 << m) - 1
        var values = [Double]()
        for code in 0..<256 {
            let negative = code & 0x80 != 0
            let exponent = (code >> m) & expMask, mantissa = code & mantMask
            var magnitude: Double
            if ieee && exponent == expMask {
                magnitude = mantissa == 0 ? .infinity : .nan
            } else if !ieee && exponent == expMask && mantissa == mantMask {
                magnitude = .nan
            } else if exponent == 0 {
                magnitude = Double(mantissa) * pow2(1 - b - m) // subnormal: 0.f * 2^(1 - bias)
            } else {
                magnitude = Double((1 << m) + mantissa) * pow2(exponent - b - m) // 1.f * 2^(e - bias)
            }
            values.append(negative ? -magnitude : magnitude)
        }
        self.values = values
        magnitudes = (0..<128).filter { values[$0].isFinite }.map { (values[$0], UInt8($0)) }.sorted { $0.value < $1.value }
        // The NaN encodings are a documented choice (ck_formats.h, ml_dtypes): the only NaN of e4m3fn,
        // and 0x7E (S.11111.10, the quiet-NaN pattern) for e5m2.
        nanCode = ieee ? 0x7E : 0x7F
        infinityCode = ieee ? UInt8(expMask << m) : nil
    }

    /// The largest finite value (448 or 57344).
    public var maxFinite: Double { magnitudes.last!.value }
    public var maxFiniteCode: UInt8 { magnitudes.last!.code }
    /// The smallest positive value (the subnormal step 2^(emin − m)).
    public var minSubnormal: Double { magnitudes[1].value }
    /// Exponent of the smallest normal binade: 1 − bias.
    public var minNormalExponent: Int { 1 - bias }
    /// The value the format would have next above its maximum if its exponent range went on: max + top ulp
    /// (480 for e4m3fn, 61440's upper neighbour 65536 for e5m2). Rounding toward it is overflow.
    public var virtualNext: Double { maxFinite + (maxFinite - magnitudes[magnitudes.count - 2].value) }

    public func value(_ code: UInt8) -> Double { values[Int(code)] }
    public func isNaN(_ code: UInt8) -> Bool { values[Int(code)].isNaN }

    /// Whether `v` (a non-negative value on this format's grid, extended above the maximum) has an even
    /// significand: v / 2^(max(⌊log2 v⌋, emin) − m) is an even integer.
    public func hasEvenSignificand(_ v: Double) -> Bool {
        if v == 0 { return true }
        let quantum = pow2(max(Int(v.exponent), minNormalExponent) - mantissaBits)
        let significand = v / quantum
        precondition(significand == significand.rounded(), "\(v) is not on the grid")
        return significand.truncatingRemainder(dividingBy: 2) == 0
    }

    /// Rounds `x` to this format: nearest finite value, ties to the even significand, subnormals kept.
    /// A magnitude that rounds above the maximum (or ±inf) becomes sign|NaN (e4m3fn) or ±inf (e5m2) in
    /// `.nan` mode and ±max in `.saturate` mode. NaN becomes sign|nanCode.
    public func encode(_ x: Double, overflow: OverflowMode) -> UInt8 {
        let sign: UInt8 = x.sign == .minus ? 0x80 : 0
        if x.isNaN { return sign | nanCode }
        let a = x.magnitude
        let overflowCode: UInt8
        switch overflow {
        case .saturate: overflowCode = maxFiniteCode
        case .nan: overflowCode = infinityCode ?? nanCode
        }
        if a > maxFinite {
            let mid = (maxFinite + virtualNext) / 2
            if a < mid || (a == mid && hasEvenSignificand(maxFinite)) { return sign | maxFiniteCode }
            return sign | overflowCode
        }
        // Largest magnitude <= a (binary search), and its upper neighbour.
        var lo = 0, hi = magnitudes.count - 1
        while lo < hi {
            let m = (lo + hi + 1) / 2
            if magnitudes[m].value <= a { lo = m } else { hi = m - 1 }
        }
        let below = magnitudes[lo]
        if below.value == a || lo == magnitudes.count - 1 { return sign | below.code }
        let above = magnitudes[lo + 1]
        let mid = (below.value + above.value) / 2 // exact: both have few significant bits
        if a < mid { return sign | below.code }
        if a > mid { return sign | above.code }
        return sign | (hasEvenSignificand(below.value) ? below.code : above.code)
    }

    public func encode(_ x: Float, overflow: OverflowMode) -> UInt8 { encode(Double(x), overflow: overflow) }

    /// The decoded value as the Float MoEKit must produce: exact, NaN as the quiet NaN with the code's sign.
    public func decodeFloatBits(_ code: UInt8) -> UInt32 {
        let v = values[Int(code)]
        if v.isNaN { return (code & 0x80 != 0 ? 0x8000_0000 : 0) | 0x7FC0_0000 }
        let f = Float(v)
        precondition(Double(f) == v)
        return f.bitPattern
    }
}

/// 2^k as a Double (exact for the exponents used here).
@inlinable public func pow2(_ k: Int) -> Double { Double(sign: .plus, exponent: k, significand: 1) }

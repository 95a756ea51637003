// The input sets the exhaustive and sweep tests use, defined exactly as in Tests/Scripts/ml_dtypes_digests.py
// (same order), so their outputs can be compared with the ml_dtypes-derived digests.
import MoEKit

public enum InputSets {
    /// All 65536 bf16 bit patterns, ascending.
    public static let allBFloat16: [BFloat16] = (0...0xFFFF).map { BFloat16(bitPattern: UInt16($0)) }

    /// Every FP8 rounding midpoint of `format` and its neighbours: for each adjacent pair (a, b) of
    /// non-negative finite magnitudes, plus (max, max + top ulp) whose midpoint is the overflow tie (464,
    /// 61440), the Float m = (a + b) / 2, then for k in −2...2 the Float with bits(m) + k, each first
    /// positive then negative.
    public static func midpoints(_ format: FP8Format) -> [Float] {
        let ref = FP8Reference.of(format)
        let grid = ref.magnitudes.map(\.value) + [ref.virtualNext]
        var out: [Float] = []
        for i in 0..<grid.count - 1 {
            let mid = (grid[i] + grid[i + 1]) / 2
            let m = Float(mid)
            precondition(Double(m) == mid)
            for k in -2...2 {
                let v = Float(bitPattern: UInt32(Int64(m.bitPattern) + Int64(k)))
                out.append(v)
                out.append(-v)
            }
        }
        return out
    }

    /// Float bit patterns i·1021 for i < 2^22: a 4.2M-value sweep across every sign, exponent and class.
    public static let strideSweep: [Float] = (0..<(1 << 22)).map { Float(bitPattern: UInt32($0 * 1021)) }

    /// Float special values: zeros, infinities, NaNs with payloads (quiet and signalling, both signs),
    /// subnormals, extremes.
    public static let floatSpecials: [Float] = {
        var v: [Float] = [0, -0.0, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                          .leastNormalMagnitude, -.leastNormalMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                          Float.leastNormalMagnitude.nextDown, 1, -1, 0.5, 2]
        for payload: UInt32 in [0x40_0000, 0x40_0001, 0x7F_FFFF, 0x00_0001, 0x20_0000, 0x12_3456] {
            v.append(Float(bitPattern: 0x7F80_0000 | payload))
            v.append(Float(bitPattern: 0xFF80_0000 | payload))
        }
        return v
    }()
}

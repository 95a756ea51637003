// Independent references for the grouped GEMMs: the canonical summation orders written from their
// definition in ck_gemm.h (bit-exact), and a float64 reference with a rounding-error bound.

public enum GemmReference {
    /// The 16-lane dot product: lane l chains fused multiply-adds over k = l, l+16, ... from +0, then the lanes
    /// are added as lane i += lane i+8, i+4, i+2, i+1.
    public static func dot16(_ x: ArraySlice<Float>, _ w: ArraySlice<Float>) -> Float {
        var lane = [Float](repeating: 0, count: 16)
        for (k, (a, b)) in zip(x, w).enumerated() { lane[k % 16] = lane[k % 16].addingProduct(a, b) }
        var s = 8
        while s >= 1 {
            for i in 0..<s { lane[i] = lane[i] + lane[i + s] }
            s /= 2
        }
        return lane[0]
    }

    /// The sequential chain: fused multiply-adds in order from +0.
    public static func chain(_ pairs: some Sequence<(Float, Float)>) -> Float {
        pairs.reduce(Float(0)) { $0.addingProduct($1.0, $1.1) }
    }

    /// Applies beta as the kernels do: beta 0 writes the sum, otherwise fma(beta, old, sum).
    public static func store(_ sum: Float, beta: Float, old: Float) -> Float {
        beta == 0 ? sum : sum.addingProduct(beta, old)
    }

    /// `γ(n) · Σ|a·b|` with γ(n) = n·u / (1 − n·u), u = 2⁻²⁴: the worst-case rounding error of any summation
    /// order of n products with fused multiply-adds (Higham, Accuracy and Stability, §3.1).
    public static func bound(terms n: Int, absSum: Double) -> Double {
        let u = 0x1p-24, nu = Double(n + 1) * u
        return nu / (1 - nu) * absSum
    }
}

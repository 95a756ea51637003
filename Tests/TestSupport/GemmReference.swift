// Independent references for the grouped GEMMs: the canonical summation order written from its
// definition in ck_gemm.h (bit-exact), the BF16 dot-product order from the instruction's, and a float64 reference
// with a rounding-error bound.

public enum GemmReference {
    /// The sequential chain: fused multiply-adds in order from +0.
    public static func chain(_ pairs: some Sequence<(Float, Float)>) -> Float {
        pairs.reduce(Float(0)) { $0.addingProduct($1.0, $1.1) }
    }

    /// The block-scaled order of FP8 weights: per 128-wide block b, p = the chain over the block from +0 (or
    /// `partial`'s sum), then acc = fma(p · aScales[b], bScales[b], acc) from +0.
    public static func blockScaled(_ pairs: [(Float, Float)], aScales: [Float], bScales: [Float],
                                   partial: ([(Float, Float)]) -> Float = { chain($0) }) -> Float {
        var acc: Float = 0
        for b in 0..<(pairs.count + 127) / 128 {
            let p = partial(Array(pairs[b * 128..<min(pairs.count, b * 128 + 128)]))
            acc = acc.addingProduct(p * aScales[b], bScales[b])
        }
        return acc
    }

    /// AVX512_BF16's `vdpbf16ps` order (`Runtime.withBF16DotProducts`), written from the instruction's definition:
    /// per pair of the reduction (2i, 2i + 1) in order, from +0, acc = ftz(fma(daz(a₂ᵢ₊₁), daz(b₂ᵢ₊₁), daz(acc))),
    /// then acc = ftz(fma(daz(a₂ᵢ), daz(b₂ᵢ), acc)); an odd count's last pair has +0 for a₂ᵢ₊₁ and b₂ᵢ₊₁. daz and ftz
    /// read a subnormal as a zero of its sign.
    public static func dotPairs(_ pairs: [(Float, Float)]) -> Float {
        func flush(_ x: Float) -> Float { x.isSubnormal ? Float(signOf: x, magnitudeOf: 0) : x }
        var acc: Float = 0
        for i in stride(from: 0, to: pairs.count, by: 2) {
            let (a, b) = i + 1 < pairs.count ? pairs[i + 1] : (0, 0)
            acc = flush(flush(acc).addingProduct(flush(a), flush(b)))
            acc = flush(acc.addingProduct(flush(pairs[i].0), flush(pairs[i].1)))
        }
        return acc
    }

    /// Applies beta as the kernels do: beta 0 writes the sum, otherwise fma(beta, old, sum).
    public static func store(_ sum: Float, beta: Float, old: Float) -> Float {
        beta == 0 ? sum : sum.addingProduct(beta, old)
    }

    /// `γ(n) · Σ|a·b|` with γ(n) = n·u / (1 − n·u), u = 2⁻²⁴: the worst-case rounding error of any summation
    /// order of n products with fused multiply-adds (Higham, Accuracy and Stability, §3.1).
    public static func bound(terms n: Int, absSum: Double) -> Double {
        let u = 0x1p-24, nu = Double(n) * u
        return nu / (1 - nu) * absSum
    }
}

// Proves: the quantizers round x / s to fp8 exactly as the reference at every fp8 rounding midpoint ±2 Float
// ulps (subnormal steps included, both signs) and across a sweep of Float bit patterns, for every config and
// input type, on every ISA, per token and per channel (transposed). Each group starts with ±max · c and holds
// values v · c: with c a power of two (1, 2^-20, 2^110) the scale is c and x / s is v itself, from the
// smallest scales to near the largest; c = 2^-30 puts the group under the 1e-4 amax floor; c = 0.1 and 0.1 · 2^-20
// give scales that are not powers of two, so a row mixes groups whose division is a product with groups that
// need the quotient. Groups of 128 take the four-vector path, groups of 124 the one-vector path and the scalar
// tail as well (on AVX2 and on AVX-512).
import MoEKit
import TestSupport
import Testing

@Suite("Quantizer rounding at fp8 midpoints")
struct QuantizeRoundingTests {
    static let factors: [Float] = [1, 0.1, 0x1p-20, 0x1p110, 0x1p-30, 0.1 * 0x1p-20]

    /// Every midpoint ±2 ulp within the format's range, then every 64th Float of the stride sweep there.
    static func values(_ format: FP8Format) -> [Float] {
        let max = Float(FP8Reference.of(format).maxFinite)
        let sweep = InputSets.strideSweep.filter { $0.magnitude <= max }
        return InputSets.midpoints(format).filter { $0.magnitude <= max } + stride(from: 0, to: sweep.count, by: 64).map { sweep[$0] }
    }

    /// `values` cut into groups: group k starts with ±max · c and holds v · c, c = factors[k % factors.count].
    static func sequence(_ format: FP8Format, group: Int) -> [Float] {
        let max = Float(FP8Reference.of(format).maxFinite)
        var out: [Float] = []
        for v in values(format) {
            let c = factors[out.count / group % factors.count]
            if out.count % group == 0 { out.append((out.count / group) % 2 == 0 ? max * c : -max * c) }
            out.append(v * c)
        }
        while out.count % group != 0 { out.append(0) }
        return out
    }

    @Test("midpoints and a Float sweep, per token and per channel", arguments: [QuantLayout.perToken, .perChannelTransposed], [128, 124])
    func midpoints(layout: QuantLayout, group: Int) throws {
        for config in QuantizationConfig.all {
            for input in [KernelFloatType.float32, .bfloat16] {
                var seq = Self.sequence(config.format, group: group)
                if input == .bfloat16 { seq = RandomData.bf16Representable(seq) }
                let channels = layout == .perToken ? seq.count : 17
                // per token: one row; per channel: every channel holds the sequence down its tokens
                let rows = layout == .perToken ? 1 : seq.count
                let x = layout == .perToken ? seq : seq.flatMap { [Float](repeating: $0, count: channels) }
                let c = QuantCase(layout: layout, rows: rows, columns: channels, group: group, input: input, config: config)
                let ref = QuantRun.reference(c, x)
                try checkEveryISA(c.description) { _ in
                    let out = try QuantRun.quantize(c, x)
                    return (out.bytes, QuantRun.mismatches(c, out, ref))
                }
            }
        }
    }
}

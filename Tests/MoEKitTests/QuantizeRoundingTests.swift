// Proves: the quantizers round x / s to fp8 exactly as the reference at every fp8 rounding midpoint ±2 Float
// ulps (subnormal steps included, both signs) and across a sweep of Float bit patterns, for every config, on
// every ISA, per token and per channel (transposed): each group starts with the format's max, so its scale is
// exactly 1 and x / s is x itself, and the kernels' grid rounding (formats_simd.h, v_fp8_grid) sees those
// values unchanged. Groups of 128 take the four-vector path, groups of 100 the one-vector path and the scalar
// tail as well.
import MoEKit
import TestSupport
import Testing

@Suite("Quantizer rounding at fp8 midpoints")
struct QuantizeRoundingTests {
    /// Every midpoint ±2 ulp within the format's range, then every 64th Float of the stride sweep there.
    static func values(_ format: FP8Format) -> [Float] {
        let max = Float(FP8Reference.of(format).maxFinite)
        let sweep = InputSets.strideSweep.filter { $0.magnitude <= max }
        return InputSets.midpoints(format).filter { $0.magnitude <= max } + stride(from: 0, to: sweep.count, by: 64).map { sweep[$0] }
    }

    /// `values` cut into groups that each start with ±max (amax = max, so s = 1 with either scale format).
    static func sequence(_ format: FP8Format, group: Int) -> [Float] {
        let max = Float(FP8Reference.of(format).maxFinite)
        var out: [Float] = []
        for (i, v) in values(format).enumerated() {
            if out.count % group == 0 { out.append(i % 2 == 0 ? max : -max) }
            out.append(v)
        }
        while out.count % group != 0 { out.append(0) }
        return out
    }

    @Test("midpoints and a Float sweep, per token and per channel", arguments: [QuantLayout.perToken, .perChannelTransposed], [128, 100])
    func midpoints(layout: QuantLayout, group: Int) throws {
        for config in QuantizationConfig.all {
            let seq = Self.sequence(config.format, group: group)
            let channels = layout == .perToken ? seq.count : 17
            // per token: one row; per channel: every channel holds the sequence down its tokens
            let rows = layout == .perToken ? 1 : seq.count
            let x = layout == .perToken ? seq : seq.flatMap { [Float](repeating: $0, count: channels) }
            let c = QuantCase(layout: layout, rows: rows, columns: channels, group: group, config: config)
            let ref = QuantRun.reference(c, x)
            try checkEveryISA(c.description) { _ in
                let out = try QuantRun.quantize(c, x)
                return (out.bytes, QuantRun.mismatches(c, out, ref))
            }
        }
    }
}

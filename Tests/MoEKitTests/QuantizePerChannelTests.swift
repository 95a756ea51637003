// Proves: per-channel G x 1 quantization with transposed output (x [tokens, channels] -> q [channels,
// tokens], scales [channels, ⌈tokens/G⌉]) is bit-exact against the reference and identical on every ISA for
// token counts 1, 3, 127, 129, 255, 1000, groups 128, 32, 1, 7, 200, channel counts around the vector
// widths and above the driver's 256-channel pieces, with strides and unaligned buffers; and that
// dequantizePerToken(rows: channels, columns: tokens) decodes its output.
import MoEKit
import TestSupport
import Testing

@Suite("Quantize per channel (transposed)")
struct QuantizePerChannelTests {
    static let channelChoices = [1, 3, 17, 37, 300]

    @Test("groups x token counts", arguments: [128, 32, 1, 7, 200], [1, 3, 127, 129, 255, 1000])
    func sweep(group: Int, tokens: Int) throws {
        // Rotate the channel count; keep the tensor moderate for the big token counts.
        var channels = Self.channelChoices[(group + tokens) % Self.channelChoices.count]
        if tokens >= 255 { channels = min(channels, 37) }
        try sweepQuantizer(QuantCase(layout: .perChannelTransposed, rows: tokens, columns: channels, group: group),
                           seed: UInt64(group * 100_003 + tokens))
    }

    @Test("more channels than one piece")
    func wide() throws {
        try sweepQuantizer(QuantCase(layout: .perChannelTransposed, rows: 260, columns: 300, group: 128), seed: 260_300)
    }

    /// The transposed output is the per-token layout of xᵀ: the per-token dequantizer decodes it.
    @Test("dequantizePerToken decodes the transposed output", arguments: QuantizationConfig.all)
    func decodesAsPerToken(config: QuantizationConfig) throws {
        let (tokens, channels, group) = (131, 19, 32)
        let x = QuantData.random(rows: tokens, columns: channels, input: .float32, seed: 77)
        let c = QuantCase(layout: .perChannelTransposed, rows: tokens, columns: channels, group: group, config: config)
        let ref = QuantRun.reference(c, x)
        try checkEveryISA("per-channel output through dequantizePerToken \(config)") { _ in
            let out = try QuantRun.quantize(c, x)
            let scales: PackedScales = config.scaleFormat == .float32 ? .float32(out.floatScales!.elements)
                : .ue8m0(out.ue8m0Scales!.elements.map(\.bitPattern))
            let d = DequantCase(layout: .perToken, rows: channels, columns: tokens, group: group, format: config.format,
                                scaleFormat: config.scaleFormat)
            let y = try DequantRun.dequantize(d, codes: out.codes.elements, scales: scales)
            // Element [c, t] of the result is decode(q) * s for x[t, c]'s group (c, t / group).
            var m = QuantRun.mismatches(c, out, ref)
            for ch in 0..<channels {
                for t in 0..<tokens {
                    let want = ScaleReference.dequantize(ref.codes[ch * tokens + t],
                                                         scale: scales.values[ch * divUp(tokens, group) + t / group], format: config.format)
                    if y.float![ch * tokens + t].bitPattern != want.bitPattern { m.add("y[\(ch),\(t)]") }
                }
            }
            return (out.bytes + y.bytes, m)
        }
    }
}

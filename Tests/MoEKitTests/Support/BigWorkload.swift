// A fixed set of kernel calls on tensors of several million elements (many parallel tasks each), whose
// complete outputs are returned as bytes, for the thread-count and concurrency tests.
import MoEKit
import TestSupport

enum BigWorkload {
    /// x [1024, 4100]: per-token rows span two column pieces; 4.2M elements.
    static let rows = 1024, columns = 4100
    static let x: [Float] = {
        var rng = SplitMix64(seed: 0xB16)
        return RandomData.varied(rows * columns, exponents: -16...16, using: &rng)
    }()
    static let xRoundedToBF16: [Float] = RandomData.bf16Representable(x)
    static let xBF16: [BFloat16] = xRoundedToBF16.asBFloat16

    static let perToken = QuantCase(layout: .perToken, rows: rows, columns: columns, group: 128)
    static let perBlock = QuantCase(layout: .perBlock, rows: rows, columns: columns, group: 128,
                                    config: QuantizationConfig(.e4m3fn, .ue8m0, .reciprocal))
    static let perChannel = QuantCase(layout: .perChannelTransposed, rows: rows, columns: columns, group: 128,
                                      input: .bfloat16, config: QuantizationConfig(.e5m2, .float32, .divide))

    /// Every kernel family once; the concatenated outputs (with their guards).
    static func run() throws(MoEKitError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        out.append(try CastRun.toBFloat16(x).allBytes)
        out.append(try CastRun.toFloat(xBF16).allBytes)
        let codes = try CastRun.encode(x, format: .e4m3fn, overflow: .saturate)
        out.append(codes.allBytes)
        out.append(try CastRun.encode(xBF16, format: .e5m2, overflow: .nan).allBytes)
        out.append(try CastRun.decode(codes.elements, format: .e4m3fn, as: Float.self).allBytes)
        let t = try QuantRun.quantize(perToken, x)
        out.append(t.bytes)
        let b = try QuantRun.quantize(perBlock, x)
        out.append(b.bytes)
        out.append(try QuantRun.quantize(perChannel, xRoundedToBF16).bytes)
        let dt = DequantCase(layout: .perToken, rows: rows, columns: columns, group: 128, output: .bfloat16)
        out.append(try DequantRun.dequantize(dt, codes: t.codes.elements, scales: .float32(t.floatScales!.elements)).bytes)
        let db = DequantCase(layout: .perBlock, rows: rows, columns: columns, group: 128, scaleFormat: .ue8m0)
        out.append(try DequantRun.dequantize(db, codes: b.codes.elements, scales: .ue8m0(b.ue8m0Scales!.elements.map(\.bitPattern))).bytes)
        return out
    }

    /// The reference outputs of the two quantizers without strides (checked once).
    static func perTokenReferenceMismatches(_ bytes: [[UInt8]]) throws -> Mismatches {
        let out = try QuantRun.quantize(perToken, x)
        guard out.bytes == bytes[5] else {
            var m = Mismatches()
            m.add("per-token output differs from the workload's")
            return m
        }
        return QuantRun.mismatches(perToken, out, QuantRun.reference(perToken, x))
    }
}

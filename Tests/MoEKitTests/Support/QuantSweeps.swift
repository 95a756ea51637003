// Shared drivers of the quantizer sweeps: random inputs of varied magnitude, and one routine that runs a
// QuantCase for every config and input type on every ISA against the reference and against ISA .scalar.
import MoEKit
import TestSupport
import Testing

enum QuantData {
    /// Packed x [rows, columns]: random signs and magnitudes over 2^±12 (so groups hold values that quantize
    /// to normals, subnormals and zero), with a few exact ±0; bf16-representable when `input` is bf16.
    static func random(rows: Int, columns: Int, input: KernelFloatType, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let x = RandomData.varied(rows * columns, exponents: -12...12, using: &rng)
        return input == .bfloat16 ? RandomData.bf16Representable(x) : x
    }
}

/// Stride / offset variants a sweep rotates through: (xPad, codesPad, scalesPad, offset).
let stridePatterns: [(Int, Int, Int, Int)] = [(0, 0, 0, 0), (5, 3, 2, 1), (1, 16, 0, 1), (0, 0, 7, 0)]

/// Runs `base` for every quantization config and both input types (stride pattern rotating with the
/// variant), each on every ISA, comparing with the reference and with ISA .scalar.
func sweepQuantizer(_ base: QuantCase, seed: UInt64) throws {
    var variant = Int(seed % 4)
    for input in [KernelFloatType.float32, .bfloat16] {
        let x = QuantData.random(rows: base.rows, columns: base.columns, input: input, seed: seed &+ (input == .float32 ? 0 : 1))
        for config in QuantizationConfig.all {
            var c = base
            c.input = input
            c.config = config
            (c.xPad, c.codesPad, c.scalesPad, c.offset) = stridePatterns[variant % stridePatterns.count]
            variant += 1
            let ref = QuantRun.reference(c, x)
            try checkEveryISA(c.description) { _ in
                let out = try QuantRun.quantize(c, x)
                return (out.bytes, QuantRun.mismatches(c, out, ref))
            }
        }
    }
}

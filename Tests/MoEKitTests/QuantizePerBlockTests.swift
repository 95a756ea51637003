// Proves: per-block B x B quantization (all input types, formats, scale formats and scalings) is bit-exact
// against the reference and identical on every ISA, with partial edge blocks in both directions (300 x 260
// with B = 128 and others), B = 1, 7, 32, 200, strides and unaligned buffers; and that a block larger than
// the whole matrix (even 2^62) is one zero-padded block.
import MoEKit
import TestSupport
import Testing

@Suite("Quantize per block")
struct QuantizePerBlockTests {
    static let shapes: [(rows: Int, columns: Int, block: Int)] = [
        (300, 260, 128), (129, 255, 128), (1, 1, 128), (1, 1000, 128), (3, 1000, 32), (7, 7, 7), (127, 129, 7),
        (5, 9, 1), (201, 33, 200), (17, 300, 32),
    ]

    @Test("shapes with partial edge blocks", arguments: shapes)
    func sweep(shape: (rows: Int, columns: Int, block: Int)) throws {
        try sweepQuantizer(QuantCase(layout: .perBlock, rows: shape.rows, columns: shape.columns, group: shape.block),
                           seed: UInt64(shape.rows * 7919 + shape.columns * 31 + shape.block))
    }

    @Test("a block larger than the matrix", arguments: [1000, 1 << 40, 1 << 62, Int.max])
    func hugeBlock(block: Int) throws {
        // 8 columns: block * 8 wraps to 0 in 64 bits for block = 2^61...2^63 (a driver's work-size product).
        let x = QuantData.random(rows: 3, columns: 8, input: .float32, seed: 9)
        for config in QuantizationConfig.all {
            let c = QuantCase(layout: .perBlock, rows: 3, columns: 8, group: block, config: config)
            let ref = QuantRun.reference(c, x)
            try checkEveryISA("\(c)") { _ in
                let out = try QuantRun.quantize(c, x)
                return (out.bytes, QuantRun.mismatches(c, out, ref))
            }
        }
    }
}

// Proves: per-token 1 x G quantization (Float and BFloat16 input, e4m3fn and e5m2, Float and UE8M0
// scales, divide and reciprocal) is bit-exact against the reference and identical on every ISA, for
// group sizes 128, 32, 1, 7, 200 (partial last groups) x row lengths 1, 3, 127, 129, 255, 1000, with
// non-default strides and unaligned buffers, and for rows long enough to be cut into several pieces.
import MoEKit
import TestSupport
import Testing

@Suite("Quantize per token")
struct QuantizePerTokenTests {
    @Test("group sizes x row lengths", arguments: [128, 32, 1, 7, 200], [1, 3, 127, 129, 255, 1000])
    func sweep(group: Int, columns: Int) throws {
        try sweepQuantizer(QuantCase(layout: .perToken, rows: 3, columns: columns, group: group),
                           seed: UInt64(group * 10_000 + columns))
    }

    /// 1 x 1 groups over 1100 columns and 7-groups over 2000 columns span several of the driver's column
    /// pieces (256 groups each), so piece boundaries must not move a group.
    @Test("rows cut into several pieces", arguments: [(1, 1100), (7, 2000), (128, 33_000)])
    func pieces(group: Int, columns: Int) throws {
        try sweepQuantizer(QuantCase(layout: .perToken, rows: 2, columns: columns, group: group), seed: UInt64(columns))
    }
}

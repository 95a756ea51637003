import CKernels
import Glibc
import MoEKit

/// Suite `quant`: the low-precision formats on a DRAM-sized array (64M elements, buffers rotated beyond the
/// last-level cache) and on an L2-resident one, MoEKit at the active ISA vs its scalar reference. Inputs span
/// sixteen binades; `_bell` repeats the L2 per-token case on bell-shaped data.
func quantSuite(llcBytes: Int) -> [BenchCase] {
    var cases: [BenchCase] = []
    for size in [Size.dram, .l2] {
        let (r, c) = size.tokenShape, (sr, sc) = size.squareShape
        cases.append(operation("per_token_1x128_e4m3", size, "f32", rows: r, cols: c, input: 4, output: 1, scaleBytes: r * c / 128 * 4, llc: llcBytes) {
            x, q, s in quantPerToken(x, CK_DTYPE_F32, r, c, q, s)
        })
        if size == .l2 { // the same on bell-shaped data (a trained layer's activations): the speed should not depend on the data
            cases.append(operation("per_token_1x128_e4m3_bell", size, "f32", rows: r, cols: c, input: 4, output: 1, scaleBytes: r * c / 128 * 4, llc: llcBytes, data: .bellShaped) {
                x, q, s in quantPerToken(x, CK_DTYPE_F32, r, c, q, s)
            })
        }
        cases.append(operation("per_token_1x128_e4m3", size, "bf16", rows: r, cols: c, input: 2, output: 1, scaleBytes: r * c / 128 * 4, llc: llcBytes) {
            x, q, s in quantPerToken(x, CK_DTYPE_BF16, r, c, q, s)
        })
        cases.append(operation("dequant_1x128_e4m3", size, "f32", rows: r, cols: c, input: 1, output: 4, scaleBytes: r * c / 128 * 4, llc: llcBytes) {
            q, y, s in
            precondition(ck_dequant_per_token(q, CK_FP8_E4M3FN, r, c, c, 128, s, CK_SCALE_F32, c / 128, y, CK_DTYPE_F32, c) == CK_OK)
        })
        cases.append(operation("per_block_128x128_e4m3", size, "f32", rows: sr, cols: sc, input: 4, output: 1, scaleBytes: (sr + 127) / 128 * ((sc + 127) / 128) * 4, llc: llcBytes) {
            x, q, s in
            var p = ck_quant_params(format: CK_FP8_E4M3FN, scale_format: CK_SCALE_F32, scaling: CK_SCALING_DIVIDE)
            precondition(ck_quant_per_block(x, CK_DTYPE_F32, sr, sc, sc, 128, &p, q, sc, s, (sc + 127) / 128) == CK_OK)
        })
        cases.append(operation("per_channel_128x1_t_e4m3", size, "f32", rows: sr, cols: sc, input: 4, output: 1, scaleBytes: sc * ((sr + 127) / 128) * 4, llc: llcBytes) {
            x, q, s in
            var p = ck_quant_params(format: CK_FP8_E4M3FN, scale_format: CK_SCALE_F32, scaling: CK_SCALING_DIVIDE)
            precondition(ck_quant_per_channel_transposed(x, CK_DTYPE_F32, sr, sc, sc, 128, &p, q, sr, s, (sr + 127) / 128) == CK_OK)
        })
        cases.append(operation("bf16_encode", size, "f32", rows: sr, cols: sc, input: 4, output: 2, scaleBytes: 0, llc: llcBytes) {
            x, y, _ in
            precondition(ck_cast_f32_to_bf16(x.assumingMemoryBound(to: Float.self), y.assumingMemoryBound(to: UInt16.self), sr * sc) == CK_OK)
        })
    }
    return cases
}

private enum Size {
    case dram, l2
    var label: String { self == .dram ? "64M" : "L2" }
    /// [tokens, hidden] for per-token layouts, [N, K] for square ones.
    var tokenShape: (Int, Int) { self == .dram ? (16384, 4096) : (256, 2048) }
    var squareShape: (Int, Int) { self == .dram ? (8192, 8192) : (512, 1024) }
}

private func quantPerToken(_ x: UnsafeMutableRawPointer, _ t: ck_dtype, _ r: Int, _ c: Int,
                           _ q: UnsafeMutableRawPointer, _ s: UnsafeMutableRawPointer) {
    var p = ck_quant_params(format: CK_FP8_E4M3FN, scale_format: CK_SCALE_F32, scaling: CK_SCALING_DIVIDE)
    precondition(ck_quant_per_token(x, t, r, c, c, 128, &p, q.assumingMemoryBound(to: UInt8.self), c, s, c / 128) == CK_OK)
}

/// The input values of a case.
private enum InputData {
    /// Magnitudes spread evenly over 2^-8 ... 2^7, so nearly every 128-group has elements that scale into
    /// E4M3's subnormal range.
    case wideRange
    /// Bell-shaped values, as a trained layer's activations (`_bell` cases): under 1 % of the groups reach the
    /// subnormal range.
    case bellShaped
}

/// A case over one input and one output of `rows * cols` elements (bytes per element given) and a scale array
/// of `scaleBytes`. The input holds deterministic floats (`data`), or codes quantized from them.
/// DRAM cases rotate through enough buffer sets to exceed twice the last-level cache.
private func operation(
    _ name: String, _ size: Size, _ dtype: String, rows: Int, cols: Int, input: Int, output: Int, scaleBytes: Int, llc: Int,
    data: InputData = .wideRange, _ call: @escaping (UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Void
) -> BenchCase {
    let n = rows * cols
    let bytes = n * input + n * output + scaleBytes
    return BenchCase(
        suite: "quant", name: "\(name)_\(size.label)", dtype: dtype, shape: [("rows", rows), ("cols", cols)],
        work: Work(elements: n, bytes: bytes, flops: nil), bound: size == .dram ? .dram : .cache,
        impls: ["moekit", "scalar"],
        prepare: {
            let sets = size == .l2 ? 1 : rotationSets(bytes: bytes, llc: llc)
            let buffers = (0..<sets).map { _ -> (Allocation, Allocation, Allocation) in
                let x = Allocation(bytes: n * input), y = Allocation(bytes: n * output)
                let s = Allocation(bytes: max(64, scaleBytes))
                let floats = Allocation(bytes: n * 4)
                switch data {
                case .wideRange: floats.fillFloats(count: n)
                case .bellShaped: floats.fillBellShaped(count: n, seed: 1)
                }
                switch input {
                case 4: memcpy(x.raw, floats.raw, n * 4)
                case 2: precondition(ck_cast_f32_to_bf16(floats.pointer(Float.self), x.pointer(UInt16.self), n) == CK_OK)
                default: quantPerToken(floats.raw, CK_DTYPE_F32, rows, cols, x.raw, s.raw) // codes and their scales
                }
                return (x, y, s)
            }
            return { _ in
                var next = 0
                return {
                    let (x, y, s) = buffers[next]
                    next = (next + 1) % sets
                    call(x.raw, y.raw, s.raw)
                }
            }
        })
}

import Baselines
import CKernels
import MoEKit

/// Suite `grouped_gemm`: MoE expert GEMMs of real models, MoEKit's grouped call vs one OpenBLAS SGEMM per
/// expert (`openblas-loop`, same thread count) and, where it finishes in reasonable time, the scalar path; weight-only
/// FP8 decode vs MoEKit's own BF16 decode of the same layout in the same order (`moekit-bf16`).
/// Routing is top-6, uniform or Zipf(1.1) over experts. Cases of up to 256 tokens (decode and a small prefill) whose
/// weights total less than twice the last-level cache rotate through enough copies of them that every call
/// streams its weights from DRAM, as a model's layers would.
func gemmSuite(llcBytes: Int) -> [BenchCase] {
    let v2lite = ExpertShape(name: "v2lite", experts: 64, k: 2048, n: 1408)
    let v3 = ExpertShape(name: "v3", experts: 16, k: 7168, n: 2048)
    var cases: [BenchCase] = []
    for shape in [v2lite, v3] {
        for tokens in [16, 256, 4096] {
            // V3 at T = 4096 takes seconds per call: uniform routing only, to keep the default run to minutes
            for routing in [Routing.uniform, .zipf] where shape.name == "v2lite" || tokens < 4096 || routing == .uniform {
                cases.append(gemmCase(shape, llc: llcBytes, tokens: tokens, routing: routing, op: .forward))
            }
        }
        for tokens in [256, 4096] { // training's backward passes
            for op in [GemmOp.dgrad, .wgrad] {
                cases.append(gemmCase(shape, llc: llcBytes, tokens: tokens, routing: .uniform, op: op))
            }
        }
    }
    cases.append(gemmCase(v2lite, llc: llcBytes, tokens: 4096, routing: .uniform, op: .wgrad, precision: .fp8))
    for precision in [Precision.bf16, .fp8, .w8] {
        cases.append(gemmCase(v2lite, llc: llcBytes, tokens: 4096, routing: .uniform, op: .forward, precision: precision))
    }
    for precision in [Precision.bf16, .w8] { // decode proper: ~1.5 tokens per expert
        cases.append(gemmCase(v2lite, llc: llcBytes, tokens: 16, routing: .uniform, op: .forward, precision: precision))
    }
    for precision in [Precision.bf16, .fp8, .w8] { // a small prefill: ~24 tokens per expert
        cases.append(gemmCase(v2lite, llc: llcBytes, tokens: 256, routing: .uniform, op: .forward, precision: precision))
    }
    // the same with BF16 dot products (Runtime.withBF16DotProducts: vdpbf16ps at avx512bf16 and above, the canonical
    // order below)
    for tokens in [16, 256, 4096] {
        for precision in [Precision.bf16, .fp8, .w8] where tokens > 16 || precision != .fp8 {
            cases.append(gemmCase(v2lite, llc: llcBytes, tokens: tokens, routing: .uniform, op: .forward,
                                  precision: precision, dot: true))
        }
    }
    cases.append(gemmCase(v2lite, llc: llcBytes, tokens: 256, routing: .uniform, op: .contiguous))
    for dot in [false, true] {
        for precision in [Precision.bf16, .w8] {
            cases.append(gemmCase(v3, llc: llcBytes, tokens: 16, routing: .uniform, op: .forward, precision: precision,
                                  dot: dot))
        }
    }
    cases.append(gemmCase(v3, llc: llcBytes, tokens: 16, routing: .uniform, op: .forwardKN))
    // weights packed once at load time (CK_WEIGHTS_PACKED)
    for tokens in [16, 256, 4096] {
        cases.append(gemmCase(v2lite, llc: llcBytes, tokens: tokens, routing: .uniform, op: .forwardPacked))
    }
    for shape in [v2lite, v3] {
        for precision in [Precision.bf16, .w8] {
            cases.append(gemmCase(shape, llc: llcBytes, tokens: 16, routing: .uniform, op: .forwardPacked, precision: precision))
        }
    }
    for precision in [Precision.bf16, .fp8, .w8] {
        cases.append(gemmCase(v2lite, llc: llcBytes, tokens: 256, routing: .uniform, op: .forwardPacked, precision: precision))
    }
    for shape in [v2lite, v3] { // packed decode under BF16 dot products
        for precision in [Precision.bf16, .w8] {
            cases.append(gemmCase(shape, llc: llcBytes, tokens: 16, routing: .uniform, op: .forwardPacked,
                                  precision: precision, dot: true))
        }
    }
    cases.append(gemmCase(v3, llc: llcBytes, tokens: 256, routing: .uniform, op: .forwardPacked))
    return cases
}

/// Operand types of a case: x, weights and y.
enum Precision: String {
    /// f32 x f32 -> f32
    case f32
    /// bf16 x bf16 -> bf16
    case bf16
    /// e4m3 (1x128 scales) x e4m3 (128x128 scales) -> bf16
    case fp8
    /// bf16 x e4m3 (128x128 scales) -> bf16: weight-only FP8
    case w8

    var x: ck_dtype { self == .f32 ? CK_DTYPE_F32 : self == .fp8 ? CK_DTYPE_E4M3FN : CK_DTYPE_BF16 }
    var w: ck_dtype { self == .f32 ? CK_DTYPE_F32 : self == .bf16 ? CK_DTYPE_BF16 : CK_DTYPE_E4M3FN }
    var y: ck_dtype { self == .f32 ? CK_DTYPE_F32 : CK_DTYPE_BF16 }
    static func size(_ t: ck_dtype) -> Int { t == CK_DTYPE_F32 ? 4 : t == CK_DTYPE_BF16 ? 2 : 1 }
}

struct ExpertShape {
    var name: String
    var experts, k, n: Int
}

enum Routing: String {
    case uniform, zipf

    /// Rows per expert for `tokens` tokens each sent to `topk` distinct experts (deterministic).
    func groupSizes(tokens: Int, experts: Int, topk: Int = 6) -> [Int64] {
        var rng: UInt64 = 0x5EED_0000 &+ UInt64(tokens)
        func next() -> Double {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Double(rng >> 11) / Double(1 << 53)
        }
        let weights = (0..<experts).map { self == .uniform ? 1.0 : 1.0 / pow(Double($0 + 1), 1.1) }
        var sizes = [Int64](repeating: 0, count: experts)
        for _ in 0..<tokens {
            var chosen = Set<Int>()
            while chosen.count < topk { // weighted sampling without replacement
                var u = next() * (0..<experts).filter { !chosen.contains($0) }.reduce(0) { $0 + weights[$1] }
                for e in 0..<experts where !chosen.contains(e) {
                    u -= weights[e]
                    if u <= 0 { chosen.insert(e); break }
                }
                if u > 0 { chosen.insert((0..<experts).last { !chosen.contains($0) }!) }
            }
            for e in chosen { sizes[e] += 1 }
        }
        return sizes
    }
}

private func pow(_ a: Double, _ b: Double) -> Double { Glibc.pow(a, b) }

enum GemmOp: String {
    /// y = x . w^T with the checkpoint's [N, K] weights
    case forward
    /// y = x . w with the weights stored [K, N] (an inference layout: one relayout at load time)
    case forwardKN = "forward_kn"
    /// forward with the weights packed once at load time (CK_WEIGHTS_PACKED; the baseline reads them [N, K])
    case forwardPacked = "forward_packed"
    /// forward in DeepGEMM's contiguous layout: each expert's rows padded to a multiple of 128 with rows of
    /// expert -1, which are written as empty sums
    case contiguous = "forward_contiguous"
    case dgrad, wgrad
}

/// DeepGEMM's contiguous layout of `sizes`: each expert's rows, then -1 up to the next multiple of 128.
private func contiguousIndices(_ sizes: [Int64]) -> [Int32] {
    sizes.enumerated().flatMap { g, size in
        [Int32](repeating: Int32(g), count: Int(size)) + [Int32](repeating: -1, count: (128 - Int(size) % 128) % 128)
    }
}

import Glibc

/// A case; `dot`: its calls run under BF16 dot products (`ck_set_bf16_dot_products`), tagged `dot` (`bf16dot`).
private func gemmCase(_ shape: ExpertShape, llc: Int, tokens: Int, routing: Routing, op: GemmOp,
                      precision: Precision = .f32, dot: Bool = false) -> BenchCase {
    let sizes = routing.groupSizes(tokens: tokens, experts: shape.experts)
    let rows = Int(sizes.reduce(0, +)), touched = sizes.filter { $0 > 0 }.count
    let (e, k, n) = (shape.experts, shape.k, shape.n)
    let (xs, ws, ys) = (Precision.size(precision.x), Precision.size(precision.w), Precision.size(precision.y))
    let flops = 2 * rows * k * n
    precondition(op != .contiguous || precision == .f32, "the contiguous layout runs in f32")
    let indices = op == .contiguous ? contiguousIndices(sizes) : [], slots = op == .contiguous ? indices.count : rows
    // Bytes: the touched experts' weights (or weight gradients) + activations in and out (padding rows out too, for
    // the OpenBLAS loop as well, which leaves them alone).
    let bytes = op == .wgrad ? touched * k * n * ys + rows * (k + n) * xs
                             : touched * k * n * ws + rows * k * xs + slots * n * ys
    let decode = tokens <= 16
    let weightBytes = e * k * n * ws, copies = tokens <= 256 ? rotationSets(bytes: weightBytes, llc: llc) : 1
    // weight-only FP8 decode's baseline: the same call on BF16 weights, which read twice the bytes
    let bf16Baseline = precision == .w8 && decode
    let baselines = bf16Baseline ? ["moekit-bf16"] : precision != .f32 ? []
        : decode && k * n < 4 << 20 ? ["openblas-loop", "scalar"] : ["openblas-loop"]
    let dtype = precision.rawValue + (dot ? "dot" : ""), tag = precision == .f32 ? "" : "_" + dtype
    return BenchCase(
        suite: "grouped_gemm", name: "\(shape.name)_\(op.rawValue)\(tag)_T\(tokens)_\(routing.rawValue)",
        dtype: dtype,
        shape: [("experts", e), ("tokens", tokens), ("topk", 6), ("k", k), ("n", n)],
        work: Work(elements: op == .wgrad ? e * k * n : op == .dgrad ? rows * k : rows * n, bytes: bytes, flops: flops),
        bound: decode ? .dramRead : precision == .f32 ? .compute : .computeBF16,
        impls: ["moekit"] + baselines,
        implWork: bf16Baseline ? ["moekit-bf16": Work(elements: rows * n, bytes: bytes + touched * k * n, flops: flops)] : [:],
        prepare: {
            let weights = Allocation(bytes: e * k * n * 4)
            let x = Allocation(bytes: slots * max(k, n) * 4), y = Allocation(bytes: max(slots * max(k, n), e * k * n) * 4)
            let wScales = Allocation(bytes: e * ((n + 127) / 128) * ((k + 127) / 128) * 4)
            let xScales = Allocation(bytes: rows * ((k + 127) / 128) * 4)
            // FP8 wgrad: x and dy quantized per channel over 128 tokens, each expert on its own, transposed
            let blocks = sizes.reduce(0) { $0 + (Int($1) + 127) / 128 }
            let dy = Allocation(bytes: op == .wgrad && precision == .fp8 ? rows * n : 0)
            let dyScales = Allocation(bytes: op == .wgrad && precision == .fp8 ? n * blocks * 4 : 0)
            let wgradScales = Allocation(bytes: op == .wgrad && precision == .fp8 ? k * blocks * 4 : 0)
            if precision == .f32 {
                weights.fillFloats(count: e * k * n)
                x.fillFloats(count: slots * max(k, n), seed: 7)
            } else if op == .wgrad {
                precondition(precision == .fp8, "wgrad runs in f32 or fp8")
                encodeTransposed(sizes: sizes, cols: k, seed: 7, into: x, scales: wgradScales)
                encodeTransposed(sizes: sizes, cols: n, seed: 9, into: dy, scales: dyScales)
            } else { // what a model holds: bell-shaped values rounded to BF16 or quantized to E4M3
                encode(rows: e * n, cols: k, seed: 1, as: precision.w, into: weights, scales: wScales, block: 128)
                encode(rows: rows, cols: k, seed: 7, as: precision.x, into: x, scales: xScales, block: 1)
            }
            // `w` ([E, n, k] of `type`) laid out as the case's calls read it, and copies of it to rotate through
            func sets(_ w: Allocation, _ type: ck_dtype) -> [Allocation] {
                let ours = op == .forwardPacked ? packed(w, type: type, shape) : w, size = e * k * n * Precision.size(type)
                return [ours] + (1..<copies).map { _ in
                    let copy = Allocation(bytes: size)
                    memcpy(copy.raw, ours.raw, size)
                    return copy
                }
            }
            let weightSets = sets(weights, precision.w)
            let bf16Sets: [Allocation] = bf16Baseline ? {
                let w = Allocation(bytes: e * k * n * 2)
                encode(rows: e * n, cols: k, seed: 1, as: CK_DTYPE_BF16, into: w, scales: wScales, block: 128)
                return sets(w, CK_DTYPE_BF16)
            }() : []
            let xp = UnsafeRawPointer(x.raw), yp = y.raw
            let scales = precision.w == CK_DTYPE_E4M3FN ? UnsafePointer(wScales.pointer(Float.self)) : nil
            let xs = precision.x == CK_DTYPE_E4M3FN ? UnsafePointer(xScales.pointer(Float.self)) : nil
            let keep = weightSets + bf16Sets + [x, y, wScales, xScales, dy, dyScales, wgradScales] // the runners hold them alive
            return { impl in
                _ = keep
                if impl == "openblas-loop" {
                    return {
                        baseline_openblas_threads(Int32(Runtime.threadCount))
                        let (xf, wf, yf) = (x.pointer(Float.self), weights.pointer(Float.self), y.pointer(Float.self))
                        sizes.withUnsafeBufferPointer { g in
                            switch op {
                            case .forward, .forwardPacked, .contiguous: baseline_openblas_m_grouped(xf, k, g.baseAddress, e, wf, 1, n, yf)
                            case .forwardKN: baseline_openblas_m_grouped(xf, k, g.baseAddress, e, wf, 0, n, yf)
                            case .dgrad: baseline_openblas_m_grouped(xf, n, g.baseAddress, e, wf, 0, k, yf)
                            case .wgrad: baseline_openblas_k_grouped(xf, k, g.baseAddress, e, xf, n, yf)
                            }
                        }
                    }
                }
                // MoEKit's call, or its BF16 decode (moekit-bf16: BF16 weights, no scales)
                let (sets, wt, ws) = impl == "moekit-bf16" ? (bf16Sets, CK_DTYPE_BF16, nil) : (weightSets, precision.w, scales)
                var next = 0
                return {
                    let w = UnsafeRawPointer(sets[next].raw)
                    next = (next + 1) % sets.count
                    let (xt, yt) = (precision.x, precision.y)
                    ck_set_bf16_dot_products(dot) // this thread's calls only
                    defer { ck_set_bf16_dot_products(false) }
                    let status = sizes.withUnsafeBufferPointer { g in
                        switch op {
                        case .forward: // y [rows, n] = x [rows, k] . w[g]^T, w [E, n, k]
                            return ck_gemm_m_grouped(xp, xt, xs, rows, k, k, g.baseAddress, e, w, wt, ws,
                                                     CK_WEIGHTS_NK, n, n * k, 0, yp, yt, n)
                        case .contiguous: // the same, each row's expert in indices (-1: padding)
                            return indices.withUnsafeBufferPointer { m in
                                ck_gemm_m_grouped_contiguous(xp, xt, xs, slots, k, k, m.baseAddress, e, w, wt, ws,
                                                             CK_WEIGHTS_NK, n, n * k, 0, yp, yt, n)
                            }
                        case .forwardPacked: // the same, w packed
                            return ck_gemm_m_grouped(xp, xt, xs, rows, k, k, g.baseAddress, e, w, wt, ws,
                                                     CK_WEIGHTS_PACKED, n, n * k, 0, yp, yt, n)
                        case .forwardKN: // y [rows, n] = x [rows, k] . w[g], w [E, k, n]
                            return ck_gemm_m_grouped(xp, xt, xs, rows, k, k, g.baseAddress, e, w, wt, ws,
                                                     CK_WEIGHTS_KN, n, n * k, 0, yp, yt, n)
                        case .dgrad: // dx [rows, k] = dy [rows, n] . w[g], w [E, n, k] read as [K' = n, N' = k]
                            return ck_gemm_m_grouped(xp, xt, xs, rows, n, n, g.baseAddress, e, w, wt, ws,
                                                     CK_WEIGHTS_KN, k, n * k, 0, yp, yt, k)
                        case .wgrad where precision == .fp8: // dw [E, k, n] = (x^T)_g . (dy^T)_g^T
                            return ck_gemm_k_grouped_fp8(x.pointer(UInt8.self), wgradScales.pointer(Float.self), rows, k,
                                                         rows, g.baseAddress, e, dy.pointer(UInt8.self),
                                                         dyScales.pointer(Float.self), n, rows, 0, yp, yt, CK_WEIGHTS_KN, k * n)
                        case .wgrad: // dw [E, k, n] = x_g^T . dy_g (dy: the same buffer, read as [rows, n])
                            return ck_gemm_k_grouped(xp, xt, rows, k, k, g.baseAddress, e, xp, xt, n, n, 0, yp, yt,
                                                     CK_WEIGHTS_KN, k * n)
                        }
                    }
                    precondition(status == CK_OK)
                }
            }
        })
}

/// `weights` ([E, n, k] of `type`) packed (CK_WEIGHTS_PACKED); n is a multiple of 64, so the packed experts are as
/// large and as far apart.
private func packed(_ weights: Allocation, type: ck_dtype, _ shape: ExpertShape) -> Allocation {
    precondition(shape.n % Int(CK_PACKED_COLUMNS) == 0, "packed experts are n x k")
    let (e, k, n) = (shape.experts, shape.k, shape.n), out = Allocation(bytes: e * n * k * Precision.size(type))
    let status = ck_gemm_pack_weights(weights.raw, type, CK_WEIGHTS_NK, e, n, k, n * k, out.raw, n * k)
    precondition(status == CK_OK)
    return out
}

/// Fills `codes` with bell-shaped [rows, cols] values quantized per channel over 128 tokens and transposed
/// ([cols, rows] E4M3), each expert's rows (`sizes`) on their own: scales [cols, S], S = the experts' blocks.
private func encodeTransposed(sizes: [Int64], cols: Int, seed: UInt64, into codes: Allocation, scales: Allocation) {
    let rows = Int(sizes.reduce(0, +)), blocks = sizes.reduce(0) { $0 + (Int($1) + 127) / 128 }
    let values = Allocation(bytes: rows * cols * 4), p = values.pointer(Float.self)
    values.fillBellShaped(count: rows * cols, seed: seed)
    var params = ck_quant_params(format: CK_FP8_E4M3FN, scale_format: CK_SCALE_F32, scaling: CK_SCALING_DIVIDE)
    var row = 0, first = 0
    for size in sizes.map({ Int($0) }) where size > 0 {
        let status = ck_quant_per_channel_transposed(p + row * cols, CK_DTYPE_F32, size, cols, cols, 128, &params,
                                                     codes.pointer(UInt8.self) + row, rows,
                                                     scales.pointer(Float.self) + first, blocks)
        precondition(status == CK_OK)
        row += size
        first += (size + 127) / 128
    }
}

/// Fills `dst` with a [rows, cols] matrix of bell-shaped values encoded as `type`: BF16 by rounding, E4M3 quantized in
/// `block` x 128 tiles (1: per token, 128: per weight block) with FP32 scales into `scales`.
private func encode(rows: Int, cols: Int, seed: UInt64, as type: ck_dtype, into dst: Allocation, scales: Allocation, block: Int) {
    let values = Allocation(bytes: rows * cols * 4), p = values.pointer(Float.self)
    values.fillBellShaped(count: rows * cols, seed: seed)
    var params = ck_quant_params(format: CK_FP8_E4M3FN, scale_format: CK_SCALE_F32, scaling: CK_SCALING_DIVIDE)
    let status: ck_status
    switch type {
    case CK_DTYPE_BF16: status = ck_cast_f32_to_bf16(p, dst.pointer(UInt16.self), rows * cols)
    case CK_DTYPE_E4M3FN where block == 1:
        status = ck_quant_per_token(p, CK_DTYPE_F32, rows, cols, cols, 128, &params, dst.pointer(UInt8.self), cols,
                                    scales.raw, (cols + 127) / 128)
    case CK_DTYPE_E4M3FN:
        status = ck_quant_per_block(p, CK_DTYPE_F32, rows, cols, cols, block, &params, dst.pointer(UInt8.self), cols,
                                    scales.raw, (cols + 127) / 128)
    default: preconditionFailure("f32 operands are filled directly")
    }
    precondition(status == CK_OK)
}

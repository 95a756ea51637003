import Baselines
import CKernels
import MoEKit

/// Suite `grouped_gemm`: MoE expert GEMMs of real models, MoEKit's grouped call vs one OpenBLAS SGEMM per
/// expert (`openblas-loop`, same thread count) and, where it finishes in reasonable time, the scalar path.
/// Routing is top-6, uniform or Zipf(1.1) over experts.
func gemmSuite() -> [BenchCase] {
    let v2lite = ExpertShape(name: "v2lite", experts: 64, k: 2048, n: 1408)
    let v3 = ExpertShape(name: "v3", experts: 16, k: 7168, n: 2048)
    var cases: [BenchCase] = []
    for tokens in [16, 256, 4096] {
        for routing in [Routing.uniform, .zipf] {
            cases.append(gemmCase(v2lite, tokens: tokens, routing: routing, op: .forward))
        }
    }
    cases.append(gemmCase(v2lite, tokens: 4096, routing: .uniform, op: .dgrad))
    cases.append(gemmCase(v2lite, tokens: 4096, routing: .uniform, op: .wgrad))
    for precision in [Precision.bf16, .fp8, .w8] {
        cases.append(gemmCase(v2lite, tokens: 4096, routing: .uniform, op: .forward, precision: precision))
    }
    for tokens in [16, 256] { cases.append(gemmCase(v3, tokens: tokens, routing: .uniform, op: .forward)) }
    for precision in [Precision.bf16, .w8] {
        cases.append(gemmCase(v3, tokens: 16, routing: .uniform, op: .forward, precision: precision))
    }
    cases.append(gemmCase(v3, tokens: 16, routing: .uniform, op: .forwardKN))
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
    case dgrad, wgrad
}

import Glibc

private func gemmCase(_ shape: ExpertShape, tokens: Int, routing: Routing, op: GemmOp,
                      precision: Precision = .f32) -> BenchCase {
    let sizes = routing.groupSizes(tokens: tokens, experts: shape.experts)
    let rows = Int(sizes.reduce(0, +)), touched = sizes.filter { $0 > 0 }.count
    let (e, k, n) = (shape.experts, shape.k, shape.n)
    let (xs, ws, ys) = (Precision.size(precision.x), Precision.size(precision.w), Precision.size(precision.y))
    let flops = 2 * rows * k * n
    // Bytes: the touched experts' weights (or weight gradients) + activations in and out.
    let bytes = touched * k * n * ws + rows * k * xs + rows * n * ys
    let decode = tokens <= 16
    let baselines = precision != .f32 ? [] : decode && k * n < 4 << 20 ? ["openblas-loop", "scalar"] : ["openblas-loop"]
    let tag = precision == .f32 ? "" : "_" + precision.rawValue
    return BenchCase(
        suite: "grouped_gemm", name: "\(shape.name)_\(op.rawValue)\(tag)_T\(tokens)_\(routing.rawValue)",
        dtype: precision.rawValue,
        shape: [("experts", e), ("tokens", tokens), ("topk", 6), ("k", k), ("n", n)],
        work: Work(elements: rows * n, bytes: bytes, flops: flops),
        bound: decode ? .dramRead : precision == .f32 ? .compute : .computeBF16,
        impls: ["moekit"] + baselines,
        prepare: {
            let weights = Allocation(bytes: e * k * n * 4)
            weights.fillFloats(count: e * k * n)
            let x = Allocation(bytes: rows * max(k, n) * 4), y = Allocation(bytes: max(rows * max(k, n), e * k * n) * 4)
            x.fillFloats(count: rows * max(k, n), seed: 7)
            // FP8 operands: the low byte of each float's bits with the top exponent bit cleared (no NaN codes),
            // and scales near 1.
            if precision.w == CK_DTYPE_E4M3FN { fp8Codes(weights, count: e * k * n) }
            if precision.x == CK_DTYPE_E4M3FN { fp8Codes(x, count: rows * k) }
            let scales = Allocation(bytes: max(e * ((k + 127) / 128) * ((n + 127) / 128), rows * ((k + 127) / 128)) * 4)
            scales.fillFloats(count: max(e * ((k + 127) / 128) * ((n + 127) / 128), rows * ((k + 127) / 128)), seed: 3)
            let w = UnsafeRawPointer(weights.raw), xp = UnsafeRawPointer(x.raw), yp = y.raw
            let sp = scales.pointer(Float.self)
            let (xScales, wScales) = (precision.x == CK_DTYPE_E4M3FN ? sp : nil, precision.w == CK_DTYPE_E4M3FN ? sp : nil)
            let keep = [weights, x, y, scales] // the runners below hold the buffers alive
            return { impl in
                _ = keep
                if impl == "openblas-loop" {
                    return {
                        baseline_openblas_threads(Int32(Runtime.threadCount))
                        let (xf, wf, yf) = (x.pointer(Float.self), weights.pointer(Float.self), y.pointer(Float.self))
                        sizes.withUnsafeBufferPointer { g in
                            switch op {
                            case .forward: baseline_openblas_m_grouped(xf, k, g.baseAddress, e, wf, 1, n, yf)
                            case .forwardKN: baseline_openblas_m_grouped(xf, k, g.baseAddress, e, wf, 0, n, yf)
                            case .dgrad: baseline_openblas_m_grouped(xf, n, g.baseAddress, e, wf, 0, k, yf)
                            case .wgrad: baseline_openblas_k_grouped(xf, k, g.baseAddress, e, xf, n, yf)
                            }
                        }
                    }
                }
                return {
                    let (xt, wt, yt) = (precision.x, precision.w, precision.y)
                    let status = sizes.withUnsafeBufferPointer { g in
                        switch op {
                        case .forward: // y [rows, n] = x [rows, k] . w[g]^T, w [E, n, k]
                            return ck_gemm_m_grouped(xp, xt, xScales, rows, k, k, g.baseAddress, e, w, wt, wScales,
                                                     CK_WEIGHTS_NK, n, n * k, 0, yp, yt, n)
                        case .forwardKN: // y [rows, n] = x [rows, k] . w[g], w [E, k, n]
                            return ck_gemm_m_grouped(xp, xt, xScales, rows, k, k, g.baseAddress, e, w, wt, wScales,
                                                     CK_WEIGHTS_KN, n, n * k, 0, yp, yt, n)
                        case .dgrad: // dx [rows, k] = dy [rows, n] . w[g], w [E, n, k] read as [K' = n, N' = k]
                            return ck_gemm_m_grouped(xp, xt, xScales, rows, n, n, g.baseAddress, e, w, wt, wScales,
                                                     CK_WEIGHTS_KN, k, n * k, 0, yp, yt, k)
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

/// Rewrites the first `count` bytes of `a` as E4M3 codes without NaN (bit 6 cleared: exponents below 8).
private func fp8Codes(_ a: Allocation, count: Int) {
    let p = a.pointer(UInt8.self)
    for i in 0..<count { p[i] = UInt8(truncatingIfNeeded: (i &* 0x9E37) >> 3) & 0xBF }
}

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
    for tokens in [16, 256] { cases.append(gemmCase(v3, tokens: tokens, routing: .uniform, op: .forward)) }
    return cases
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
    case forward, dgrad, wgrad
}

import Glibc

private func gemmCase(_ shape: ExpertShape, tokens: Int, routing: Routing, op: GemmOp) -> BenchCase {
    let sizes = routing.groupSizes(tokens: tokens, experts: shape.experts)
    let rows = Int(sizes.reduce(0, +)), touched = sizes.filter { $0 > 0 }.count
    let (e, k, n) = (shape.experts, shape.k, shape.n)
    let flops = 2 * rows * k * n
    // Bytes: the touched experts' weights (or weight gradients) + activations in and out.
    let bytes = 4 * (touched * k * n + rows * k + rows * n)
    let decode = tokens <= 16
    return BenchCase(
        suite: "grouped_gemm", name: "\(shape.name)_\(op.rawValue)_T\(tokens)_\(routing.rawValue)", dtype: "f32",
        shape: [("experts", e), ("tokens", tokens), ("topk", 6), ("k", k), ("n", n)],
        work: Work(elements: rows * n, bytes: bytes, flops: flops), bound: decode ? .dramRead : .compute,
        impls: decode && shape.k * shape.n < 4 << 20 ? ["moekit", "openblas-loop", "scalar"] : ["moekit", "openblas-loop"],
        prepare: {
            let weights = Allocation(bytes: e * k * n * 4)
            weights.fillFloats(count: e * k * n)
            let x = Allocation(bytes: rows * max(k, n) * 4), y = Allocation(bytes: max(rows * max(k, n), e * k * n) * 4)
            x.fillFloats(count: rows * max(k, n), seed: 7)
            let w = weights.pointer(Float.self), xp = x.pointer(Float.self), yp = y.pointer(Float.self)
            let keep = [weights, x, y] // the runners below hold the buffers alive
            return { impl in
                _ = keep
                if impl == "openblas-loop" {
                    return {
                        baseline_openblas_threads(Int32(Runtime.threadCount))
                        sizes.withUnsafeBufferPointer { g in
                            switch op {
                            case .forward: baseline_openblas_m_grouped(xp, k, g.baseAddress, e, w, 1, n, yp)
                            case .dgrad: baseline_openblas_m_grouped(xp, n, g.baseAddress, e, w, 0, k, yp)
                            case .wgrad: baseline_openblas_k_grouped(xp, k, g.baseAddress, e, xp, n, yp)
                            }
                        }
                    }
                }
                return {
                    let status = sizes.withUnsafeBufferPointer { g in
                        switch op {
                        case .forward: // y [rows, n] = x [rows, k] . w[g]^T, w [E, n, k]
                            return ck_gemm_m_grouped_f32(xp, rows, k, k, g.baseAddress, e, w, CK_WEIGHTS_NK, n, n * k, 0, yp, n)
                        case .dgrad: // dx [rows, k] = dy [rows, n] . w[g], w [E, n, k] read as [K' = n, N' = k]
                            return ck_gemm_m_grouped_f32(xp, rows, n, n, g.baseAddress, e, w, CK_WEIGHTS_KN, k, n * k, 0, yp, k)
                        case .wgrad: // dw [E, k, n] = x_g^T . dy_g (dy: the same buffer, read as [rows, n])
                            return ck_gemm_k_grouped_f32(xp, rows, k, k, g.baseAddress, e, xp, n, n, 0, yp, CK_WEIGHTS_KN, k * n)
                        }
                    }
                    precondition(status == CK_OK)
                }
            }
        })
}

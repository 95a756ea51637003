import Baselines
import Glibc
import MoEKit

/// The human-readable table and the JSON report (a stable contract: later suites append to `results`).
enum Report {
    static func header(_ m: Machine) -> String {
        let bf16 = m.peakBF16GFlops.map { fixed($0, 1) + " GFLOP/s" } ?? "n/a (no AVX512_BF16 at this ISA)"
        return """
            MoEKit benchmarks
              cpu        \(m.cpu)
              isa        \(m.isa) (detected \(Runtime.detectedISA)), executor \(Runtime.executor), threads \(m.threads)
              peak f32   \(fixed(m.peakF32GFlops, 1)) GFLOP/s  (FMA probe, all threads)
              peak bf16  \(bf16)
              dram copy  \(fixed(m.copyGBps, 2)) GB/s  (read + written)
              dram read  \(fixed(m.readGBps, 2)) GB/s
              pages      \(pages(m))
              openblas   \(String(cString: baseline_openblas_core())) kernels (OPENBLAS_CORETYPE=\(String(cString: getenv("OPENBLAS_CORETYPE") ?? strdup("unset"))))
            """
    }

    /// The page size the buffers were asked for, and how much of the DRAM probe's the kernel gave in huge pages.
    static func pages(_ m: Machine) -> String {
        guard Allocation.hugePages else { return "4 KiB (--base-pages)" }
        return "2 MiB asked for buffers of 2 MiB or more (THP \(transparentHugePageMode())): "
            + "\(fixed(m.hugePageShare * 100, 0))% of the DRAM probe's buffers in huge pages"
    }

    static let columns: [(String, Int)] = [
        ("case", 34), ("impl", 8), ("dtype", 5), ("shape", 22), ("thr", 3), ("ms", 9), ("Gelem/s", 8),
        ("GB/s", 8), ("GFLOP/s", 8), ("of peak", 8), ("speedup", 8),
    ]

    static func tableHeader() -> String {
        let line = columns.map { pad($0.0, $0.1) }.joined(separator: " ")
        return line + "\n" + String(repeating: "-", count: line.count)
    }

    /// One row; `speedup` is this row's speed over the named baseline's (`nil` for baselines).
    static func row(_ r: BenchResult, speedup: (Double, String)?) -> String {
        let shape: String = r.shape.map { "\($0.1)" }.joined(separator: "x")
        let gflops: String = r.gflops.map { fixed($0, 1) } ?? "-"
        let peak: String = r.peakFraction.map { fixed($0 * 100, 1) + "%" } ?? "-"
        let ratio: String = speedup.map { fixed($0.0, 2) + "x" } ?? ""
        let cells: [String] = [
            r.suite + "/" + r.name, r.impl, r.dtype, shape, "\(r.threads)", fixed(r.seconds * 1e3, 3), fixed(r.gelems, 2),
            fixed(r.gbps, 2), gflops, peak, ratio,
        ]
        return zip(cells, columns).map { pad($0, $1.1) }.joined(separator: " ")
    }

    static func json(machine m: Machine, results: [BenchResult]) -> String {
        var out = "{\n  \"machine\": {"
        out += "\"cpu\": \(quote(m.cpu)), \"isa\": \(quote(m.isa.description)), \"threads\": \(m.threads), "
        out += "\"peak_f32_gflops\": \(num(m.peakF32GFlops)), \"peak_bf16_gflops\": \(m.peakBF16GFlops.map(num) ?? "null"), "
        out += "\"copy_gbps\": \(num(m.copyGBps)), \"read_gbps\": \(num(m.readGBps)), "
        out += "\"huge_pages\": \(Allocation.hugePages), \"huge_page_share\": \(num(m.hugePageShare))},\n  \"results\": ["
        out += results.map { r in
            let shape = r.shape.map { "\(quote($0.0)): \($0.1)" }.joined(separator: ", ")
            return "\n    {\"suite\": \(quote(r.suite)), \"case\": \(quote(r.name)), \"impl\": \(quote(r.impl)), "
                + "\"dtype\": \(quote(r.dtype)), \"shape\": {\(shape)}, \"threads\": \(r.threads), "
                + "\"seconds\": \(num(r.seconds)), \"gflops\": \(r.gflops.map(num) ?? "null"), \"gbps\": \(num(r.gbps)), "
                + "\"peak_fraction\": \(r.peakFraction.map(num) ?? "null")}"
        }.joined(separator: ",")
        return out + "\n  ]\n}\n"
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([v]) { vsnprintf(&buffer, 64, "%.\(digits)f", $0) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
    private static func num(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
    private static func quote(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

import Glibc

/// A 64-byte aligned allocation for benchmark buffers, freed with its owner. Buffers of 2 MiB or more are asked for
/// transparent huge pages (2 MiB aligned, `madvise(MADV_HUGEPAGE)`), as a runtime that holds an MoE layer's experts
/// would: in 4 KiB pages every page of the weights costs a page walk, which the kernels cannot prefetch past (see
/// the README). `--base-pages` turns this off.
final class Allocation {
    let raw: UnsafeMutableRawPointer
    let bytes: Int

    /// Whether buffers of `hugePage` bytes or more are asked for huge pages (set once, from the options).
    nonisolated(unsafe) static var hugePages = true
    static let hugePage = 2 << 20

    init(bytes: Int) {
        let huge = Self.hugePages && bytes >= Self.hugePage
        let alignment = huge ? Self.hugePage : 64
        let rounded = max(64, (bytes + alignment - 1) / alignment * alignment)
        guard let p = aligned_alloc(alignment, rounded) else { fatalError("cannot allocate \(rounded) bytes") }
        if huge { _ = madvise(p, rounded, MADV_HUGEPAGE) } // a hint: without THP the pages stay 4 KiB
        raw = p
        self.bytes = rounded
        memset(p, 0, rounded) // fault the pages in before timing
    }

    deinit { free(raw) }

    func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> { raw.assumingMemoryBound(to: T.self) }

    /// Fills the buffer with floats of varied magnitude (deterministic).
    func fillFloats(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        let p = pointer(Float.self)
        var s = seed
        for i in 0..<count {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            let mantissa = Float(s >> 40) / Float(1 << 24) * 2 - 1       // [-1, 1)
            let exponent = Float(Int((s >> 8) & 15) - 8)                  // 2^-8 ... 2^7
            p[i] = mantissa * Float(sign: .plus, exponent: Int(exponent), significand: 1)
        }
    }

    /// Fills the buffer with bell-shaped floats: sums of four uniforms (as in a trained layer's weights and
    /// activations: bounded, no outliers).
    func fillBellShaped(count: Int, seed: UInt64) {
        let p = pointer(Float.self)
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<count {
            var sum: Float = -2
            for _ in 0..<4 {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17
                sum += Float(s >> 40) / Float(1 << 24)
            }
            p[i] = sum
        }
    }
}

/// The lines of a small text file (`/proc`, `/sys`), or nil when it cannot be read.
func textLines(ofFile path: String) -> [String]? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var lines: [String] = []
    var buffer = [CChar](repeating: 0, count: 256)
    while fgets(&buffer, 256, f) != nil {
        lines.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return lines
}

/// The process's anonymous memory in transparent huge pages, in bytes (`/proc/self/smaps_rollup`; 0 when unknown).
func anonymousHugePageBytes() -> Int {
    guard let line = textLines(ofFile: "/proc/self/smaps_rollup")?.first(where: { $0.hasPrefix("AnonHugePages:") })
    else { return 0 }
    return (Int(String(line.dropFirst(14)).trimmingCharacters(in: " kB\n")) ?? 0) << 10
}

/// The kernel's transparent huge page setting (the bracketed word of its sysfs file: always, madvise or never).
func transparentHugePageMode() -> String {
    guard let text = textLines(ofFile: "/sys/kernel/mm/transparent_hugepage/enabled")?.first,
          let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]")
    else { return "unknown" }
    return String(text[text.index(after: open)..<close])
}

/// The last-level cache size in bytes (sysfs), or 32 MiB when unknown.
func lastLevelCacheBytes() -> Int {
    var best = 0
    for index in 0..<8 {
        guard let line = textLines(ofFile: "/sys/devices/system/cpu/cpu0/cache/index\(index)/size")?.first else { continue }
        let text = line.trimmingCharacters(in: " \n")
        var digits = Int(text.prefix { $0.isNumber }) ?? 0
        if text.hasSuffix("K") { digits <<= 10 } else if text.hasSuffix("M") { digits <<= 20 }
        best = max(best, digits)
    }
    return best > 0 ? best : 32 << 20
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

/// How many copies of a case's `bytes` to rotate through so that each call finds its data out of the caches:
/// enough to exceed twice the last-level cache (at most 8).
func rotationSets(bytes: Int, llc: Int) -> Int { bytes >= 2 * llc ? 1 : min(8, 2 * llc / max(bytes, 1) + 1) }

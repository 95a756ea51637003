import CKernels

/// Instruction-set levels of MoEKit's kernels, ordered: each level includes the ones below it, except that
/// ``avx512bf16`` (Cooper Lake's features) does not include ``avx512vbmi``.
public enum ISA: Int, CaseIterable, Comparable, Sendable, CustomStringConvertible {
    /// Portable C, always available; the reference every other level matches bit for bit.
    case scalar = 0
    /// AVX2 with FMA and F16C.
    case avx2 = 1
    /// AVX-512 F, BW, DQ and VL.
    case avx512 = 2
    /// AVX-512 plus AVX512_VBMI, whose byte permutes decode FP8 E4M3 weights by table lookups.
    case avx512vbmi = 3
    /// AVX-512 plus AVX512_BF16, whose `vdpbf16ps` runs ``Runtime/withBF16DotProducts(_:)``, without AVX512_VBMI:
    /// what Cooper Lake has.
    case avx512bf16 = 4
    /// AVX-512 plus AVX512_BF16 and AVX512_VBMI: what Zen 4, Sapphire Rapids and later CPUs have.
    case avx512bf16vbmi = 5

    /// Levels order by what they include: scalar < AVX2 < AVX-512 < AVX-512 + VBMI < AVX-512 + BF16 < AVX-512 + BF16
    /// + VBMI, where AVX-512 + BF16 lacks VBMI.
    public static func < (a: ISA, b: ISA) -> Bool { a.rawValue < b.rawValue }

    /// The name `MOEKIT_MAX_ISA` accepts: `scalar`, `avx2`, `avx512`, `avx512vbmi`, `avx512bf16`, `avx512bf16vbmi`.
    public var description: String { String(cString: ck_isa_name(ck_isa(UInt32(rawValue)))) }

    /// Parses a name as `MOEKIT_MAX_ISA` does.
    public init?(name: String) {
        var isa = CK_ISA_SCALAR
        guard ck_isa_from_name(name, &isa) == CK_OK else { return nil }
        self.init(rawValue: Int(isa.rawValue))
    }

    init(_ isa: ck_isa) { self = ISA(rawValue: Int(isa.rawValue)) ?? .scalar }
    var c: ck_isa { ck_isa(UInt32(rawValue)) }
}

/// Process-wide settings of the kernels: instruction set, threads and streaming stores; and the per-thread opt-in to
/// BF16 dot products.
///
/// The detected ISA requires both the CPU's feature bits and the operating system's support for the
/// registers. The active ISA is the lower of the detected one and the cap (``ISA/avx512`` for a cap of
/// ``ISA/avx512vbmi`` on a CPU detected as ``ISA/avx512bf16``), which starts at
/// `MOEKIT_MAX_ISA` (if set) and can be changed with ``setMaxISA(_:)``. The thread count starts at
/// `MOEKIT_NUM_THREADS` (if set) or the number of CPUs available to the process. Each variable is read once, when
/// its setting is first needed (not at all if it was set through the API before); a value MoEKit cannot use is
/// then ignored, with one line on standard error saying so. Results never depend on
/// the process-wide settings: every ISA, thread count and streaming threshold produces the same bits. Only
/// ``withBF16DotProducts(_:)``, at ``ISA/avx512bf16`` and above, trades that for speed.
public enum Runtime {
    /// The highest level this CPU and OS support.
    public static var detectedISA: ISA { ISA(ck_detected_isa()) }
    /// The level kernels run at now.
    public static var activeISA: ISA { ISA(ck_active_isa()) }
    /// The current cap.
    public static var maxISA: ISA { ISA(ck_max_isa()) }
    /// Caps the ISA kernels may use (a cap above ``detectedISA`` means no cap).
    public static func setMaxISA(_ isa: ISA) {
        precondition(ck_set_max_isa(isa.c) == CK_OK)
    }
    /// Every level this machine can run, lowest first: the paths tests must cover here (not ``ISA/avx512vbmi`` on a
    /// CPU detected as ``ISA/avx512bf16``, where a cap there runs ``ISA/avx512``).
    public static var availableISAs: [ISA] { ISA.allCases.filter { ck_isa_supported($0.c) } }

    /// Threads used by parallel kernels.
    public static var threadCount: Int { Int(ck_num_threads()) }
    /// Sets the thread count (1...1024).
    public static func setThreadCount(_ count: Int) throws(MoEKitError) {
        guard (1...1024).contains(count) else {
            throw .invalidValue(argument: "count", reason: "thread count \(count) is outside 1...1024")
        }
        try check(ck_set_num_threads(Int32(count)))
    }
    /// `pthreads` (MoEKit's own pool) or `openmp` (package trait `OpenMP`).
    public static var executor: String { String(cString: ck_executor_name()) }

    /// The size in bytes above which a GEMM's output, written with `beta` 0 along contiguous rows
    /// (`mGrouped`, `mGroupedMasked`, `kGrouped` into `.kn`), goes out with streaming stores past the
    /// caches on x86-64: an output that large cannot stay cached anyway, and streaming stores do not read
    /// each line from memory before writing it. Experts of decode size (at most 8 rows, or 64 with `.nk`
    /// weights and 1 MiB of `x`) write as usual. The casts to `Float` and `BFloat16` and the dequantizers
    /// stream their output when their input and output together pass the threshold: the call's own traffic
    /// would evict the output's first lines before it returns. The bytes written are the same either way.
    /// Starts at the L3 cache's size as the operating system reports it (32 MiB if it reports none).
    public static var streamThreshold: Int {
        let bytes = ck_stream_threshold() // size_t: C's larger values arrive negative
        return bytes < 0 ? Int.max : bytes
    }
    /// Sets ``streamThreshold``: 0 streams every such output, `Int.max` none.
    public static func setStreamThreshold(_ bytes: Int) throws(MoEKitError) {
        guard bytes >= 0 else { throw .invalidValue(argument: "bytes", reason: "threshold \(bytes) is negative") }
        ck_set_stream_threshold(bytes)
    }
    /// The CPU's brand string.
    public static var cpuName: String { String(cString: ck_cpu_name()) }

    /// Whether grouped GEMMs called from this thread on `BFloat16` and E4M3 operands run as BF16 dot products (see
    /// ``withBF16DotProducts(_:)``). Off unless the thread is inside that call.
    public static var bf16DotProducts: Bool { ck_bf16_dot_products() }

    /// Runs `body` with BF16 dot products on for the calling thread, then restores the setting.
    ///
    /// While it is on, the m-grouped GEMMs this thread calls (`mGrouped`, `mGroupedMasked`, the contiguous layout)
    /// whose activations and weights are `BFloat16` or E4M3 codes (BF16 × BF16, weight-only FP8 and FP8 × FP8) run on
    /// AVX512_BF16's `vdpbf16ps` when the active ISA is ``ISA/avx512bf16`` or above (the same bits at both levels;
    /// ``ISA/avx512bf16vbmi`` decodes the decode kernels' E4M3 weights with fewer instructions): two products per lane
    /// per instruction, about twice the FMA units' rate where the CPU runs it at full width. The price is the order:
    /// each output (each 128-wide block's partial sum, with FP8 weights) is summed pair by pair in the instruction's
    /// order (`ck_gemm.h`, "dot-product order"), with subnormal inputs read as zero and subnormal sums flushed to zero,
    /// instead of the canonical chain of fused multiply-adds. The results are still bitwise identical for every
    /// thread count and batch, and within the same error bound for normal inputs, but they are not the other ISAs'
    /// bits. Decode-sized experts run decode kernels in the same order (up to 12 rows with `.kn` and `.packed`
    /// weights, 6 with `.nk` ones, 12 while their x takes at most 1 MiB), which stream the weights once as the
    /// canonical ones do.
    /// Below ``ISA/avx512bf16``, and for `Float` operands, the setting changes nothing.
    /// The setting belongs to the calling thread: other threads' calls keep the canonical order.
    ///
    /// - Parameter body: runs on the calling thread with the setting on.
    /// - Returns: what `body` returns.
    public static func withBF16DotProducts<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let saved = ck_bf16_dot_products()
        ck_set_bf16_dot_products(true)
        defer { ck_set_bf16_dot_products(saved) }
        return try body()
    }
}

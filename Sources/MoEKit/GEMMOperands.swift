import CKernels

/// One GEMM input as the C API sees it: elements of one type, plus block scales for FP8 codes.
struct GEMMOperand {
    let base: UnsafeRawPointer?
    let count: Int
    let type: ck_dtype
    let scales: UnsafePointer<Float>?
    let scaleCount: Int

    /// Calls `body` with a ``KernelFloat`` span as an operand.
    static func with<T: KernelFloat, R>(_ span: Span<T>, _ body: (GEMMOperand) -> R) -> R {
        span.withUnsafeBytes { raw in
            body(GEMMOperand(base: raw.baseAddress, count: span.count, type: T.c, scales: nil, scaleCount: 0))
        }
    }

    /// Calls `body` with E4M3 codes and their scales as an operand.
    static func with<R>(e4m3 codes: Span<UInt8>, scales: Span<Float>, _ body: (GEMMOperand) -> R) -> R {
        codes.withUnsafeBytes { raw in
            scales.withUnsafeBufferPointer { s in
                body(GEMMOperand(base: raw.baseAddress, count: codes.count, type: CK_DTYPE_E4M3FN, scales: s.baseAddress,
                                 scaleCount: s.count))
            }
        }
    }

    var isFP8: Bool { type == CK_DTYPE_E4M3FN }

    /// Checks the elements hold a `[rows, columns]` matrix with row stride `stride`, and for FP8 that the
    /// scales (the argument `scalesName`) hold `needed` floats.
    func require(_ name: String, rows: Int, columns: Int, stride: Int, scales needed: Int = 0,
                 _ scalesName: String = "") throws(MoEKitError) {
        try requireMatrix(name, count: count, rows: rows, columns: columns, stride: stride)
        if isFP8, scaleCount < needed {
            throw .bufferTooSmall(argument: scalesName, required: needed, actual: scaleCount)
        }
    }
}

/// The output of a GEMM: `Float` or ``BFloat16`` elements.
struct GEMMOutput {
    let base: UnsafeMutableRawPointer?
    let count: Int
    let type: ck_dtype

    static func with<T: KernelFloat, R>(_ span: inout MutableSpan<T>, _ body: (GEMMOutput) -> R) -> R {
        let count = span.count
        return span.withUnsafeMutableBytes { raw in body(GEMMOutput(base: raw.baseAddress, count: count, type: T.c)) }
    }
}

/// The number of 128 x 128 scale blocks of one expert's `[rows, columns]` weight.
func scaleGrid(_ rows: Int, _ columns: Int) -> Int { divUp(rows, 128) * divUp(columns, 128) }

func checkedProduct(_ a: Int, _ b: Int, _ name: String) throws(MoEKitError) -> Int {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    if overflow { throw .sizeOverflow(argument: name) }
    return p
}

/// `Int` buffers as the C API's `int64_t` (the same layout on every 64-bit platform Swift supports here).
func int64(_ p: UnsafeBufferPointer<Int>) -> UnsafePointer<Int64>? {
    UnsafeRawPointer(p.baseAddress)?.assumingMemoryBound(to: Int64.self)
}

// Proves the C API's contract (ck_runtime.h): every function validates all arguments first and returns the
// documented status — CK_ERR_NULL_POINTER for a missing buffer of a non-empty tensor, CK_ERR_INVALID_VALUE
// for out-of-range enums and settings, CK_ERR_INVALID_SHAPE for a zero group/block, CK_ERR_INVALID_STRIDE for
// short strides, CK_ERR_SIZE_OVERFLOW for extents past the address space (checked before any access) — with
// ck_last_error_argument naming the argument, writes nothing on failure, accepts NULL for empty tensors, and
// keeps error details per thread.
import CKernels
import Dispatch
import Foundation
import Synchronization
import MoEKit
import TestSupport
import Testing

@Suite("C argument validation", .tags(.validation))
struct CArgumentValidationTests {
    static func expectStatus(_ status: ck_status, _ want: ck_status, _ argument: String, _ context: String = "",
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == want, "\(context): \(String(cString: ck_status_name(status))), expected \(String(cString: ck_status_name(want)))",
                sourceLocation: sourceLocation)
        if want != CK_OK {
            #expect(String(cString: ck_last_error_argument()) == argument, "\(context): argument '\(String(cString: ck_last_error_argument()))'",
                    sourceLocation: sourceLocation)
            #expect(!String(cString: ck_last_error_message()).isEmpty, sourceLocation: sourceLocation)
        }
    }

    static let bad = UInt32(7) // an out-of-range enum value
    static let huge = Int.max / 2 // rows such that (rows − 1) · ld · size overflows

    /// Buffers for x [3, 10] f32, q [3, 10], scales [3, 3] f32 (per token, group 4) and y [3, 10] f32.
    struct Buffers {
        var x = [Float](repeating: 1, count: 30)
        var q = [UInt8](repeating: 0x5A, count: 64)
        var s = [Float](repeating: 99, count: 16)
        var y = [Float](repeating: 99, count: 64)
        func untouched() -> Bool { q.allSatisfy { $0 == 0x5A } && s.allSatisfy { $0 == 99 } && y.allSatisfy { $0 == 99 } }
    }

    @Test("quantizers")
    func quantizers() {
        let p = ck_quant_params(format: CK_FP8_E4M3FN, scale_format: CK_SCALE_F32, scaling: CK_SCALING_DIVIDE)
        typealias Entry = (UnsafeRawPointer?, ck_dtype, Int, Int, Int, Int, UnsafePointer<ck_quant_params>?, UnsafeMutablePointer<UInt8>?, Int,
                           UnsafeMutableRawPointer?, Int) -> ck_status
        let entries: [(String, String, Entry)] = [
            ("per token", "group", { ck_quant_per_token($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) }),
            ("per block", "block", { ck_quant_per_block($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) }),
            ("per channel", "group", { ck_quant_per_channel_transposed($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) }),
        ]
        for (name, groupName, entry) in entries {
            var b = Buffers()
            // per channel: x [3 tokens, 10 channels] -> q [10, 3] (ldq 3), scales [10, 1] (lds 1)
            let (ldq, lds) = name == "per channel" ? (3, 1) : (10, 3)
            b.x.withUnsafeBytes { xb in
                b.q.withUnsafeMutableBufferPointer { qb in
                    b.s.withUnsafeMutableBytes { sb in
                        withUnsafePointer(to: p) { pp in
                            let base = QuantCall(x: xb.baseAddress, params: pp, q: qb.baseAddress, ldq: ldq, s: sb.baseAddress, lds: lds)
                            func run(_ change: (inout QuantCall) -> Void) -> ck_status {
                                var a = base
                                change(&a)
                                return entry(a.x, a.t, a.rows, a.cols, a.ldx, a.group, a.params, a.q, a.ldq, a.s, a.lds)
                            }
                            Self.expectStatus(run { $0.x = nil }, CK_ERR_NULL_POINTER, "x", "\(name) NULL x")
                            Self.expectStatus(run { $0.q = nil }, CK_ERR_NULL_POINTER, "q", "\(name) NULL q")
                            Self.expectStatus(run { $0.s = nil }, CK_ERR_NULL_POINTER, "scales", "\(name) NULL scales")
                            Self.expectStatus(run { $0.params = nil }, CK_ERR_NULL_POINTER, "params", "\(name) NULL params")
                            Self.expectStatus(run { $0.t = ck_dtype(rawValue: Self.bad) }, CK_ERR_INVALID_VALUE, "x_type", "\(name) x_type")
                            for field in ["params.format", "params.scale_format", "params.scaling"] {
                                var badParams = p
                                switch field {
                                case "params.format": badParams.format = ck_fp8_format(rawValue: Self.bad)
                                case "params.scale_format": badParams.scale_format = ck_scale_format(rawValue: Self.bad)
                                default: badParams.scaling = ck_scaling(rawValue: Self.bad)
                                }
                                withUnsafePointer(to: badParams) { bp in
                                    Self.expectStatus(run { $0.params = bp }, CK_ERR_INVALID_VALUE, field, "\(name) \(field)")
                                }
                            }
                            Self.expectStatus(run { $0.group = 0 }, CK_ERR_INVALID_SHAPE, groupName, "\(name) group 0")
                            Self.expectStatus(run { $0.ldx = 9 }, CK_ERR_INVALID_STRIDE, "x", "\(name) ldx")
                            Self.expectStatus(run { $0.ldq = ldq - 1 }, CK_ERR_INVALID_STRIDE, "q", "\(name) ldq")
                            Self.expectStatus(run { $0.lds = lds - 1 }, CK_ERR_INVALID_STRIDE, "scales", "\(name) lds")
                            // Extents past the address space, with real (small) buffers: rejected before any access.
                            Self.expectStatus(run { $0.rows = Self.huge }, CK_ERR_SIZE_OVERFLOW, "x", "\(name) huge rows")
                            Self.expectStatus(run { $0.ldx = Int.max / 2 }, CK_ERR_SIZE_OVERFLOW, "x", "\(name) huge ldx")
                            Self.expectStatus(run { $0.ldq = Int.max / 2 + 7 }, CK_ERR_SIZE_OVERFLOW, "q", "\(name) huge ldq")
                            // (group 2 so that per block has two rows of scales and lds matters)
                            Self.expectStatus(run { $0.lds = Int.max / 2 + 7; $0.group = 2 }, CK_ERR_SIZE_OVERFLOW, "scales", "\(name) huge lds")
                            Self.expectStatus(run { $0.cols = Int.max / 4 + 1; $0.ldx = Int.max / 4 + 1 }, CK_ERR_SIZE_OVERFLOW, "x", "\(name) huge cols")
                            // Empty tensors: NULL pointers are fine and nothing is written.
                            Self.expectStatus(run { $0.rows = 0; $0.x = nil; $0.q = nil; $0.s = nil }, CK_OK, "", "\(name) 0 rows")
                            Self.expectStatus(run { $0.cols = 0; $0.x = nil; $0.q = nil; $0.s = nil }, CK_OK, "", "\(name) 0 columns")
                        }
                    }
                }
            }
            #expect(b.untouched(), "\(name): a failing or empty call wrote its outputs")
        }
    }

    @Test("dequantizers")
    func dequantizers() {
        let codes = [UInt8](repeating: 0x38, count: 30)
        typealias Entry = (UnsafePointer<UInt8>?, ck_fp8_format, Int, Int, Int, Int, UnsafeRawPointer?, ck_scale_format, Int,
                           UnsafeMutableRawPointer?, ck_dtype, Int) -> ck_status
        let entries: [(String, String, Entry)] = [
            ("per token", "group", { ck_dequant_per_token($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) }),
            ("per block", "block", { ck_dequant_per_block($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) }),
        ]
        for (name, groupName, entry) in entries {
            var b = Buffers()
            codes.withUnsafeBufferPointer { qb in
                b.s.withUnsafeBytes { sb in
                    b.y.withUnsafeMutableBytes { yb in
                        let base = DequantCall(q: qb.baseAddress, s: sb.baseAddress, y: yb.baseAddress)
                        func run(_ change: (inout DequantCall) -> Void) -> ck_status {
                            var a = base
                            change(&a)
                            return entry(a.q, a.f, a.rows, a.cols, a.ldq, a.group, a.s, a.sf, a.lds, a.y, a.t, a.ldy)
                        }
                        Self.expectStatus(run { $0.q = nil }, CK_ERR_NULL_POINTER, "q", "\(name) NULL q")
                        Self.expectStatus(run { $0.s = nil }, CK_ERR_NULL_POINTER, "scales", "\(name) NULL scales")
                        Self.expectStatus(run { $0.y = nil }, CK_ERR_NULL_POINTER, "y", "\(name) NULL y")
                        Self.expectStatus(run { $0.f = ck_fp8_format(rawValue: Self.bad) }, CK_ERR_INVALID_VALUE, "format", "\(name) format")
                        Self.expectStatus(run { $0.sf = ck_scale_format(rawValue: Self.bad) }, CK_ERR_INVALID_VALUE, "scale_format", "\(name) scale_format")
                        Self.expectStatus(run { $0.t = ck_dtype(rawValue: Self.bad) }, CK_ERR_INVALID_VALUE, "y_type", "\(name) y_type")
                        Self.expectStatus(run { $0.group = 0 }, CK_ERR_INVALID_SHAPE, groupName, "\(name) group 0")
                        Self.expectStatus(run { $0.ldq = 9 }, CK_ERR_INVALID_STRIDE, "q", "\(name) ldq")
                        Self.expectStatus(run { $0.lds = 2 }, CK_ERR_INVALID_STRIDE, "scales", "\(name) lds")
                        Self.expectStatus(run { $0.ldy = 9 }, CK_ERR_INVALID_STRIDE, "y", "\(name) ldy")
                        Self.expectStatus(run { $0.rows = Self.huge; $0.ldq = 1 << 20 }, CK_ERR_SIZE_OVERFLOW, "q", "\(name) huge rows")
                        Self.expectStatus(run { $0.ldy = Int.max / 2 + 7 }, CK_ERR_SIZE_OVERFLOW, "y", "\(name) huge ldy")
                        Self.expectStatus(run { $0.rows = 0; $0.q = nil; $0.s = nil; $0.y = nil }, CK_OK, "", "\(name) 0 rows")
                        Self.expectStatus(run { $0.cols = 0; $0.q = nil; $0.s = nil; $0.y = nil }, CK_OK, "", "\(name) 0 columns")
                    }
                }
            }
            #expect(b.untouched(), "\(name): a failing or empty call wrote y")
        }
    }

    @Test("casts")
    func casts() {
        var b = Buffers()
        let xs = [UInt16](repeating: 0x3F80, count: 8)
        xs.withUnsafeBufferPointer { xb in
            b.x.withUnsafeBufferPointer { xf in
                b.q.withUnsafeMutableBufferPointer { q in
                    b.y.withUnsafeMutableBufferPointer { y in
                        y.withMemoryRebound(to: UInt16.self) { y16 in
                            let n = 8
                            Self.expectStatus(ck_cast_f32_to_bf16(nil, y16.baseAddress, n), CK_ERR_NULL_POINTER, "x", "f32->bf16 NULL x")
                            Self.expectStatus(ck_cast_f32_to_bf16(xf.baseAddress, nil, n), CK_ERR_NULL_POINTER, "y", "f32->bf16 NULL y")
                            Self.expectStatus(ck_cast_f32_to_bf16(xf.baseAddress, y16.baseAddress, Int.max / 2), CK_ERR_SIZE_OVERFLOW, "x", "f32->bf16 huge n")
                            Self.expectStatus(ck_cast_bf16_to_f32(nil, y.baseAddress, n), CK_ERR_NULL_POINTER, "x", "bf16->f32 NULL x")
                            Self.expectStatus(ck_cast_bf16_to_f32(xb.baseAddress, nil, n), CK_ERR_NULL_POINTER, "y", "bf16->f32 NULL y")
                            Self.expectStatus(ck_cast_bf16_to_f32(xb.baseAddress, y.baseAddress, Int.max / 2), CK_ERR_SIZE_OVERFLOW, "y", "bf16->f32 huge n")
                            let raw = UnsafeRawPointer(xf.baseAddress)
                            Self.expectStatus(ck_cast_to_fp8(raw, ck_dtype(rawValue: Self.bad), q.baseAddress, n, CK_FP8_E4M3FN, CK_OVERFLOW_NAN),
                                              CK_ERR_INVALID_VALUE, "x_type", "to_fp8 x_type")
                            Self.expectStatus(ck_cast_to_fp8(raw, CK_DTYPE_F32, q.baseAddress, n, ck_fp8_format(rawValue: Self.bad), CK_OVERFLOW_NAN),
                                              CK_ERR_INVALID_VALUE, "format", "to_fp8 format")
                            Self.expectStatus(ck_cast_to_fp8(raw, CK_DTYPE_F32, q.baseAddress, n, CK_FP8_E5M2, ck_overflow(rawValue: Self.bad)),
                                              CK_ERR_INVALID_VALUE, "overflow", "to_fp8 overflow")
                            Self.expectStatus(ck_cast_to_fp8(nil, CK_DTYPE_F32, q.baseAddress, n, CK_FP8_E5M2, CK_OVERFLOW_NAN), CK_ERR_NULL_POINTER, "x", "to_fp8 NULL x")
                            Self.expectStatus(ck_cast_to_fp8(raw, CK_DTYPE_BF16, nil, n, CK_FP8_E5M2, CK_OVERFLOW_NAN), CK_ERR_NULL_POINTER, "y", "to_fp8 NULL y")
                            Self.expectStatus(ck_cast_to_fp8(raw, CK_DTYPE_F32, q.baseAddress, Int.max / 2, CK_FP8_E5M2, CK_OVERFLOW_NAN),
                                              CK_ERR_SIZE_OVERFLOW, "x", "to_fp8 huge n")
                            Self.expectStatus(ck_cast_from_fp8(q.baseAddress, ck_fp8_format(rawValue: Self.bad), y.baseAddress, CK_DTYPE_F32, n),
                                              CK_ERR_INVALID_VALUE, "format", "from_fp8 format")
                            Self.expectStatus(ck_cast_from_fp8(q.baseAddress, CK_FP8_E4M3FN, y.baseAddress, ck_dtype(rawValue: Self.bad), n),
                                              CK_ERR_INVALID_VALUE, "y_type", "from_fp8 y_type")
                            Self.expectStatus(ck_cast_from_fp8(nil, CK_FP8_E4M3FN, y.baseAddress, CK_DTYPE_F32, n), CK_ERR_NULL_POINTER, "x", "from_fp8 NULL x")
                            Self.expectStatus(ck_cast_from_fp8(q.baseAddress, CK_FP8_E4M3FN, nil, CK_DTYPE_BF16, n), CK_ERR_NULL_POINTER, "y", "from_fp8 NULL y")
                            Self.expectStatus(ck_cast_from_fp8(q.baseAddress, CK_FP8_E4M3FN, y.baseAddress, CK_DTYPE_F32, Int.max / 2),
                                              CK_ERR_SIZE_OVERFLOW, "y", "from_fp8 huge n")
                            // n = 0: NULL is fine.
                            Self.expectStatus(ck_cast_f32_to_bf16(nil, nil, 0), CK_OK, "")
                            Self.expectStatus(ck_cast_bf16_to_f32(nil, nil, 0), CK_OK, "")
                            Self.expectStatus(ck_cast_to_fp8(nil, CK_DTYPE_F32, nil, 0, CK_FP8_E4M3FN, CK_OVERFLOW_NAN), CK_OK, "")
                            Self.expectStatus(ck_cast_from_fp8(nil, CK_FP8_E5M2, nil, CK_DTYPE_BF16, 0), CK_OK, "")
                        }
                    }
                }
            }
        }
        #expect(b.untouched(), "a failing cast wrote its output")
    }

    @Test("runtime settings and names")
    func runtime() {
        withRuntimeSettings {
            let threads = ck_num_threads(), cap = ck_max_isa()
            for bad: Int32 in [0, -1, 1025, .min] {
                Self.expectStatus(ck_set_num_threads(bad), CK_ERR_INVALID_VALUE, "threads", "threads \(bad)")
            }
            #expect(ck_num_threads() == threads)
            Self.expectStatus(ck_set_max_isa(ck_isa(rawValue: UInt32(CK_ISA_COUNT))), CK_ERR_INVALID_VALUE, "isa", "isa count")
            Self.expectStatus(ck_set_max_isa(ck_isa(rawValue: .max)), CK_ERR_INVALID_VALUE, "isa", "isa max")
            #expect(ck_max_isa() == cap)
            var isa = CK_ISA_AVX2
            Self.expectStatus(ck_isa_from_name("AVX512", &isa), CK_ERR_INVALID_VALUE, "name", "bad name")
            #expect(isa == CK_ISA_AVX2)
            Self.expectStatus(ck_isa_from_name(nil, &isa), CK_ERR_NULL_POINTER, "name", "NULL name")
            Self.expectStatus(ck_isa_from_name("scalar", nil), CK_ERR_NULL_POINTER, "isa", "NULL isa")
            Self.expectStatus(ck_isa_from_name("avx512bf16", &isa), CK_OK, "")
            #expect(isa == CK_ISA_AVX512BF16)
            Self.expectStatus(ck_isa_from_name("avx512bf16vbmi", &isa), CK_OK, "")
            #expect(isa == CK_ISA_AVX512BF16VBMI)
            Self.expectStatus(ck_isa_from_name("avx512vbmi", &isa), CK_OK, "")
            #expect(isa == CK_ISA_AVX512VBMI)
            #expect(String(cString: ck_isa_name(ck_isa(rawValue: 9))) == "unknown")
        }
        let names = (0...7).map { String(cString: ck_status_name(ck_status(rawValue: UInt32($0)))) }
        #expect(names == ["CK_OK", "CK_ERR_NULL_POINTER", "CK_ERR_INVALID_SHAPE", "CK_ERR_INVALID_STRIDE", "CK_ERR_INVALID_VALUE",
                          "CK_ERR_SIZE_OVERFLOW", "CK_ERR_UNSUPPORTED", "CK_ERR_OUT_OF_MEMORY"])
    }

    @Test("error details are per thread")
    func threadLocalErrors() {
        _ = ck_cast_f32_to_bf16(nil, nil, 5) // this thread: "x"
        #expect(String(cString: ck_last_error_argument()) == "x")
        let seen = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let fresh = String(cString: ck_last_error_argument())
            _ = ck_cast_to_fp8(nil, CK_DTYPE_F32, nil, 1, ck_fp8_format(rawValue: 9), CK_OVERFLOW_NAN)
            seen.withLock { $0 = [fresh, String(cString: ck_last_error_argument())] }
            done.signal()
        }
        done.wait()
        #expect(seen.withLock { $0 } == ["", "format"])
        #expect(String(cString: ck_last_error_argument()) == "x")
    }
}

/// Arguments of one C quantizer call.
struct QuantCall {
    var x: UnsafeRawPointer?
    var t: ck_dtype = CK_DTYPE_F32
    var rows: Int = 3, cols: Int = 10, ldx: Int = 10, group: Int = 4
    var params: UnsafePointer<ck_quant_params>?
    var q: UnsafeMutablePointer<UInt8>?
    var ldq: Int
    var s: UnsafeMutableRawPointer?
    var lds: Int
    init(x: UnsafeRawPointer?, params: UnsafePointer<ck_quant_params>?, q: UnsafeMutablePointer<UInt8>?, ldq: Int,
         s: UnsafeMutableRawPointer?, lds: Int) {
        (self.x, self.params, self.q, self.ldq, self.s, self.lds) = (x, params, q, ldq, s, lds)
    }
}

/// Arguments of one C dequantizer call.
struct DequantCall {
    var q: UnsafePointer<UInt8>?
    var f: ck_fp8_format = CK_FP8_E4M3FN
    var rows: Int = 3, cols: Int = 10, ldq: Int = 10, group: Int = 4
    var s: UnsafeRawPointer?
    var sf: ck_scale_format = CK_SCALE_F32
    var lds: Int = 3
    var y: UnsafeMutableRawPointer?
    var t: ck_dtype = CK_DTYPE_F32
    var ldy: Int = 10
    init(q: UnsafePointer<UInt8>?, s: UnsafeRawPointer?, y: UnsafeMutableRawPointer?) { (self.q, self.s, self.y) = (q, s, y) }
}

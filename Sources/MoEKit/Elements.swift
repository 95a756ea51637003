import CKernels

/// A bfloat16 value stored as its bit pattern (the upper half of an IEEE binary32).
@frozen
public struct BFloat16: BitwiseCopyable, Hashable, Sendable, CustomStringConvertible {
    /// The bits: sign, 8 exponent bits, 7 mantissa bits.
    public var bitPattern: UInt16
    /// The value with these bits.
    @inlinable public init(bitPattern: UInt16) { self.bitPattern = bitPattern }
    /// Rounds to nearest even; overflow gives ±inf and NaN the quiet NaN with its sign.
    public init(_ value: Float) {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            bitPattern = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000) | 0x7FC0
        } else {
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
        }
    }
    /// The exact value as a `Float`.
    @inlinable public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
    /// The value as `Float` prints it.
    public var description: String { floatValue.description }
}

/// An unsigned power-of-two scale 2^(e − 127) stored as its exponent byte `e` (OCP `E8M0`, DeepGEMM's
/// UE8M0): no sign, no zero, and `0xFF` is NaN.
@frozen
public struct UE8M0: BitwiseCopyable, Hashable, Sendable, CustomStringConvertible {
    /// The exponent byte `e` of 2^(e − 127).
    public var bitPattern: UInt8
    /// The scale with this exponent byte.
    @inlinable public init(bitPattern: UInt8) { self.bitPattern = bitPattern }
    /// The scale's value (NaN for `0xFF`).
    public var floatValue: Float { ck_ue8m0_to_f32(bitPattern) }
    /// The value as `Float` prints it.
    public var description: String { floatValue.description }
}

/// The 8-bit floating-point formats.
public enum FP8Format: Sendable, CaseIterable {
    /// E4M3FN: 4 exponent bits (bias 7), 3 mantissa bits, max 448, no infinities, NaN = S.1111.111.
    case e4m3fn
    /// E5M2: 5 exponent bits (bias 15), 2 mantissa bits, max 57344, IEEE-style infinities and NaNs.
    case e5m2

    /// The largest finite magnitude.
    public var maxValue: Float { self == .e4m3fn ? 448 : 57344 }
    var c: ck_fp8_format { self == .e4m3fn ? CK_FP8_E4M3FN : CK_FP8_E5M2 }
}

/// What encoding to FP8 does with magnitudes that round above the format's maximum.
public enum OverflowMode: Sendable, CaseIterable {
    /// Clamp finite overflow and ±inf to ±max (Triton's `satfinite`, the kernels' default).
    case saturate
    /// E4M3FN gives NaN and E5M2 gives ±inf, bit-exact with ml_dtypes' casts.
    case nan
    var c: ck_overflow { self == .saturate ? CK_OVERFLOW_SATURATE : CK_OVERFLOW_NAN }
}

/// How a quantizer applies a group's scale `s`.
public enum Scaling: Sendable, CaseIterable {
    /// `q = fp8(x / s)`, a true division (DeepSeek-V3's `act_quant`).
    case divide
    /// `q = fp8(x * (1 / s))` (DeepGEMM's casts). Identical to `divide` for power-of-two scales.
    case reciprocal
    var c: ck_scaling { self == .divide ? CK_SCALING_DIVIDE : CK_SCALING_RECIPROCAL }
}

/// A floating-point element type the kernels read and write: `Float` or ``BFloat16``.
///
/// MoEKit provides both conformances. A call with any other conforming type throws
/// ``MoEKitError/invalidValue(argument:reason:)``: the kernels take the element size from the type itself,
/// never from a conformance's ``kernelType``, so a conformance that misstates it cannot make them read or
/// write past a buffer.
public protocol KernelFloat: BitwiseCopyable {
    /// Which of the kernels' element types this is.
    static var kernelType: KernelFloatType { get }
}
/// The element types behind ``KernelFloat``.
public enum KernelFloatType: Sendable {
    /// IEEE binary32 (`Float`).
    case float32
    /// ``BFloat16``.
    case bfloat16
}
extension Float: KernelFloat {
    /// ``KernelFloatType/float32``.
    public static var kernelType: KernelFloatType { .float32 }
}
extension BFloat16: KernelFloat {
    /// ``KernelFloatType/bfloat16``.
    public static var kernelType: KernelFloatType { .bfloat16 }
}
extension KernelFloat {
    /// The C element type of `Self`, from the type itself; other types map to a value the C API rejects.
    static var c: ck_dtype {
        if Self.self == Float.self { return CK_DTYPE_F32 }
        if Self.self == BFloat16.self { return CK_DTYPE_BF16 }
        return ck_dtype(rawValue: .max)
    }
}

/// A scale element of a quantized tensor: `Float` (`amax / max`) or ``UE8M0`` (its power-of-two ceiling).
///
/// As with ``KernelFloat``, MoEKit provides both conformances and rejects any other type
/// (``MoEKitError/invalidValue(argument:reason:)``), whatever its ``scaleFormat`` says.
public protocol QuantizationScale: BitwiseCopyable {
    /// Which of the kernels' scale formats this is.
    static var scaleFormat: ScaleFormat { get }
}
/// The scale formats behind ``QuantizationScale``.
public enum ScaleFormat: Sendable {
    /// A `Float` multiplier.
    case float32
    /// A ``UE8M0`` power of two.
    case ue8m0
}
extension Float: QuantizationScale {
    /// ``ScaleFormat/float32``.
    public static var scaleFormat: ScaleFormat { .float32 }
}
extension UE8M0: QuantizationScale {
    /// ``ScaleFormat/ue8m0``.
    public static var scaleFormat: ScaleFormat { .ue8m0 }
}
extension QuantizationScale {
    /// The C scale format of `Self`, from the type itself; other types map to a value the C API rejects.
    static var c: ck_scale_format {
        if Self.self == Float.self { return CK_SCALE_F32 }
        if Self.self == UE8M0.self { return CK_SCALE_UE8M0 }
        return ck_scale_format(rawValue: .max)
    }
}

import CKernels

/// Element-wise conversions between `Float`, ``BFloat16`` and the FP8 formats.
///
/// Every conversion is exact or rounds to nearest even once, and produces the same bits on every ISA and
/// thread count. See <doc:Numerics> for the rules on NaN, infinities, subnormals and overflow.
public enum Casts {
    /// Rounds `x` to bfloat16 (nearest even; NaN becomes the quiet NaN with its sign) into `y[0..<x.count]`.
    public static func convert(_ x: Span<Float>, to y: inout MutableSpan<BFloat16>) throws(MoEKitError) {
        try requireOutput(y.count, x.count, "y")
        let status = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                ck_cast_f32_to_bf16(xp.baseAddress, UnsafeMutableRawPointer(yp.baseAddress)?.assumingMemoryBound(to: UInt16.self), x.count)
            }
        }
        try check(status)
    }

    /// Widens `x` to `Float` (exact) into `y[0..<x.count]`.
    public static func convert(_ x: Span<BFloat16>, to y: inout MutableSpan<Float>) throws(MoEKitError) {
        try requireOutput(y.count, x.count, "y")
        let status = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                ck_cast_bf16_to_f32(UnsafeRawPointer(xp.baseAddress)?.assumingMemoryBound(to: UInt16.self), yp.baseAddress, x.count)
            }
        }
        try check(status)
    }

    /// Encodes `x` as FP8 codes into `codes[0..<x.count]`: round to nearest even with subnormals;
    /// magnitudes rounding above the format's maximum follow `overflow`.
    public static func encodeFP8<Input: KernelFloat>(
        _ x: Span<Input>, format: FP8Format, overflow: OverflowMode = .saturate, into codes: inout MutableSpan<UInt8>
    ) throws(MoEKitError) {
        try requireOutput(codes.count, x.count, "codes")
        let status = x.withUnsafeBufferPointer { xp in
            codes.withUnsafeMutableBufferPointer { cp in
                ck_cast_to_fp8(UnsafeRawPointer(xp.baseAddress), Input.c, cp.baseAddress, x.count, format.c, overflow.c)
            }
        }
        try check(status)
    }

    /// Decodes FP8 codes exactly into `y[0..<codes.count]`; NaN codes become the quiet NaN with their sign.
    public static func decodeFP8<Output: KernelFloat>(
        _ codes: Span<UInt8>, format: FP8Format, into y: inout MutableSpan<Output>
    ) throws(MoEKitError) {
        try requireOutput(y.count, codes.count, "y")
        let status = codes.withUnsafeBufferPointer { cp in
            y.withUnsafeMutableBufferPointer { yp in
                ck_cast_from_fp8(cp.baseAddress, format.c, UnsafeMutableRawPointer(yp.baseAddress), Output.c, codes.count)
            }
        }
        try check(status)
    }

    private static func requireOutput(_ have: Int, _ need: Int, _ name: String) throws(MoEKitError) {
        if have < need { throw .bufferTooSmall(argument: name, required: need, actual: have) }
    }
}

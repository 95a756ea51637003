// Calls the element-cast API on TestBuffers (optionally unaligned) and returns the output buffers.
import MoEKit
import TestSupport

enum CastRun {
    static func encode<Input: KernelFloat>(_ x: [Input], format: FP8Format, overflow: OverflowMode,
                                           offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<UInt8> {
        try run(x, offset: offset, fillByte: fillByte) { (xs, cs) throws(MoEKitError) in
            try Casts.encodeFP8(xs, format: format, overflow: overflow, into: &cs)
        }
    }

    static func decode<Output: KernelFloat>(_ codes: [UInt8], format: FP8Format, as _: Output.Type,
                                            offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<Output> {
        try run(codes, offset: offset, fillByte: fillByte) { (cs, ys) throws(MoEKitError) in
            try Casts.decodeFP8(cs, format: format, into: &ys)
        }
    }

    static func toBFloat16(_ x: [Float], offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<BFloat16> {
        try run(x, offset: offset, fillByte: fillByte) { (xs, ys) throws(MoEKitError) in try Casts.convert(xs, to: &ys) }
    }

    static func toFloat(_ x: [BFloat16], offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<Float> {
        try run(x, offset: offset, fillByte: fillByte) { (xs, ys) throws(MoEKitError) in try Casts.convert(xs, to: &ys) }
    }

    /// `cast` from a buffer holding `x` into a fresh output buffer of the same count, both at `offset`.
    private static func run<Input: BitwiseCopyable, Output: BitwiseCopyable>(
        _ x: [Input], offset: Int, fillByte: UInt8,
        _ cast: (Span<Input>, inout MutableSpan<Output>) throws(MoEKitError) -> Void
    ) throws(MoEKitError) -> TestBuffer<Output> {
        let input = TestBuffer(x, offset: offset)
        var y = TestBuffer<Output>(count: x.count, offset: offset, fillByte: fillByte)
        try input.withSpan { (xs) throws(MoEKitError) in
            try y.withMutableSpan { (ys) throws(MoEKitError) in try cast(xs, &ys) }
        }
        return y
    }
}

/// Compares FP8 codes with expected codes exactly; the guards around them must be untouched.
func codeMismatches(_ got: TestBuffer<UInt8>, _ expected: [UInt8], inputs: [Float]) -> Mismatches {
    var m = Mismatches()
    for i in 0..<expected.count where got[i] != expected[i] {
        m.add("x[\(i)] = \(inputs[i]) (0x\(String(inputs[i].bitPattern, radix: 16))): got 0x\(String(got[i], radix: 16)), expected 0x\(String(expected[i], radix: 16))")
    }
    if !got.guardsIntact { m.add("bytes outside the output were written") }
    return m
}

extension Array where Element == Float {
    var asBFloat16: [BFloat16] {
        map { v in
            precondition(v.bitPattern & 0xFFFF == 0, "\(v) is not a bf16 value")
            return BFloat16(bitPattern: UInt16(v.bitPattern >> 16))
        }
    }
}

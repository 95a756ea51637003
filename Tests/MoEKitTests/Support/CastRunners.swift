// Calls the element-cast API on TestBuffers (optionally unaligned) and returns the output buffers.
import MoEKit
import TestSupport

enum CastRun {
    static func encode<Input: KernelFloat>(_ x: [Input], format: FP8Format, overflow: OverflowMode,
                                           offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<UInt8> {
        let input = TestBuffer(x, offset: offset)
        var codes = TestBuffer<UInt8>(count: x.count, offset: offset, fillByte: fillByte)
        try input.withSpan { (xs) throws(MoEKitError) in
            try codes.withMutableSpan { (cs) throws(MoEKitError) in
                try Casts.encodeFP8(xs, format: format, overflow: overflow, into: &cs)
            }
        }
        return codes
    }

    static func decode<Output: KernelFloat>(_ codes: [UInt8], format: FP8Format, as _: Output.Type,
                                            offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<Output> {
        let input = TestBuffer(codes, offset: offset)
        var y = TestBuffer<Output>(count: codes.count, offset: offset, fillByte: fillByte)
        try input.withSpan { (cs) throws(MoEKitError) in
            try y.withMutableSpan { (ys) throws(MoEKitError) in try Casts.decodeFP8(cs, format: format, into: &ys) }
        }
        return y
    }

    static func toBFloat16(_ x: [Float], offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<BFloat16> {
        let input = TestBuffer(x, offset: offset)
        var y = TestBuffer<BFloat16>(count: x.count, offset: offset, fillByte: fillByte)
        try input.withSpan { (xs) throws(MoEKitError) in
            try y.withMutableSpan { (ys) throws(MoEKitError) in try Casts.convert(xs, to: &ys) }
        }
        return y
    }

    static func toFloat(_ x: [BFloat16], offset: Int = 0, fillByte: UInt8 = 0xA5) throws(MoEKitError) -> TestBuffer<Float> {
        let input = TestBuffer(x, offset: offset)
        var y = TestBuffer<Float>(count: x.count, offset: offset, fillByte: fillByte)
        try input.withSpan { (xs) throws(MoEKitError) in
            try y.withMutableSpan { (ys) throws(MoEKitError) in try Casts.convert(xs, to: &ys) }
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

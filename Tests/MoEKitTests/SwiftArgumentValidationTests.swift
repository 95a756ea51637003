// Proves the Swift API's argument checks: every bad shape, group size, stride and buffer length throws the
// documented MoEKitError case naming the right argument (with the exact required/actual counts for
// bufferTooSmall), overflowing sizes throw sizeOverflow or bufferTooSmall, nothing is written on any error,
// empty tensors succeed without writing, element and scale types conformed outside MoEKit are rejected
// whatever they claim to be, Runtime.setThreadCount rejects counts outside 1...1024 and
// Runtime.setStreamThreshold negative sizes.
import MoEKit
import TestSupport
import Testing

/// Arguments of one quantizer call, each of which a test can spoil.
struct QuantArgs {
    var rows = 3, columns = 10, group = 4
    var xCount = 30, codesCount = 30, scalesCount = 9
    var xStride: Int? = nil, codesStride: Int? = nil, scalesStride: Int? = nil
}

@Suite("Swift argument validation", .tags(.validation))
struct SwiftArgumentValidationTests {
    /// Runs `layout`'s quantizer with `a` on sentinel-filled outputs; returns the error and whether the outputs
    /// were left untouched.
    static func quantize(_ layout: QuantLayout, _ a: QuantArgs) -> (MoEKitError?, untouched: Bool) {
        let x = TestBuffer([Float](repeating: 1, count: a.xCount))
        var codes = TestBuffer<UInt8>(count: a.codesCount, fillByte: 0x5A)
        var scales = TestBuffer<Float>(count: a.scalesCount, fillByte: 0x5A)
        let before = codes.allBytes + scales.allBytes
        var error: MoEKitError?
        do {
            try x.withSpan { (xs) throws(MoEKitError) in
                try codes.withMutableSpan { (qs) throws(MoEKitError) in
                    try scales.withMutableSpan { (ss) throws(MoEKitError) in
                        switch layout {
                        case .perToken:
                            try Quantization.quantizePerToken(xs, rows: a.rows, columns: a.columns, groupSize: a.group, codes: &qs,
                                                              scales: &ss, xStride: a.xStride, codesStride: a.codesStride,
                                                              scalesStride: a.scalesStride)
                        case .perBlock:
                            try Quantization.quantizePerBlock(xs, rows: a.rows, columns: a.columns, blockSize: a.group, codes: &qs,
                                                              scales: &ss, xStride: a.xStride, codesStride: a.codesStride,
                                                              scalesStride: a.scalesStride)
                        case .perChannelTransposed:
                            try Quantization.quantizePerChannelTransposed(xs, tokens: a.rows, channels: a.columns, groupSize: a.group,
                                                                          codes: &qs, scales: &ss, xStride: a.xStride,
                                                                          codesStride: a.codesStride, scalesStride: a.scalesStride)
                        }
                    }
                }
            }
        } catch let e {
            error = e
        }
        return (error, codes.allBytes + scales.allBytes == before)
    }

    static func expectRejected(_ layout: QuantLayout, _ a: QuantArgs, _ kinds: [ErrorKind], _ argument: String,
                               sourceLocation: SourceLocation = #_sourceLocation) -> MoEKitError? {
        let (error, untouched) = quantize(layout, a)
        guard let error else {
            Issue.record("\(layout) \(a): expected \(kinds) for '\(argument)', the call succeeded", sourceLocation: sourceLocation)
            return nil
        }
        #expect(kinds.contains(ErrorKind(error)), "\(layout): got \(error), expected \(kinds)", sourceLocation: sourceLocation)
        #expect(error.argument == argument, "\(layout): \(error) names '\(error.argument)', expected '\(argument)'", sourceLocation: sourceLocation)
        #expect(untouched, "\(layout): outputs written by a failing call", sourceLocation: sourceLocation)
        return error
    }

    @Test("quantizers: shapes, group sizes, strides, buffers", arguments: QuantLayout.allCases)
    func quantizers(layout: QuantLayout) {
        let (rowsName, columnsName) = layout == .perChannelTransposed ? ("tokens", "channels") : ("rows", "columns")
        let groupName = layout == .perBlock ? "blockSize" : "groupSize"
        // The valid call: x [3, 10]; per token scales [3, 3]; per block [1, 3]; per channel codes [10, 3], scales [10, 1].
        var ok = QuantArgs()
        if layout == .perChannelTransposed { ok.scalesCount = 10 }
        let (error, _) = Self.quantize(layout, ok)
        #expect(error == nil, "the valid call failed: \(String(describing: error))")

        func with(_ change: (inout QuantArgs) -> Void) -> QuantArgs { var a = ok; change(&a); return a }
        _ = Self.expectRejected(layout, with { $0.rows = -1 }, [.invalidShape], rowsName)
        _ = Self.expectRejected(layout, with { $0.columns = -5 }, [.invalidShape], columnsName)
        _ = Self.expectRejected(layout, with { $0.group = 0 }, [.invalidShape], groupName)
        _ = Self.expectRejected(layout, with { $0.group = -128 }, [.invalidShape], groupName)
        _ = Self.expectRejected(layout, with { $0.xStride = 9 }, [.invalidStride], "x")
        _ = Self.expectRejected(layout, with { $0.xStride = -1 }, [.invalidStride], "x")
        let codesRow = layout == .perChannelTransposed ? 3 : 10
        _ = Self.expectRejected(layout, with { $0.codesStride = codesRow - 1 }, [.invalidStride], "codes")
        let scalesRow = layout == .perChannelTransposed ? 1 : 3
        _ = Self.expectRejected(layout, with { $0.scalesStride = scalesRow - 1 }, [.invalidStride], "scales")
        #expect(Self.expectRejected(layout, with { $0.xCount = 29 }, [.bufferTooSmall], "x")
                == .bufferTooSmall(argument: "x", required: 30, actual: 29))
        #expect(Self.expectRejected(layout, with { $0.xStride = 12 }, [.bufferTooSmall], "x")
                == .bufferTooSmall(argument: "x", required: 34, actual: 30))
        #expect(Self.expectRejected(layout, with { $0.codesCount = 0 }, [.bufferTooSmall], "codes")
                == .bufferTooSmall(argument: "codes", required: 30, actual: 0))
        let scalesNeeded = ok.scalesCount - (layout == .perBlock ? 6 : 0) // per block needs only [1, 3]
        #expect(Self.expectRejected(layout, with { $0.scalesCount = scalesNeeded - 1 }, [.bufferTooSmall], "scales")
                == .bufferTooSmall(argument: "scales", required: scalesNeeded, actual: scalesNeeded - 1))
        // Sizes past the address space: the extent overflows Int, or fits and exceeds the buffer.
        _ = Self.expectRejected(layout, with { $0.rows = Int.max / 2 }, [.sizeOverflow, .bufferTooSmall], "x")
        _ = Self.expectRejected(layout, with { $0.rows = Int.max / 2; $0.columns = 1 }, [.sizeOverflow, .bufferTooSmall], "x")
        _ = Self.expectRejected(layout, with { $0.columns = Int.max; $0.rows = 1 }, [.sizeOverflow, .bufferTooSmall], "x")
        _ = Self.expectRejected(layout, with { $0.xStride = Int.max }, [.sizeOverflow], "x")
        _ = Self.expectRejected(layout, with { $0.codesStride = Int.max / 2 }, [.sizeOverflow, .bufferTooSmall], "codes")
    }

    @Test("quantizers: empty tensors succeed and write nothing", arguments: QuantLayout.allCases)
    func emptyQuantizers(layout: QuantLayout) {
        for (rows, columns) in [(0, 10), (3, 0), (0, 0)] {
            // Empty input buffers, outputs with room (which must stay untouched).
            let (error, untouched) = Self.quantize(layout, QuantArgs(rows: rows, columns: columns, xCount: 0))
            #expect(error == nil, "\(layout) \(rows)x\(columns): \(String(describing: error))")
            #expect(untouched, "\(layout) \(rows)x\(columns) wrote to its outputs")
            let (e2, _) = Self.quantize(layout, QuantArgs(rows: rows, columns: columns, xCount: 0, codesCount: 0, scalesCount: 0))
            #expect(e2 == nil, "\(layout) \(rows)x\(columns) with empty outputs: \(String(describing: e2))")
        }
    }

    /// Arguments of one dequantizer call.
    struct DequantArgs {
        var rows = 3, columns = 10, group = 4
        var codesCount = 30, scalesCount = 9, yCount = 30
        var codesStride: Int? = nil, scalesStride: Int? = nil, yStride: Int? = nil
    }

    static func dequantize(_ layout: QuantLayout, _ a: DequantArgs) -> (MoEKitError?, untouched: Bool) {
        let codes = TestBuffer([UInt8](repeating: 0x38, count: a.codesCount))
        let scales = TestBuffer([UE8M0](repeating: UE8M0(bitPattern: 127), count: a.scalesCount))
        var y = TestBuffer<BFloat16>(count: a.yCount, fillByte: 0x5A)
        let before = y.allBytes
        do {
            try codes.withSpan { (qs) throws(MoEKitError) in
                try scales.withSpan { (ss) throws(MoEKitError) in
                    try y.withMutableSpan { (ys) throws(MoEKitError) in
                        if layout == .perBlock {
                            try Quantization.dequantizePerBlock(codes: qs, scales: ss, rows: a.rows, columns: a.columns, blockSize: a.group,
                                                                into: &ys, codesStride: a.codesStride, scalesStride: a.scalesStride,
                                                                yStride: a.yStride)
                        } else {
                            try Quantization.dequantizePerToken(codes: qs, scales: ss, rows: a.rows, columns: a.columns, groupSize: a.group,
                                                                into: &ys, codesStride: a.codesStride, scalesStride: a.scalesStride,
                                                                yStride: a.yStride)
                        }
                    }
                }
            }
        } catch {
            return (error, y.allBytes == before)
        }
        return (nil, y.allBytes == before)
    }

    @Test("dequantizers: shapes, group sizes, strides, buffers", arguments: [QuantLayout.perToken, .perBlock])
    func dequantizers(layout: QuantLayout) {
        let groupName = layout == .perBlock ? "blockSize" : "groupSize"
        let ok = DequantArgs()
        #expect(Self.dequantize(layout, ok).0 == nil)
        func check(_ change: (inout DequantArgs) -> Void, _ kinds: [ErrorKind], _ argument: String,
                   sourceLocation: SourceLocation = #_sourceLocation) -> MoEKitError? {
            var a = ok
            change(&a)
            let (error, untouched) = Self.dequantize(layout, a)
            guard let error else { Issue.record("expected \(kinds) '\(argument)'", sourceLocation: sourceLocation); return nil }
            #expect(kinds.contains(ErrorKind(error)), "got \(error)", sourceLocation: sourceLocation)
            #expect(error.argument == argument, "\(error) names '\(error.argument)', expected '\(argument)'", sourceLocation: sourceLocation)
            #expect(untouched, "y written by a failing call", sourceLocation: sourceLocation)
            return error
        }
        _ = check({ $0.rows = -1 }, [.invalidShape], "rows")
        _ = check({ $0.columns = -1 }, [.invalidShape], "columns")
        _ = check({ $0.group = 0 }, [.invalidShape], groupName)
        _ = check({ $0.codesStride = 9 }, [.invalidStride], "codes")
        _ = check({ $0.scalesStride = 2 }, [.invalidStride], "scales")
        _ = check({ $0.yStride = 9 }, [.invalidStride], "y")
        #expect(check({ $0.codesCount = 29 }, [.bufferTooSmall], "codes") == .bufferTooSmall(argument: "codes", required: 30, actual: 29))
        let scalesNeeded = layout == .perBlock ? 3 : 9
        #expect(check({ $0.scalesCount = scalesNeeded - 1 }, [.bufferTooSmall], "scales")
                == .bufferTooSmall(argument: "scales", required: scalesNeeded, actual: scalesNeeded - 1))
        #expect(check({ $0.yCount = 1 }, [.bufferTooSmall], "y") == .bufferTooSmall(argument: "y", required: 30, actual: 1))
        #expect(check({ $0.yStride = 11 }, [.bufferTooSmall], "y") == .bufferTooSmall(argument: "y", required: 32, actual: 30))
        _ = check({ $0.rows = Int.max / 2 }, [.sizeOverflow, .bufferTooSmall], "codes")
        _ = check({ $0.yStride = Int.max / 3 }, [.sizeOverflow, .bufferTooSmall], "y")
        for (rows, columns) in [(0, 10), (3, 0)] {
            let (e, untouched) = Self.dequantize(layout, DequantArgs(rows: rows, columns: columns, codesCount: 0, scalesCount: 0))
            #expect(e == nil && untouched, "empty \(rows)x\(columns)")
        }
    }

    @Test("casts: short outputs; empty inputs")
    func casts() throws {
        let x = [Float](repeating: 1, count: 5)
        let xb = [BFloat16](repeating: BFloat16(bitPattern: 0x3F80), count: 5)
        let codes = [UInt8](repeating: 0x38, count: 5)
        var yb = TestBuffer<BFloat16>(count: 4, fillByte: 0x5A)
        var yf = TestBuffer<Float>(count: 4, fillByte: 0x5A)
        var q = TestBuffer<UInt8>(count: 4, fillByte: 0x5A)
        let before = (yb.allBytes, yf.allBytes, q.allBytes)
        expectError(.bufferTooSmall, argument: "y") { () throws(MoEKitError) in
            try yb.withMutableSpan { (ys) throws(MoEKitError) in try Casts.convert(x.span, to: &ys) }
        }
        expectError(.bufferTooSmall, argument: "y") { () throws(MoEKitError) in
            try yf.withMutableSpan { (ys) throws(MoEKitError) in try Casts.convert(xb.span, to: &ys) }
        }
        expectError(.bufferTooSmall, argument: "y") { () throws(MoEKitError) in
            try yf.withMutableSpan { (ys) throws(MoEKitError) in try Casts.decodeFP8(codes.span, format: .e5m2, into: &ys) }
        }
        // encodeFP8's output parameter is `codes`; the error names it.
        expectError(.bufferTooSmall, argument: "codes") { () throws(MoEKitError) in
            try q.withMutableSpan { (cs) throws(MoEKitError) in try Casts.encodeFP8(x.span, format: .e4m3fn, into: &cs) }
        }
        #expect(yb.allBytes == before.0 && yf.allBytes == before.1 && q.allBytes == before.2, "a failing cast wrote its output")
        // Empty input: nothing written, even into a non-empty output.
        try yb.withMutableSpan { (ys) throws(MoEKitError) in try Casts.convert([Float]().span, to: &ys) }
        try q.withMutableSpan { (cs) throws(MoEKitError) in try Casts.encodeFP8([BFloat16]().span, format: .e5m2, overflow: .nan, into: &cs) }
        try yf.withMutableSpan { (ys) throws(MoEKitError) in try Casts.decodeFP8([UInt8]().span, format: .e4m3fn, into: &ys) }
        #expect(yb.allBytes == before.0 && yf.allBytes == before.1 && q.allBytes == before.2, "an empty cast wrote its output")
        // A longer output is fine: only the first x.count elements are written.
        var long = TestBuffer<BFloat16>(count: 9, fillByte: 0x5A)
        try long.withMutableSpan { (ys) throws(MoEKitError) in try Casts.convert(x.span, to: &ys) }
        #expect(long.elements.map(\.bitPattern) == [UInt16](repeating: 0x3F80, count: 5) + [UInt16](repeating: 0x5A5A, count: 4))
    }

    @Test("thread count outside 1...1024 is rejected and leaves the count unchanged")
    func threadCount() {
        withThreads(3) {
            for bad in [0, -1, 1025, Int.max, Int.min, Int(Int32.max) + 1] {
                do throws(MoEKitError) {
                    try Runtime.setThreadCount(bad)
                    Issue.record("setThreadCount(\(bad)) was accepted")
                } catch {
                    #expect(ErrorKind(error) == .invalidValue, "setThreadCount(\(bad)): \(error)")
                    #expect(error.argument == "count", "setThreadCount(\(bad)): \(error)")
                }
                #expect(Runtime.threadCount == 3)
            }
            for good in [1, 1024, 2] {
                #expect(throws: Never.self) { try Runtime.setThreadCount(good) }
                #expect(Runtime.threadCount == good)
            }
        }
    }

    @Test("a negative streaming threshold is rejected and leaves the threshold unchanged")
    func streamThreshold() {
        withRuntimeSettings(streamThreshold: 12345) {
            do throws(MoEKitError) {
                try Runtime.setStreamThreshold(-1)
                Issue.record("setStreamThreshold(-1) was accepted")
            } catch {
                #expect(ErrorKind(error) == .invalidValue && error.argument == "bytes", "\(error)")
            }
            #expect(Runtime.streamThreshold == 12345)
            for good in [0, Int.max, 1 << 20] {
                #expect(throws: Never.self) { try Runtime.setStreamThreshold(good) }
                #expect(Runtime.streamThreshold == good)
            }
        }
    }

    /// A one-byte element that claims to be a `Float` element and a `Float` scale.
    struct ByteClaimingFloat: KernelFloat, QuantizationScale, Equatable {
        var byte: UInt8
        static var kernelType: KernelFloatType { .float32 }
        static var scaleFormat: ScaleFormat { .float32 }
    }

    @Test("a type conformed outside MoEKit is rejected whatever it claims, and nothing is written")
    func foreignConformances() {
        let fill = ByteClaimingFloat(byte: 0x5A)
        func expectRejected(_ argument: String, _ call: () throws(MoEKitError) -> Void) {
            do throws(MoEKitError) {
                try call()
                Issue.record("a ByteClaimingFloat buffer was accepted (\(argument))")
            } catch {
                #expect(ErrorKind(error) == .invalidValue && error.argument == argument, "\(error)")
            }
        }
        // as the output of a decode, of a quantizer's scales and of a GEMM: the kernels would write 4 bytes
        // per element into 1-byte elements if they trusted kernelType
        let codes = [UInt8](repeating: 0x38, count: 8), x = [Float](repeating: 1, count: 16), sizes = [2]
        var y = [ByteClaimingFloat](repeating: fill, count: 8), scales = [ByteClaimingFloat](repeating: fill, count: 2)
        var q = [UInt8](repeating: 0x5A, count: 8)
        expectRejected("y") { () throws(MoEKitError) in
            var out = y.mutableSpan
            try Casts.decodeFP8(codes.span, format: .e4m3fn, into: &out)
        }
        expectRejected("scales") { () throws(MoEKitError) in
            var qs = q.mutableSpan, ss = scales.mutableSpan
            try Quantization.quantizePerToken(x.span, rows: 2, columns: 4, groupSize: 4, codes: &qs, scales: &ss) // x: 8 used
        }
        expectRejected("y") { () throws(MoEKitError) in
            var out = y.mutableSpan
            try GroupedGEMM.mGrouped(x.span, rows: 2, k: 4, groupSizes: sizes.span, weights: x.span, layout: .nk, n: 4,
                                     into: &out)
        }
        #expect(y == [ByteClaimingFloat](repeating: fill, count: 8) && scales == [fill, fill])
        #expect(q == [UInt8](repeating: 0x5A, count: 8))
    }
}

// Test-side helpers around Swift Testing: mismatch reporting, the every-ISA sweep that compares each ISA
// with the reference and with ISA .scalar, typed-error expectations, GEMM outputs as bit patterns, strided rows,
// ragged routing.
import MoEKit
import TestSupport
import Testing

/// Collects the first few mismatches of a comparison (so a failure prints a short, useful message).
struct Mismatches {
    private(set) var count = 0
    private(set) var first: [String] = []
    mutating func add(_ message: @autoclosure () -> String) {
        count += 1
        if first.count < 6 { first.append(message()) }
    }
    var isEmpty: Bool { count == 0 }
    var summary: String { "\(count) mismatch(es): " + first.joined(separator: "; ") }
}

func expectNone(_ m: Mismatches, _ context: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(m.isEmpty, "\(context()): \(m.summary)", sourceLocation: sourceLocation)
}

/// Expects `got` to hold exactly the bit patterns `want`; a failure names the first differing elements.
func expectSameBits<T: BinaryInteger>(_ got: [T], _ want: [T], _ context: @autoclosure () -> String,
                                      sourceLocation: SourceLocation = #_sourceLocation) {
    var m = Mismatches()
    if got.count != want.count { m.add("\(got.count) elements, expected \(want.count)") }
    for i in 0..<min(got.count, want.count) where got[i] != want[i] {
        m.add("element \(i): 0x\(String(got[i], radix: 16)), expected 0x\(String(want[i], radix: 16))")
    }
    expectNone(m, context(), sourceLocation: sourceLocation)
}

func expectSameBits(_ got: [Float], _ want: [Float], _ context: @autoclosure () -> String,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    expectSameBits(got.map(\.bitPattern), want.map(\.bitPattern), context(), sourceLocation: sourceLocation)
}

/// Expects each value within its error bound of the exact result (NaN never is).
func expectWithinBounds(_ got: [Double], exact: [Double], bound: [Double], _ context: @autoclosure () -> String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    var m = Mismatches()
    for i in got.indices where !(abs(got[i] - exact[i]) <= bound[i]) {
        m.add("element \(i): \(got[i]), exact \(exact[i]) ± \(bound[i])")
    }
    expectNone(m, context(), sourceLocation: sourceLocation)
}

/// Runs `run` under every available ISA (cap set, lock held; thread count and streaming-store threshold as
/// given). Each ISA's `problems` (its comparison with the reference) must be empty, and its output bytes must
/// equal ISA .scalar's byte for byte.
func checkEveryISA(_ context: @autoclosure () -> String, threads: Int? = nil, streamThreshold: Int? = nil,
                   sourceLocation: SourceLocation = #_sourceLocation,
                   _ run: (ISA) throws -> (bytes: [UInt8], problems: Mismatches)) throws {
    let results = try forEachISA(threads: threads, streamThreshold: streamThreshold) { isa in try run(isa) }
    #expect(results.first?.0 == .scalar, sourceLocation: sourceLocation)
    guard let scalar = results.first?.1.bytes else { return }
    for (isa, result) in results {
        expectNone(result.problems, "\(context()) [\(isa)] vs reference", sourceLocation: sourceLocation)
        expectSameBits(result.bytes, scalar, "\(context()) [\(isa)] vs .scalar (bytes)", sourceLocation: sourceLocation)
    }
}

/// The kind of a MoEKitError, without its payload.
enum ErrorKind: Equatable {
    case nullPointer, invalidShape, invalidStride, invalidValue, sizeOverflow, unsupported, outOfMemory, bufferTooSmall
    init(_ e: MoEKitError) {
        switch e {
        case .nullPointer: self = .nullPointer
        case .invalidShape: self = .invalidShape
        case .invalidStride: self = .invalidStride
        case .invalidValue: self = .invalidValue
        case .sizeOverflow: self = .sizeOverflow
        case .unsupported: self = .unsupported
        case .outOfMemory: self = .outOfMemory
        case .bufferTooSmall: self = .bufferTooSmall
        }
    }
}

/// Expects `body` to throw a MoEKitError of one of `kinds` naming `argument`; returns the error.
@discardableResult
func expectError(_ kinds: [ErrorKind], argument: String, _ context: @autoclosure () -> String = "",
                 sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws(MoEKitError) -> Void) -> MoEKitError? {
    do {
        try body()
        Issue.record("\(context()): expected \(kinds) for '\(argument)', but the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(kinds.contains(ErrorKind(error)), "\(context()): got \(error), expected \(kinds)", sourceLocation: sourceLocation)
        #expect(error.argument == argument, "\(context()): got argument '\(error.argument)' (\(error)), expected '\(argument)'",
                sourceLocation: sourceLocation)
        return error
    }
}

func expectError(_ kind: ErrorKind, argument: String, _ context: @autoclosure () -> String = "",
                 sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(MoEKitError) -> Void) {
    expectError([kind], argument: argument, context(), sourceLocation: sourceLocation, body)
}

extension Tag {
    /// Sweeps over large input spaces (all bf16 patterns, millions of floats).
    @Tag static var exhaustive: Self
    /// Multi-threaded and concurrent runs of big tensors.
    @Tag static var threads: Self
    /// Argument validation and error reporting.
    @Tag static var validation: Self
}

extension Trait where Self == TimeLimitTrait {
    /// Fails a test that hangs (a deadlock in the executor) instead of letting it run until CI's own limit.
    /// The clock includes waiting for the settings lock and for cores held by the suite's other tests, which
    /// under a sanitizer on two loaded cores has taken over two minutes, so the limit is wide.
    static var hangGuard: Self { .timeLimit(.minutes(10)) }
}

/// Runs a call into `prior` held as BFloat16 (`bf16Out`, through `bf16`) or Float (through `f32`) and returns the
/// output's bit patterns; callers pass one generic function for both.
func outputBits<E: Error>(_ prior: [Float], bf16Out: Bool, _ f32: (inout [Float]) throws(E) -> Void,
                          _ bf16: (inout [BFloat16]) throws(E) -> Void) throws(E) -> [UInt32] {
    if bf16Out {
        var y = prior.map { BFloat16($0) }
        try bf16(&y)
        return y.map { UInt32($0.bitPattern) }
    }
    var y = prior
    try f32(&y)
    return y.map(\.bitPattern)
}

/// The most rows an expert can have and still take the GEMM's decode kernels, from the lowest ISA's to the highest's:
/// with `.nk` weights 12 on AVX2 and the scalar reference and under BF16 dot products, 16 on AVX-512
/// (ck_gemm_kernels.decode_nk_rows, while x fits its budget); with `.kn` weights 8 (CK_DECODE_M). Rows at or below
/// the lower bound and rows above the upper one take different paths at every ISA.
func decodeRowLimits(_ layout: WeightLayout) -> ClosedRange<Int> { layout == .nk ? 12...16 : 8...8 }

/// Rows per expert drawn from U(0.7, 1.3) x `mean` (rounded), as a router's balanced-but-ragged routing gives them.
func raggedGroupSizes(experts: Int, mean: Int, seed: UInt64) -> [Int] {
    var rng = SplitMix64(seed: seed)
    return (0..<experts).map { _ in Int((Double.random(in: 0.7...1.3, using: &rng) * Double(mean)).rounded()) }
}

/// `a`'s lines of `length` elements (back to back) laid out `stride` apart, `gap` between them.
func spreadRows<T>(_ a: [T], length: Int, stride: Int, gap: T) -> [T] {
    guard length > 0 else { return a }
    var out = [T](repeating: gap, count: a.count / length * stride)
    for r in 0..<a.count / length { out[r * stride..<r * stride + length] = a[r * length..<(r + 1) * length] }
    return out
}

/// The lines of length `length` of an array laid out `stride` apart, back to back, and what lies between them.
func gatherRows<T>(_ a: [T], length: Int, stride: Int) -> (rows: [T], gaps: [T]) {
    var kept = [T](), gaps = [T]()
    for r in 0..<a.count / stride {
        kept += a[r * stride..<r * stride + length]
        gaps += a[r * stride + length..<(r + 1) * stride]
    }
    return (kept, gaps)
}

/// `data`, `experts` weights of `[n, k]` back to back, as `WeightLayout.packed` documents them, written out here
/// independently of the library: per expert ⌈n/64⌉ strips of `[k, 64]`, element `(n', l)` of W at
/// `(n' / 64) · 64 · k + l · 64 + n' % 64`, all-zero bytes (+0) past `n`.
func packedReference<T: BitwiseCopyable>(_ data: [T], experts: Int, n: Int, k: Int) -> [T] {
    let rows = (n + 63) / 64 * 64
    let zero = withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { p -> T in
        UnsafeMutableRawBufferPointer(p).initializeMemory(as: UInt8.self, repeating: 0)
        return p[0]
    }
    var out = [T](repeating: zero, count: experts * rows * k)
    for g in 0..<experts {
        for j in 0..<n { for l in 0..<k { out[g * rows * k + j / 64 * 64 * k + l * 64 + j % 64] = data[(g * n + j) * k + l] } }
    }
    return out
}

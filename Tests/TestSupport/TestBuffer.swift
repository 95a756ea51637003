// Buffers for kernel calls: elements live `offset` elements into an allocation (offset 1 makes every
// span unaligned for its SIMD width) and are followed by guard elements, so tests can see bytes a kernel
// must not touch. Every byte not written by the caller starts as `fillByte`.
// (@inlinable so the generic code is specialised in the test module: the big tensors are millions of elements.)

public struct TestBuffer<Element: BitwiseCopyable> {
    public static var guardCount: Int { 7 }
    public var storage: [Element]
    public let offset: Int
    public let count: Int
    public let fillByte: UInt8

    /// `count` elements whose bytes are all `fillByte`.
    @inlinable
    public init(count: Int, offset: Int = 0, fillByte: UInt8) {
        precondition(count >= 0 && offset >= 0)
        self.offset = offset
        self.count = count
        self.fillByte = fillByte
        let total = offset + count + Self.guardCount
        storage = Array(unsafeUninitializedCapacity: total) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: fillByte)
            initialized = total
        }
    }

    /// A buffer holding `values`, with `fillByte` around them.
    @inlinable
    public init(_ values: [Element], offset: Int = 0, fillByte: UInt8 = 0xA5) {
        self.init(count: values.count, offset: offset, fillByte: fillByte)
        storage.replaceSubrange(offset..<offset + values.count, with: values)
    }

    @inlinable
    public subscript(i: Int) -> Element {
        get { storage[offset + i] }
        set { storage[offset + i] = newValue }
    }

    /// The `count` elements (no offset, no guards).
    @inlinable public var elements: [Element] { Array(storage[offset..<offset + count]) }

    /// Every byte of the allocation: offset padding, elements and guards.
    @inlinable public var allBytes: [UInt8] { storage.withUnsafeBytes { Array($0) } }

    /// Whether the padding before the elements and the guards after them still hold `fillByte`.
    @inlinable
    public var guardsIntact: Bool {
        storage.withUnsafeBytes { raw in
            let size = MemoryLayout<Element>.stride
            let head = raw[0..<offset * size], tail = raw[(offset + count) * size..<raw.count]
            return head.allSatisfy { $0 == fillByte } && tail.allSatisfy { $0 == fillByte }
        }
    }

    @inlinable
    public func withSpan<R, E: Error>(_ body: (Span<Element>) throws(E) -> R) throws(E) -> R {
        try storage.withUnsafeBufferPointer { (buffer) throws(E) -> R in
            let slice = UnsafeBufferPointer(rebasing: buffer[offset..<offset + count])
            return try body(slice.span)
        }
    }

    @inlinable
    public mutating func withMutableSpan<R, E: Error>(_ body: (inout MutableSpan<Element>) throws(E) -> R) throws(E) -> R {
        let (offset, count) = (self.offset, self.count)
        return try storage.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in
            let slice = UnsafeMutableBufferPointer(rebasing: buffer[offset..<offset + count])
            var span = slice.mutableSpan
            return try body(&span)
        }
    }
}

extension TestBuffer {
    /// A buffer for a row-major [rows, columns] matrix with row stride `stride` (extent (rows−1)·stride +
    /// columns elements), every element `fillByte`.
    @inlinable
    public init(rows: Int, columns: Int, stride: Int, offset: Int = 0, fillByte: UInt8) {
        let extent = rows == 0 || columns == 0 ? 0 : (rows - 1) * stride + columns
        self.init(count: extent, offset: offset, fillByte: fillByte)
    }

    /// Element [r, c] of a strided matrix stored in this buffer.
    @inlinable
    public subscript(r: Int, c: Int, stride stride: Int) -> Element {
        get { self[r * stride + c] }
        set { self[r * stride + c] = newValue }
    }

    /// The packed [rows, columns] contents of a strided matrix stored in this buffer.
    @inlinable
    public func matrix(rows: Int, columns: Int, stride: Int) -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(rows * columns)
        for r in 0..<rows { out += storage[offset + r * stride..<offset + r * stride + columns] }
        return out
    }
}

/// Packs row-major `values` [rows, columns] into a strided matrix buffer; gaps hold `fillByte`.
@inlinable
public func stridedBuffer<Element: BitwiseCopyable>(_ values: [Element], rows: Int, columns: Int, stride: Int,
                                                    offset: Int = 0, fillByte: UInt8 = 0xA5) -> TestBuffer<Element> {
    var buffer = TestBuffer<Element>(rows: rows, columns: columns, stride: stride, offset: offset, fillByte: fillByte)
    for r in 0..<rows {
        let start = offset + r * stride
        buffer.storage.replaceSubrange(start..<start + columns, with: values[r * columns..<(r + 1) * columns])
    }
    return buffer
}

/// The bytes of a value, for exact comparisons of any element type.
@inlinable
public func bytes<T: BitwiseCopyable>(of value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

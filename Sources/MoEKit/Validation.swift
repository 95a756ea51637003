/// Shape checks done at the Swift boundary, before any pointer reaches the kernels. The C layer checks the
/// rest (strides, overflow, options); these cover what only Swift knows: signs and buffer lengths.

/// A row-major matrix's extent in elements: `(rows - 1) * stride + columns`, or 0 when empty.
func extent(rows: Int, columns: Int, stride: Int) -> Int {
    guard rows > 0, columns > 0 else { return 0 }
    let (a, o1) = (rows - 1).multipliedReportingOverflow(by: stride)
    let (b, o2) = a.addingReportingOverflow(columns)
    return o1 || o2 ? Int.max : b
}

func requireNonNegative(_ values: KeyValuePairs<String, Int>) throws(MoEKitError) {
    for (name, value) in values where value < 0 {
        throw .invalidShape(argument: name, reason: "\(name) is \(value); it must not be negative")
    }
}

func requirePositive(_ value: Int, _ name: String) throws(MoEKitError) {
    if value < 1 { throw .invalidShape(argument: name, reason: "\(name) is \(value); it must be at least 1") }
}

/// Checks that a buffer of `count` elements holds a [rows, columns] matrix with row stride `stride`.
func requireMatrix(_ name: String, count: Int, rows: Int, columns: Int, stride: Int) throws(MoEKitError) {
    if stride < columns, rows > 0, columns > 0 {
        throw .invalidStride(argument: name, reason: "\(name): row stride \(stride) is smaller than the row length \(columns)")
    }
    let needed = extent(rows: rows, columns: columns, stride: stride)
    if needed == Int.max { throw .sizeOverflow(argument: name) }
    if count < needed { throw .bufferTooSmall(argument: name, required: needed, actual: count) }
}

func divUp(_ a: Int, _ b: Int) -> Int { a / b + (a % b != 0 ? 1 : 0) }

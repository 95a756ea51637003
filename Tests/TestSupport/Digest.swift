// FNV-1a-64, the digest the ml_dtypes-derived constants are expressed in (Tests/Scripts/ml_dtypes_digests.py).

public struct FNV1a64 {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public init() {}
    public mutating func add(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    /// Adds `x`'s bytes, little-endian.
    public mutating func add<T: FixedWidthInteger>(littleEndian x: T) {
        var v = x.littleEndian
        withUnsafeBytes(of: &v) { for b in $0 { add(b) } }
    }
    public static func of<T: FixedWidthInteger>(_ values: some Sequence<T>) -> UInt64 {
        var h = FNV1a64()
        for v in values { h.add(littleEndian: v) }
        return h.value
    }
}

// Constants computed off-line with ml_dtypes 0.6.0 by Tests/Scripts/ml_dtypes_digests.py: FNV-1a-64 digests of
// ml_dtypes' casts over the input sets of InputSets.swift. They pin MoEKit's "nan" overflow mode (and the
// saturate mode derived from it by the documented clamp) to ml_dtypes bit for bit without Python at test time.
import MoEKit

public enum MLDtypesDigests {
    public struct FormatDigests: Sendable {
        /// 256 codes decoded to f32 / bf16 (little-endian bit patterns).
        public let decodeFloat: UInt64, decodeBFloat16: UInt64
        /// All 65536 bf16 inputs encoded.
        public let allBFloat16Nan: UInt64, allBFloat16Saturate: UInt64
        /// InputSets.midpoints(format) encoded.
        public let midpointCount: Int, midpointsNan: UInt64, midpointsSaturate: UInt64
        /// InputSets.strideSweep encoded.
        public let strideNan: UInt64, strideSaturate: UInt64

        public func encode(_ set: EncodeSet, _ mode: OverflowMode) -> UInt64 {
            switch (set, mode) {
            case (.allBFloat16, .nan): return allBFloat16Nan
            case (.allBFloat16, .saturate): return allBFloat16Saturate
            case (.midpoints, .nan): return midpointsNan
            case (.midpoints, .saturate): return midpointsSaturate
            case (.strideSweep, .nan): return strideNan
            case (.strideSweep, .saturate): return strideSaturate
            }
        }
    }
    public enum EncodeSet: Sendable, CaseIterable { case allBFloat16, midpoints, strideSweep }

    public static let e4m3fn = FormatDigests(
        decodeFloat: 0xDAD2_59C5_0F75_7625, decodeBFloat16: 0xA703_7D64_56AA_4855,
        allBFloat16Nan: 0xFCF9_B068_35FB_1295, allBFloat16Saturate: 0xF9DE_A88C_05BE_79A5,
        midpointCount: 1270, midpointsNan: 0x22A6_0279_B308_97E1, midpointsSaturate: 0xAE09_2C7B_3184_0785,
        strideNan: 0x0816_AB14_094F_27A2, strideSaturate: 0x7A71_7259_E662_CF4E)

    public static let e5m2 = FormatDigests(
        decodeFloat: 0xA4C9_F019_470B_0385, decodeBFloat16: 0x7213_C7D3_42AC_1B55,
        allBFloat16Nan: 0xDC7C_834C_4593_4EA5, allBFloat16Saturate: 0x2868_A19E_0E65_2445,
        midpointCount: 1240, midpointsNan: 0x5AAA_9192_7489_49AD, midpointsSaturate: 0x2CA0_6117_EC68_350F,
        strideNan: 0x6CFF_3BA6_5768_97D9, strideSaturate: 0x7B28_B436_47E0_EFE1)

    public static func of(_ format: FP8Format) -> FormatDigests { format == .e4m3fn ? e4m3fn : e5m2 }

    /// InputSets.strideSweep rounded to bf16 by ml_dtypes.
    public static let strideSweepBFloat16: UInt64 = 0xF4C1_54A9_6518_3538
}

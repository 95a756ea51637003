// Proves: the scale rules (ck_formats.h, semantics F3/F4/F8, edge row 4): UE8M0 bytes decode to exactly
// 2^(e−127) (0xFF = NaN) for all 256 bytes; the C scale helpers give s = max(amax, 1e-4) / max in Float and
// the exact smallest power of two >= s (a ceiling, not nearest: 1.5 -> 2, 0.75 -> 1, 3 -> 4), 0xFF for
// NaN/inf amax, on landmarks and random amax values.
import CKernels
import MoEKit
import TestSupport
import Testing

@Suite("Scale rules")
struct ScaleRuleTests {
    @Test("UE8M0 values of all 256 bytes")
    func ue8m0Values() {
        var m = Mismatches()
        for e in 0...255 {
            let got = UE8M0(bitPattern: UInt8(e)).floatValue, want = ScaleReference.ue8m0Value(UInt8(e))
            if !(want.isNaN ? got.isNaN : got.bitPattern == want.bitPattern) { m.add("e \(e): \(got) vs \(want)") }
        }
        expectNone(m, "UE8M0.floatValue")
        #expect(UE8M0(bitPattern: 127).floatValue == 1)
        #expect(UE8M0(bitPattern: 0).floatValue == 0x1p-127)
        #expect(UE8M0(bitPattern: 254).floatValue == 0x1p127)
        #expect(UE8M0(bitPattern: 255).floatValue.isNaN)
    }

    static let landmarkAmax: [Float] = [
        0, 0x1p-149, 1e-9, Float(1e-4).nextDown, Float(1e-4), Float(1e-4).nextUp, 1e-3, 0.5, 1, 336, 447, 448, Float(448).nextUp,
        672, 896, 1344, 57344, 1e20, .greatestFiniteMagnitude, .infinity, .nan, Float(bitPattern: 0x7FA0_0000),
    ]

    @Test("C scale helpers equal the reference", arguments: FP8Format.allCases)
    func helpers(format: FP8Format) {
        var rng = SplitMix64(seed: 0x5CA1E)
        let amaxes = Self.landmarkAmax + RandomData.varied(4096, exponents: -40...120, using: &rng).map(\.magnitude)
        let cf: ck_fp8_format = format == .e4m3fn ? CK_FP8_E4M3FN : CK_FP8_E5M2
        var m = Mismatches()
        for a in amaxes {
            let s = ck_quant_scale_f32(a, cf), want = ScaleReference.floatScale(amax: a, format: format)
            if !(want.isNaN ? s.isNaN : s.bitPattern == want.bitPattern) { m.add("f32 scale of \(a): \(s) vs \(want)") }
            let e = ck_quant_scale_ue8m0(a, cf), wantE = ScaleReference.ue8m0(amax: a, format: format)
            if e != wantE { m.add("ue8m0 of \(a): \(e) vs \(wantE)") }
            // The exponent is the ceiling: 2^(e-127) >= s > 2^(e-128).
            if a.isFinite {
                let p = Double(ScaleReference.ue8m0Value(e))
                if !(p >= Double(s) && p / 2 < Double(s)) { m.add("ue8m0 \(e) is not the power-of-two ceiling of \(s)") }
            }
        }
        expectNone(m, "\(format) scale helpers")
    }

    @Test("landmarks: floor, ceiling, non-finite, invalid formats")
    func landmarks() {
        let floor = Float(1e-4)
        #expect(ck_quant_scale_f32(0, CK_FP8_E4M3FN).bitPattern == (floor / 448).bitPattern)
        #expect(ck_quant_scale_f32(0, CK_FP8_E5M2).bitPattern == (floor / 57344).bitPattern)
        #expect(ck_quant_scale_ue8m0(0, CK_FP8_E4M3FN) == 127 - 22) // 2^-22 >= 2.2321e-7 > 2^-23 (edge row 4)
        #expect(ck_quant_scale_ue8m0(0, CK_FP8_E5M2) == 127 - 29)   // 2^-29 >= 1.7439e-9 > 2^-30
        #expect(ck_quant_scale_ue8m0(448, CK_FP8_E4M3FN) == 127)     // s = 1 exactly
        #expect(ck_quant_scale_ue8m0(Float(448).nextUp, CK_FP8_E4M3FN) == 128)
        #expect(ck_quant_scale_ue8m0(672, CK_FP8_E4M3FN) == 128)     // s = 1.5 -> 2 (not nearest)
        #expect(ck_quant_scale_ue8m0(336, CK_FP8_E4M3FN) == 127)     // s = 0.75 -> 1
        #expect(ck_quant_scale_ue8m0(1344, CK_FP8_E4M3FN) == 129)    // s = 3 -> 4
        #expect(ck_quant_scale_f32(.infinity, CK_FP8_E4M3FN) == .infinity)
        #expect(ck_quant_scale_f32(.nan, CK_FP8_E5M2).isNaN)
        #expect(ck_quant_scale_ue8m0(.infinity, CK_FP8_E4M3FN) == 0xFF)
        #expect(ck_quant_scale_ue8m0(.nan, CK_FP8_E5M2) == 0xFF)
        #expect(ck_ue8m0_to_f32(0xFF).isNaN && ck_ue8m0_to_f32(0) == 0x1p-127)
        for bad in [ck_fp8_format(rawValue: 2), ck_fp8_format(rawValue: 3)] { // not e5m2 / e4m3 by their low bit
            #expect(ck_quant_scale_f32(448, bad).isNaN && ck_quant_scale_ue8m0(448, bad) == 0xFF)
        }
    }
}

/*
 * The FP32 FMA probe written once over the vector vocabulary (vec_<isa>.h): CHAINS independent FMA chains,
 * enough to cover the FMA latency on every port (latency x ports is at most 10 on x86 cores with FMA) and
 * few enough to stay in registers with the two constants (AVX2 has 16). Returns the flops executed (2 per
 * lane per FMA).
 */
enum { CK_PROBE_CHAINS = CK_VW == 8 ? 12 : 16 };

static double CK_SIMD(fma_f32)(uint64_t iterations) {
    volatile float seed = 1.0f;
    vf32 acc[CK_PROBE_CHAINS];
    for (int c = 0; c < CK_PROBE_CHAINS; c++) acc[c] = v_setf(seed + (float)c);
    const vf32 a = v_setf(seed * 0.999f), b = v_setf(seed * 1e-3f);
    for (uint64_t i = 0; i < iterations; i++)
        for (int c = 0; c < CK_PROBE_CHAINS; c++) acc[c] = v_fmaf(acc[c], a, b);
    float lanes[CK_VW];
    for (int c = 1; c < CK_PROBE_CHAINS; c++) acc[0] = v_addf(acc[0], acc[c]);
    v_store_u32(lanes, v_as_u32(acc[0]));
    seed = lanes[0];
    return 2.0 * CK_VW * CK_PROBE_CHAINS * (double)iterations;
}

/* Probe kernels for AVX-512: the FMA probe (probe_simd.h over vec_avx512.h) and, for AVX512_BF16, the same
 * chains of vdpbf16ps (32 bf16 pairs = 64 flops per instruction). */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#include "../simd/vec_avx512.h"
#include "../simd/probe_simd.h"
#pragma clang attribute pop

__attribute__((target("avx512f,avx512bf16"))) static double dot_bf16_avx512(uint64_t iterations) {
    volatile float seed = 1.0f;
    __m512 acc[CK_PROBE_CHAINS];
    for (int c = 0; c < CK_PROBE_CHAINS; c++) acc[c] = _mm512_set1_ps(seed + (float)c);
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(seed * 1e-3f), _mm512_set1_ps(seed * 2e-3f));
    for (uint64_t i = 0; i < iterations; i++)
        for (int c = 0; c < CK_PROBE_CHAINS; c++) acc[c] = _mm512_dpbf16_ps(acc[c], a, a);
    for (int c = 1; c < CK_PROBE_CHAINS; c++) acc[0] = _mm512_add_ps(acc[0], acc[c]);
    seed = _mm512_reduce_add_ps(acc[0]);
    return 2.0 * 32 * CK_PROBE_CHAINS * (double)iterations;
}

const ck_probe_kernels ck_probe_avx512 = {.fma_f32 = fma_f32_avx512, .dot_bf16 = NULL};
const ck_probe_kernels ck_probe_avx512bf16 = {.fma_f32 = fma_f32_avx512, .dot_bf16 = dot_bf16_avx512};
#endif

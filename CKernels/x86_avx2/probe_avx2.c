/* AVX2 probe kernel: 12 independent 8-lane FMA chains (enough to cover FMA latency x 2 ports). */
#if defined(__x86_64__)
#include "../core/internal.h"
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static double fma_f32_avx2(uint64_t iterations) {
    enum { CHAINS = 12 };
    volatile float seed = 1.0f;
    __m256 acc[CHAINS];
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(seed + (float)c);
    const __m256 a = _mm256_set1_ps(seed * 0.999f), b = _mm256_set1_ps(seed * 1e-3f);
    for (uint64_t i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    for (int c = 1; c < CHAINS; c++) acc[0] = _mm256_add_ps(acc[0], acc[c]);
    seed = _mm256_cvtss_f32(acc[0]);
    return 2.0 * 8 * CHAINS * (double)iterations;
}

const ck_probe_kernels ck_probe_avx2 = {.fma_f32 = fma_f32_avx2, .dot_bf16 = NULL};
#endif

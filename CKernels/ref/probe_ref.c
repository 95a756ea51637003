/* Scalar probe kernels: independent multiply-add chains the compiler may map to baseline SSE2. */
#include "../core/internal.h"

static double fma_f32_ref(uint64_t iterations) {
    enum { CHAINS = 16 };
    volatile float seed = 1.0f;
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++) acc[c] = seed + (float)c;
    const float a = seed * 0.999f, b = seed * 1e-3f;
    for (uint64_t i = 0; i < iterations; i++)
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * a + b;
    float sum = 0;
    for (int c = 0; c < CHAINS; c++) sum += acc[c];
    seed = sum;
    return 2.0 * CHAINS * (double)iterations;
}

const ck_probe_kernels ck_probe_scalar = {.fma_f32 = fma_f32_ref, .dot_bf16 = NULL};

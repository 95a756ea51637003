/* Probe kernels for AVX2 (+FMA): probe_simd.h over vec_avx2.h. */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "../simd/vec_avx2.h"
#include "../simd/probe_simd.h"
#pragma clang attribute pop

const ck_probe_kernels ck_probe_avx2 = {.fma_f32 = fma_f32_avx2, .dot_bf16 = NULL};
#endif

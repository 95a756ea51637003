/* FP32 GEMM microkernels for AVX2 (16 ymm registers): 6 x 16 tiles (12 accumulators), decode on 8 x 8 blocks. */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "../simd/vec_avx2.h"
#define CK_GEMM_MR 6
#define CK_GEMM_V 2
#include "../simd/gemm_simd.h"
#pragma clang attribute pop
#endif

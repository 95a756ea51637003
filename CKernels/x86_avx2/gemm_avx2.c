/* FP32 GEMM microkernels for AVX2 (16 ymm registers): 2 x 3 dot tiles (each 16-lane chain is two ymm),
 * 6 x 16 outer-product tiles. */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "../simd/vec_avx2.h"
#define CK_DOT_MR 2
#define CK_DOT_NR 3
#define CK_OUTER_MR 6
#define CK_OUTER_V 2
#include "../simd/gemm_simd.h"
#pragma clang attribute pop
#endif

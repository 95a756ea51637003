/* FP32 GEMM microkernels for AVX2 (16 ymm registers): wide 6 x 16 tiles (12 accumulators); the transposed
 * form's 12 x 8 and 6 x 16 (the wide tile). */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "../simd/vec_avx2.h"
#define CK_GEMM_WIDE_MR 6
#define CK_GEMM_WIDE_V 2
#define CK_GEMM_T1_MR 12
#define CK_GEMM_T2_MR 6
#include "../simd/gemm_simd.h"
#pragma clang attribute pop
#endif

/* FP32 GEMM microkernels for AVX-512: wide 6 x 64 tiles (24 zmm accumulators); the transposed form's
 * 12 x 16 and 12 x 32. */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#include "../simd/vec_avx512.h"
#define CK_GEMM_WIDE_MR 6
#define CK_GEMM_WIDE_V 4
#define CK_GEMM_T1_MR 12
#define CK_GEMM_T2_MR 12
#include "../simd/gemm_simd.h"
#pragma clang attribute pop
#endif

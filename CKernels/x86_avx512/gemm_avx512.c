/* FP32 GEMM microkernels for AVX-512: 4 x 6 dot tiles (24 zmm chains), 6 x 64 outer-product tiles. */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#include "../simd/vec_avx512.h"
#define CK_DOT_MR 4
#define CK_DOT_NR 6
#define CK_OUTER_MR 6
#define CK_OUTER_V 4
#include "../simd/gemm_simd.h"
#pragma clang attribute pop
#endif

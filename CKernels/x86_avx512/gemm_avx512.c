/* FP32 GEMM microkernels for AVX-512: 6 x 64 tiles (24 zmm accumulators), decode on 16 x 16 blocks. Compiled twice:
 * on its own, and with CK_AVX512_VBMI by gemm_avx512vbmi.c. */
#if defined(__x86_64__)
#include "../core/internal.h"
#if CK_AVX512_VBMI
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi"))), apply_to = function)
#else
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#endif
#include "../simd/vec_avx512.h"
#define CK_GEMM_MR 6
#define CK_GEMM_V 4
#include "../simd/gemm_simd.h"
#pragma clang attribute pop
#endif

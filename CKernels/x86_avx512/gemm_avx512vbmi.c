/* The AVX-512 GEMM kernels (gemm_avx512.c) with AVX512_VBMI, whose vpermt2b decodes E4M3 blocks by table lookups
 * (v_load_e4m3_t in vec_avx512.h): ck_gemm_avx512vbmi, for the avx512vbmi and avx512bf16vbmi levels. */
#define CK_AVX512_VBMI 1
#include "gemm_avx512.c"

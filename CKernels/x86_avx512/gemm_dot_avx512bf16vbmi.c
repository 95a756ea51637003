/* The BF16 dot-product kernels (gemm_dot_avx512bf16.c) with AVX512_VBMI, whose vpermt2b decodes E4M3 blocks by table
 * lookups (v_e4m3_words in vec_avx512.h): ck_dot_avx512bf16vbmi, for the avx512bf16vbmi level. */
#define CK_AVX512_VBMI 1
#include "gemm_dot_avx512bf16.c"

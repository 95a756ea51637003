/* Format kernels for AVX2 (+FMA, F16C): formats_simd.h over vec_avx2.h. */
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "../simd/vec_avx2.h"
#include "../simd/formats_simd.h"
#pragma clang attribute pop
#endif

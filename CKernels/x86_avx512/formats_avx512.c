/* Format kernels for AVX-512 (F/BW/DQ/VL): formats_simd.h over vec_avx512.h. */
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#include "../simd/vec_avx512.h"
#include "../simd/formats_simd.h"
#pragma clang attribute pop
#endif

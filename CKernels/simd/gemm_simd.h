/*
 * FP32 GEMM microkernels written once over the vector vocabulary (vec_<isa>.h), instantiated per ISA with
 * CK_GEMM_MR rows x CK_GEMM_V vectors of outer-product tiles over packed B panels.
 * Contract and canonical order: ck_gemm_kernels in core/internal.h; every ISA gives the scalar bits.
 */
#include "elements_simd.h"

#define CK_INLINE static inline __attribute__((always_inline))
#define CK_GEMM_NR (CK_GEMM_V * CK_VW)

/* mr rows x CK_GEMM_NR columns of fma chains over kc (see ck_gemm_kernels.tile). */
CK_INLINE void tile_body(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, float *out,
                         const float *sa, float sb, int first, const int mr) {
    vf32 acc[CK_GEMM_MR][CK_GEMM_V];
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < CK_GEMM_V; v++)
            acc[r][v] = first || sa ? v_setf(0.0f) : v_as_f32(v_load_u32(out + r * CK_GEMM_NR + v * CK_VW));
    for (size_t l = 0; l < kc; l++) {
        vf32 bv[CK_GEMM_V];
#pragma unroll
        for (int v = 0; v < CK_GEMM_V; v++) bv[v] = v_as_f32(v_load_u32(pb + l * CK_GEMM_NR + v * CK_VW));
#pragma unroll
        for (int r = 0; r < mr; r++) {
            const vf32 ar = v_setf(a[r * rsa + l * csa]);
#pragma unroll
            for (int v = 0; v < CK_GEMM_V; v++) acc[r][v] = v_fmaf(ar, bv[v], acc[r][v]);
        }
    }
    if (sa) /* the block's partial sums, scaled: out = fma(p * sa[r], sb, out) */
#pragma unroll
        for (int r = 0; r < mr; r++)
#pragma unroll
            for (int v = 0; v < CK_GEMM_V; v++) {
                const vf32 old = first ? v_setf(0.0f) : v_as_f32(v_load_u32(out + r * CK_GEMM_NR + v * CK_VW));
                acc[r][v] = v_fmaf(v_mulf(acc[r][v], v_setf(sa[r])), v_setf(sb), old);
            }
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < CK_GEMM_V; v++) v_store_u32(out + r * CK_GEMM_NR + v * CK_VW, v_as_u32(acc[r][v]));
}

static void CK_SIMD(gemm_tile)(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, float *out,
                               int rows, const float *sa, float sb, int first) {
    switch (rows) {
    case 1: tile_body(kc, a, rsa, csa, pb, out, sa, sb, first, 1); break;
    case 2: tile_body(kc, a, rsa, csa, pb, out, sa, sb, first, 2); break;
    case 3: tile_body(kc, a, rsa, csa, pb, out, sa, sb, first, 3); break;
    case 4: tile_body(kc, a, rsa, csa, pb, out, sa, sb, first, 4); break;
    case 5: tile_body(kc, a, rsa, csa, pb, out, sa, sb, first, 5); break;
    default: tile_body(kc, a, rsa, csa, pb, out, sa, sb, first, CK_GEMM_MR); break;
    }
}

/* CK_VW consecutive elements of type t from element i of p, decoded exactly to f32. */
CK_INLINE vf32 load_f32_of(const void *p, ck_dtype t, size_t i) {
    switch (t) {
    case CK_DTYPE_F32: return v_as_f32(v_load_f32((const float *)p + i));
    case CK_DTYPE_BF16: return v_as_f32(v_load_bf16((const uint16_t *)p + i));
    default: return v_as_f32(v_fp8_to_bits(v_load_u8((const uint8_t *)p + i), &ck_fp8_specs[CK_FP8_E4M3FN]));
    }
}

/* dst[l * NR + c] = B(l, c) = src[l*ls + c*cs] decoded (0 for c >= cols): rows copied as vectors when
 * cs == 1, CK_VW x CK_VW blocks transposed in registers when ls == 1 (prefetching the same lines of the
 * next kc), element by element otherwise and at the edges. */
CK_INLINE void pack_body(const void *src, const ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst) {
    size_t l = 0;
    if (cs == 1 && cols == CK_GEMM_NR)
        for (; l < kc; l++)
#pragma unroll
            for (int v = 0; v < CK_GEMM_V; v++)
                v_store_u32(dst + l * CK_GEMM_NR + v * CK_VW, v_as_u32(load_f32_of(src, t, l * ls + (size_t)v * CK_VW)));
    else if (ls == 1 && cols == CK_GEMM_NR) {
        const size_t size = t == CK_DTYPE_F32 ? 4 : t == CK_DTYPE_BF16 ? 2 : 1;
        const size_t full = kc / CK_VW * CK_VW;
        for (int v = 0; v < CK_GEMM_V; v++) /* 16 rows (streams) at a time, each read along l */
            for (l = 0; l < full; l += CK_VW) {
                vf32 r[CK_VW];
                for (int i = 0; i < CK_VW; i++) {
                    const size_t at = (size_t)(v * CK_VW + i) * cs + l;
                    __builtin_prefetch((const char *)src + (at + kc) * size);
                    r[i] = load_f32_of(src, t, at);
                }
                v_transpose(r);
                for (int i = 0; i < CK_VW; i++) v_store_u32(dst + (l + (size_t)i) * CK_GEMM_NR + v * CK_VW, v_as_u32(r[i]));
            }
    }
    for (; l < kc; l++)
        for (int c = 0; c < CK_GEMM_NR; c++) dst[l * CK_GEMM_NR + c] = c < cols ? ck_load_f32(src, t, l * ls + (size_t)c * cs) : 0.0f;
}

static void CK_SIMD(gemm_pack)(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst) {
    switch (t) {
    case CK_DTYPE_F32: pack_body(src, CK_DTYPE_F32, ls, cs, kc, cols, dst); break;
    case CK_DTYPE_BF16: pack_body(src, CK_DTYPE_BF16, ls, cs, kc, cols, dst); break;
    default: pack_body(src, CK_DTYPE_E4M3FN, ls, cs, kc, cols, dst); break;
    }
}

const ck_gemm_kernels CK_SIMD(ck_gemm) = {
    .mr = CK_GEMM_MR, .nr = CK_GEMM_NR, .tile = CK_SIMD(gemm_tile), .pack = CK_SIMD(gemm_pack),
};

/*
 * FP32 GEMM microkernels written once over the vector vocabulary (vec_<isa>.h), instantiated per ISA in
 * tile shapes of outer products over packed B panels: wide (CK_GEMM_WIDE_MR rows x CK_GEMM_WIDE_V vectors,
 * the GEMM's workhorse) and the transposed form's one- and two-vector panels (CK_GEMM_T1_MR x 1 and
 * CK_GEMM_T2_MR x 2 vectors), where the rows are weight rows and the few tokens are the columns.
 * Contract and canonical order: ck_gemm_kernels in core/internal.h; every ISA gives the scalar bits.
 */
#include "elements_simd.h"

#define CK_INLINE static inline __attribute__((always_inline))
enum { CK_MAX_MR = 12, CK_MAX_V = 4 };

/* mr rows x nv vectors of fma chains over kc (see ck_gemm_shape.tile). */
CK_INLINE void tile_body(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, float *out,
                         const float *sa, float sb, int first, const int mr, const int nv) {
    const int nr = nv * CK_VW;
    vf32 acc[CK_MAX_MR][CK_MAX_V];
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < nv; v++)
            acc[r][v] = first || sa ? v_setf(0.0f) : v_as_f32(v_load_u32(out + r * nr + v * CK_VW));
    const float *row[CK_MAX_MR]; /* A's rows, so that each broadcast is one addressing mode off l */
#pragma unroll
    for (int r = 0; r < mr; r++) row[r] = a + r * rsa;
    for (size_t l = 0, at = 0; l < kc; l++, at += csa) {
        vf32 bv[CK_MAX_V];
#pragma unroll
        for (int v = 0; v < nv; v++) bv[v] = v_as_f32(v_load_u32(pb + l * (size_t)nr + v * CK_VW));
#pragma unroll
        for (int r = 0; r < mr; r++) {
            const vf32 ar = v_setf(row[r][at]);
#pragma unroll
            for (int v = 0; v < nv; v++) acc[r][v] = v_fmaf(ar, bv[v], acc[r][v]);
        }
    }
    if (sa) /* the block's partial sums, scaled: out = fma(p * sa[r], sb, out) */
#pragma unroll
        for (int r = 0; r < mr; r++)
#pragma unroll
            for (int v = 0; v < nv; v++) {
                const vf32 old = first ? v_setf(0.0f) : v_as_f32(v_load_u32(out + r * nr + v * CK_VW));
                acc[r][v] = v_fmaf(v_mulf(acc[r][v], v_setf(sa[r])), v_setf(sb), old);
            }
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < nv; v++) v_store_u32(out + r * nr + v * CK_VW, v_as_u32(acc[r][v]));
}

/* CK_VW consecutive elements of type t from element i of p, decoded exactly to f32. */
CK_INLINE vf32 load_f32_of(const void *p, ck_dtype t, size_t i) {
    switch (t) {
    case CK_DTYPE_F32: return v_as_f32(v_load_f32((const float *)p + i));
    case CK_DTYPE_BF16: return v_as_f32(v_load_bf16((const uint16_t *)p + i));
    default: return v_as_f32(v_fp8_to_bits(v_load_u8((const uint8_t *)p + i), &ck_fp8_specs[CK_FP8_E4M3FN]));
    }
}

/* The strips of B(l, c) = src[l*ls + c*cs] (l < kc, c < cols) decoded: strip s (columns s*nr ..< s*nr + nr,
 * nr = nv vectors, 0 past cols) at dst + s*kc*nr as [kc][nr]. Rows are copied as vectors when cs == 1 (each
 * row across all strips at once, so every source row is read in one run), CK_VW x CK_VW blocks transposed
 * in registers when ls == 1 (CK_VW source rows at a time, prefetching the same lines of the next kc into L2:
 * rows 4 KiB apart share L1 sets, so L1 prefetches would evict each other), element
 * by element otherwise and in ragged strips. */
CK_INLINE void pack_body(const void *src, const ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst,
                         const int nv) {
    const int nr = nv * CK_VW, full = cols / nr;
    if (cs == 1)
        for (size_t l = 0; l < kc; l++)
            for (int st = 0; st < full; st++)
#pragma unroll
                for (int v = 0; v < nv; v++)
                    v_store_u32(dst + ((size_t)st * kc + l) * nr + v * CK_VW,
                                v_as_u32(load_f32_of(src, t, l * ls + (size_t)(st * nr + v * CK_VW))));
    else if (ls == 1) {
        const size_t size = t == CK_DTYPE_F32 ? 4 : t == CK_DTYPE_BF16 ? 2 : 1, blocks = kc / CK_VW * CK_VW;
        for (int st = 0; st < full; st++) {
            for (int v = 0; v < nv; v++) /* CK_VW source rows (streams) at a time, each read along l */
                for (size_t l = 0; l < blocks; l += CK_VW) {
                    vf32 r[CK_VW];
                    for (int i = 0; i < CK_VW; i++) {
                        const size_t at = (size_t)(st * nr + v * CK_VW + i) * cs + l;
                        __builtin_prefetch((const char *)src + (at + kc) * size, 0, 2); /* into L2 */
                        r[i] = load_f32_of(src, t, at);
                    }
                    v_transpose(r);
                    for (int i = 0; i < CK_VW; i++)
                        v_store_u32(dst + ((size_t)st * kc + l + (size_t)i) * nr + v * CK_VW, v_as_u32(r[i]));
                }
            for (size_t l = blocks; l < kc; l++)
                for (int c = 0; c < nr; c++)
                    dst[((size_t)st * kc + l) * nr + c] = ck_load_f32(src, t, l + (size_t)(st * nr + c) * cs);
        }
    }
    for (int st = cs == 1 || ls == 1 ? full : 0; st * nr < cols; st++)
        for (size_t l = 0; l < kc; l++)
            for (int c = 0; c < nr; c++) {
                const int col = st * nr + c;
                dst[((size_t)st * kc + l) * nr + c] = col < cols ? ck_load_f32(src, t, l * ls + (size_t)col * cs) : 0.0f;
            }
}

/* The entry points of one tile shape: tile_<name> (a case per row count up to MR) and pack_<name>. */
#define CK_TILE_ROWS(R, MR, NV)                                                                             \
    case R:                                                                                                 \
        if (R <= MR) tile_body(kc, a, rsa, csa, pb, out, sa, sb, first, R, NV);                             \
        break;
#define CK_GEMM_SHAPE(NAME, MR, NV)                                                                         \
    static void CK_SIMD(tile_##NAME)(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb,    \
                                     float *out, int rows, const float *sa, float sb, int first) {          \
        switch (rows) {                                                                                     \
            CK_TILE_ROWS(1, MR, NV) CK_TILE_ROWS(2, MR, NV) CK_TILE_ROWS(3, MR, NV) CK_TILE_ROWS(4, MR, NV)   \
            CK_TILE_ROWS(5, MR, NV) CK_TILE_ROWS(6, MR, NV) CK_TILE_ROWS(7, MR, NV) CK_TILE_ROWS(8, MR, NV)   \
            CK_TILE_ROWS(9, MR, NV) CK_TILE_ROWS(10, MR, NV) CK_TILE_ROWS(11, MR, NV) CK_TILE_ROWS(12, MR, NV) \
        }                                                                                                   \
    }                                                                                                       \
    static void CK_SIMD(pack_##NAME)(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, \
                                     float *dst) {                                                          \
        switch (t) {                                                                                        \
        case CK_DTYPE_F32: pack_body(src, CK_DTYPE_F32, ls, cs, kc, cols, dst, NV); break;                  \
        case CK_DTYPE_BF16: pack_body(src, CK_DTYPE_BF16, ls, cs, kc, cols, dst, NV); break;                \
        default: pack_body(src, CK_DTYPE_E4M3FN, ls, cs, kc, cols, dst, NV); break;                         \
        }                                                                                                   \
    }

CK_GEMM_SHAPE(wide, CK_GEMM_WIDE_MR, CK_GEMM_WIDE_V)
CK_GEMM_SHAPE(t1, CK_GEMM_T1_MR, 1)
#if CK_GEMM_T2_MR == CK_GEMM_WIDE_MR && CK_GEMM_WIDE_V == 2 /* the same tile: no second copy */
#define CK_T2_FNS CK_SIMD(tile_wide), CK_SIMD(pack_wide)
#else
CK_GEMM_SHAPE(t2, CK_GEMM_T2_MR, 2)
#define CK_T2_FNS CK_SIMD(tile_t2), CK_SIMD(pack_t2)
#endif

const ck_gemm_kernels CK_SIMD(ck_gemm) = {
    .wide = {CK_GEMM_WIDE_MR, CK_GEMM_WIDE_V * CK_VW, CK_SIMD(tile_wide), CK_SIMD(pack_wide)},
    .transposed = {{CK_GEMM_T1_MR, CK_VW, CK_SIMD(tile_t1), CK_SIMD(pack_t1)},
                   {CK_GEMM_T2_MR, 2 * CK_VW, CK_T2_FNS}},
};

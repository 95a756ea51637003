/*
 * FP32 GEMM microkernels written once over the vector vocabulary (vec_<isa>.h), instantiated per ISA with
 * CK_GEMM_MR rows x CK_GEMM_V vectors of outer-product tiles over packed B panels.
 * Contract and canonical order: ck_gemm_kernels in core/internal.h; every ISA gives the scalar bits.
 */
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

/* dst[l * NR + c] = src[l*ls + c*cs] (0 for c >= cols): rows copied as vectors when cs == 1, 16 x 16 (or
 * 8 x 8) blocks transposed in registers when ls == 1, element by element otherwise and at the edges. */
static void CK_SIMD(gemm_pack)(const float *src, size_t ls, size_t cs, size_t kc, int cols, float *dst) {
    size_t l = 0;
    if (cs == 1) {
        for (; l < kc; l++)
#pragma unroll
            for (int v = 0; v < CK_GEMM_V; v++)
                v_store_u32(dst + l * CK_GEMM_NR + v * CK_VW, v_as_u32(v_load_part_f32(src + l * ls + v * CK_VW, cols - v * CK_VW)));
        return;
    }
    if (ls == 1 && cols == CK_GEMM_NR)
        for (; l + CK_VW <= kc; l += CK_VW)
            for (int v = 0; v < CK_GEMM_V; v++) {
                vf32 r[CK_VW];
                for (int i = 0; i < CK_VW; i++) r[i] = v_as_f32(v_load_u32(src + (size_t)(v * CK_VW + i) * cs + l));
                v_transpose(r);
                for (int i = 0; i < CK_VW; i++) v_store_u32(dst + (l + (size_t)i) * CK_GEMM_NR + v * CK_VW, v_as_u32(r[i]));
            }
    for (; l < kc; l++)
        for (int c = 0; c < CK_GEMM_NR; c++) dst[l * CK_GEMM_NR + c] = c < cols ? src[l * ls + (size_t)c * cs] : 0.0f;
}

const ck_gemm_kernels CK_SIMD(ck_gemm) = {
    .mr = CK_GEMM_MR, .nr = CK_GEMM_NR, .tile = CK_SIMD(gemm_tile), .pack = CK_SIMD(gemm_pack),
};

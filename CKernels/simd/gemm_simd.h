/*
 * FP32 GEMM microkernels written once over the vector vocabulary (vec_<isa>.h), instantiated per ISA with
 * CK_DOT_MR x CK_DOT_NR dot tiles and CK_OUTER_MR x CK_OUTER_V vector outer-product tiles.
 * Contract and canonical orders: ck_gemm_kernels in core/internal.h; every ISA gives the scalar bits.
 */
#define CK_INLINE static inline __attribute__((always_inline))
#define CK_OUTER_NR (CK_OUTER_V * CK_VW)

/* mr x nr dot products over kk, in 16-lane chains; x and w rows are read in place (no packing). */
CK_INLINE void dot_body(size_t kk, const float *x, size_t ldx, const float *w, size_t ldw, float *out, size_t ldo,
                        const int mr, const int nr) {
    v16 acc[CK_DOT_MR][CK_DOT_NR];
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int c = 0; c < nr; c++) acc[r][c] = v16_zero();
    size_t k = 0;
    for (; k + 16 <= kk; k += 16) {
        v16 xv[CK_DOT_MR];
#pragma unroll
        for (int r = 0; r < mr; r++) xv[r] = v16_pin(v16_load(x + r * ldx + k));
#pragma unroll
        for (int c = 0; c < nr; c++) {
            const v16 wv = v16_pin(v16_load(w + c * ldw + k));
#pragma unroll
            for (int r = 0; r < mr; r++) acc[r][c] = v16_fma(xv[r], wv, acc[r][c]);
        }
    }
    if (k < kk) { /* the last partial chunk: lanes past kk keep their chains */
        const int n = (int)(kk - k);
        v16 xv[CK_DOT_MR];
#pragma unroll
        for (int r = 0; r < mr; r++) xv[r] = v16_load_part(x + r * ldx + k, n);
#pragma unroll
        for (int c = 0; c < nr; c++) {
            const v16 wv = v16_load_part(w + c * ldw + k, n);
#pragma unroll
            for (int r = 0; r < mr; r++) acc[r][c] = v16_fma_part(xv[r], wv, acc[r][c], n);
        }
    }
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int c = 0; c < nr; c++) out[r * ldo + c] = v16_sum(acc[r][c]);
}

/* rows x cols: full-width tiles for each row count, single columns for the ragged edge. */
static void CK_SIMD(gemm_dot)(size_t kk, const float *x, size_t ldx, const float *w, size_t ldw, float *out,
                              size_t ldo, int rows, int cols) {
#define CK_DOT_ROWS(MR) \
    case MR: \
        if (cols == CK_DOT_NR) dot_body(kk, x, ldx, w, ldw, out, ldo, MR, CK_DOT_NR); \
        else \
            for (int c = 0; c < cols; c++) dot_body(kk, x, ldx, w + c * ldw, ldw, out + c, ldo, MR, 1); \
        break;
    switch (rows) {
        CK_DOT_ROWS(1)
        CK_DOT_ROWS(2)
#if CK_DOT_MR >= 3
        CK_DOT_ROWS(3)
#endif
#if CK_DOT_MR >= 4
        CK_DOT_ROWS(4)
#endif
    }
#undef CK_DOT_ROWS
}

/* mr rows x CK_OUTER_V vectors of outer products over red (columns past `cols` read as zero). */
CK_INLINE void outer_body(size_t red, const float *a, size_t rsa, size_t csa, const float *b, size_t ldb, float *out,
                          size_t ldo, const int mr, int cols, int first) {
    vf32 acc[CK_OUTER_MR][CK_OUTER_V];
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < CK_OUTER_V; v++)
            acc[r][v] = first ? v_setf(0.0f) : v_as_f32(v_load_u32(out + r * ldo + v * CK_VW));
    const bool full = cols == CK_OUTER_NR;
    for (size_t l = 0; l < red; l++) {
        vf32 bv[CK_OUTER_V];
#pragma unroll
        for (int v = 0; v < CK_OUTER_V; v++)
            bv[v] = full ? v_as_f32(v_load_u32(b + l * ldb + v * CK_VW)) : v_load_part_f32(b + l * ldb + v * CK_VW, cols - v * CK_VW);
#pragma unroll
        for (int r = 0; r < mr; r++) {
            const vf32 ar = v_setf(a[r * rsa + l * csa]);
#pragma unroll
            for (int v = 0; v < CK_OUTER_V; v++) acc[r][v] = v_fmaf(ar, bv[v], acc[r][v]);
        }
    }
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < CK_OUTER_V; v++) v_store_u32(out + r * ldo + v * CK_VW, v_as_u32(acc[r][v]));
}

static void CK_SIMD(gemm_outer)(size_t red, const float *a, size_t rsa, size_t csa, const float *b, size_t ldb,
                                float *out, size_t ldo, int rows, int cols, int first) {
    switch (rows) {
    case 1: outer_body(red, a, rsa, csa, b, ldb, out, ldo, 1, cols, first); break;
    case 2: outer_body(red, a, rsa, csa, b, ldb, out, ldo, 2, cols, first); break;
    case 3: outer_body(red, a, rsa, csa, b, ldb, out, ldo, 3, cols, first); break;
    case 4: outer_body(red, a, rsa, csa, b, ldb, out, ldo, 4, cols, first); break;
    case 5: outer_body(red, a, rsa, csa, b, ldb, out, ldo, 5, cols, first); break;
    default: outer_body(red, a, rsa, csa, b, ldb, out, ldo, CK_OUTER_MR, cols, first); break;
    }
}

const ck_gemm_kernels CK_SIMD(ck_gemm) = {
    .dot_mr = CK_DOT_MR, .dot_nr = CK_DOT_NR, .dot = CK_SIMD(gemm_dot),
    .outer_mr = CK_OUTER_MR, .outer_nr = CK_OUTER_NR, .outer = CK_SIMD(gemm_outer),
};

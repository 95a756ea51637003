/* Scalar reference GEMM microkernels (contract and canonical order: ck_gemm_kernels in core/internal.h).
 * Always compiled; they define the bits every ISA must produce. Tiles are 4 x 8, decode blocks 8 wide. */
#include "../core/internal.h"
#include "../core/formats_element.h"

#include <math.h>

enum { NR = 8 };

/* The chain of one output: a[l*as] * b[l*bs] over l < kc from `acc`, then scaled as the contract says. */
static float chain(size_t kc, const float *a, size_t as, const void *b, ck_dtype bt, size_t bs, float acc,
                   const float *sa, int r, const float *sb, int c, int first, float old) {
    for (size_t l = 0; l < kc; l++) acc = fmaf(a[l * as], ck_load_f32(b, bt, l * bs), acc);
    return sa ? fmaf(acc * sa[r], sb[c], first ? 0.0f : old) : acc;
}

static void gemm_tile_ref(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, size_t ldb, float *out,
                          int rows, const float *sa, const float *sb, int first, const ck_prefetch *pf) {
    (void)pf;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < NR; c++) {
            float *o = &out[r * NR + c];
            *o = chain(kc, a + r * rsa, csa, pb + c, CK_DTYPE_F32, ldb, first || sa ? 0.0f : *o, sa, r, sb, c, first, *o);
        }
}

static void gemm_pack_ref(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst,
                          bool prefetch) {
    (void)prefetch;
    for (int st = 0; st * NR < cols; st++)
        for (size_t l = 0; l < kc; l++)
            for (int c = 0; c < NR; c++) {
                const int col = st * NR + c;
                dst[((size_t)st * kc + l) * NR + c] = col < cols ? ck_load_f32(src, t, l * ls + (size_t)col * cs) : 0.0f;
            }
}

/* Both decode kernels: W(c, l) = w[(c / CK_PACKED_COLUMNS)*ss + (c % CK_PACKED_COLUMNS)*cs + l*ls]; x(r, l) =
 * x[r*ldx + l], or decode_nk's blocked x (xb). */
static void decode_ref(size_t kc, const void *w, ck_dtype t, size_t ls, size_t cs, size_t ss, int cols, const float *x,
                       size_t ldx, bool xb, int rows, float *out, const float *sa, size_t sa_rs, const float *sb,
                       size_t sb_ls, size_t sb_js) {
    const size_t span = sb ? CK_SCALE_BLOCK : kc;
    for (size_t l0 = 0; l0 < kc; l0 += span) {
        const size_t end = kc - l0 < span ? kc : l0 + span, b = l0 / span;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                float p = 0.0f, *o = &out[r * NR + c];
                for (size_t l = l0; l < end; l++) {
                    const float xv = xb ? x[ck_decode_x_index((size_t)r, l, ldx)] : x[(size_t)r * ldx + l];
                    p = fmaf(xv, ck_load_f32(w, t, (size_t)c / CK_PACKED_COLUMNS * ss + (size_t)c % CK_PACKED_COLUMNS * cs + l * ls), p);
                }
                if (sb)
                    p = fmaf(p * (sa ? sa[(size_t)r * sa_rs + b] : 1.0f),
                             sb[b * sb_ls + (size_t)(c / CK_SCALE_BLOCK) * sb_js], l0 ? *o : 0.0f);
                *o = p;
            }
    }
}

static void gemm_decode_nk_ref(size_t kc, const void *w, ck_dtype t, size_t ldw, size_t ss, int cols, int next,
                               const float *x, size_t ldx, int rows, float *out, const float *sa, size_t sa_rs,
                               const float *sb, size_t sb_ls, size_t sb_js) {
    (void)next; /* a prefetch hint */
    decode_ref(kc, w, t, 1, ldw, ss, cols, x, ldx, true, rows, out, sa, sa_rs, sb, sb_ls, sb_js);
}

static void gemm_decode_kn_ref(size_t kc, const void *w, ck_dtype t, size_t ldw, size_t ss, int cols, int next,
                               const float *x, size_t ldx, int rows, float *out, const float *sa, size_t sa_rs,
                               const float *sb, size_t sb_ls, size_t sb_js) {
    (void)next;
    decode_ref(kc, w, t, ldw, 1, ss, cols, x, ldx, false, rows, out, sa, sa_rs, sb, sb_ls, sb_js);
}

const ck_gemm_kernels ck_gemm_scalar = {
    .mr = 4, .nr = NR, .tile = gemm_tile_ref, .pack = gemm_pack_ref, .decode_nk_w = NR, .decode_kn_w = NR,
    .decode_nk_rows = 12, .decode_nk = gemm_decode_nk_ref, .decode_kn = gemm_decode_kn_ref,
};

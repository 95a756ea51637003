/* Scalar reference GEMM microkernels (contract and canonical order: ck_gemm_kernels in core/internal.h).
 * Always compiled; they define the bits every ISA must produce. Wide tiles are 4 x 8; the transposed form's
 * are 8 x 4 and 4 x 8. */
#include "../core/internal.h"
#include "../core/formats_element.h"

#include <math.h>

static inline void tile_ref(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, float *out, int rows,
                            const float *sa, float sb, int first, const int nr) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < nr; c++) {
            float *o = &out[r * nr + c];
            float acc = first || sa ? 0.0f : *o;
            for (size_t l = 0; l < kc; l++) acc = fmaf(a[r * rsa + l * csa], pb[l * (size_t)nr + c], acc);
            *o = sa ? fmaf(acc * sa[r], sb, first ? 0.0f : *o) : acc;
        }
}

static inline void pack_ref(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst,
                            const int nr) {
    for (int st = 0; st * nr < cols; st++)
        for (size_t l = 0; l < kc; l++)
            for (int c = 0; c < nr; c++) {
                const int col = st * nr + c;
                dst[((size_t)st * kc + l) * nr + c] = col < cols ? ck_load_f32(src, t, l * ls + (size_t)col * cs) : 0.0f;
            }
}

static void tile_wide(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, float *out, int rows,
                      const float *sa, float sb, int first) {
    tile_ref(kc, a, rsa, csa, pb, out, rows, sa, sb, first, 8);
}
static void pack_wide(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst) {
    pack_ref(src, t, ls, cs, kc, cols, dst, 8);
}
static void tile_t1(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, float *out, int rows,
                        const float *sa, float sb, int first) {
    tile_ref(kc, a, rsa, csa, pb, out, rows, sa, sb, first, 4);
}
static void pack_t1(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst) {
    pack_ref(src, t, ls, cs, kc, cols, dst, 4);
}

const ck_gemm_kernels ck_gemm_scalar = {
    .wide = {4, 8, tile_wide, pack_wide},
    .transposed = {{8, 4, tile_t1, pack_t1}, {4, 8, tile_wide, pack_wide}},
};

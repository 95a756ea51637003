/* Scalar reference GEMM microkernels (contract and canonical order: ck_gemm_kernels in core/internal.h).
 * Always compiled; they define the bits every ISA must produce. */
#include "../core/internal.h"
#include "../core/formats_element.h"

#include <math.h>

enum { MR = 4, NR = 8 };

static void gemm_tile_ref(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, float *out, int rows,
                          const float *sa, float sb, int first) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < NR; c++) {
            float *o = &out[r * NR + c];
            float acc = first || sa ? 0.0f : *o;
            for (size_t l = 0; l < kc; l++) acc = fmaf(a[r * rsa + l * csa], pb[l * NR + c], acc);
            *o = sa ? fmaf(acc * sa[r], sb, first ? 0.0f : *o) : acc;
        }
}

static void gemm_pack_ref(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst) {
    for (size_t l = 0; l < kc; l++)
        for (int c = 0; c < NR; c++) dst[l * NR + c] = c < cols ? ck_load_f32(src, t, l * ls + (size_t)c * cs) : 0.0f;
}

const ck_gemm_kernels ck_gemm_scalar = {.mr = MR, .nr = NR, .tile = gemm_tile_ref, .pack = gemm_pack_ref};

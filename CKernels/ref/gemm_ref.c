/* Scalar reference GEMM microkernels (contract and canonical orders: ck_gemm_kernels in core/internal.h).
 * Always compiled; they define the bits every ISA must produce. */
#include "../core/internal.h"

#include <math.h>

static float dot16(size_t kk, const float *x, const float *w) {
    float lane[16] = {0};
    for (size_t k = 0; k < kk; k++) lane[k % 16] = fmaf(x[k], w[k], lane[k % 16]);
    for (int s = 8; s >= 1; s /= 2)
        for (int i = 0; i < s; i++) lane[i] = lane[i] + lane[i + s];
    return lane[0];
}

static void gemm_dot_ref(size_t kk, const float *x, size_t ldx, const float *w, size_t ldw, float *out, size_t ldo,
                         int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) out[r * ldo + c] = dot16(kk, x + r * ldx, w + c * ldw);
}

static void gemm_outer_ref(size_t red, const float *a, size_t rsa, size_t csa, const float *b, size_t ldb, float *out,
                           size_t ldo, int rows, int cols, int first) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float acc = first ? 0.0f : out[r * ldo + c];
            for (size_t l = 0; l < red; l++) acc = fmaf(a[r * rsa + l * csa], b[l * ldb + c], acc);
            out[r * ldo + c] = acc;
        }
}

const ck_gemm_kernels ck_gemm_scalar = {
    .dot_mr = 2, .dot_nr = 2, .dot = gemm_dot_ref, .outer_mr = 2, .outer_nr = 8, .outer = gemm_outer_ref,
};

/* OpenBLAS baselines: MoE layers as a loop of per-expert SGEMMs, the way a framework without a grouped GEMM
 * runs them. Prototypes are declared here (Debian installs cblas.h under a per-variant include folder). */
#include "baselines.h"

#include <string.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int threads);
char *openblas_get_corename(void);

const char *baseline_openblas_core(void) { return openblas_get_corename(); }

void baseline_openblas_threads(int threads) { openblas_set_num_threads(threads); }

void baseline_openblas_m_grouped(const float *x, size_t k, const int64_t *group_sizes, size_t groups,
                                 const float *w, int transpose_w, size_t n, float *y) {
    size_t row = 0;
    for (size_t g = 0; g < groups; g++) {
        const size_t m = (size_t)group_sizes[g];
        if (m > 0)
            cblas_sgemm(RowMajor, NoTrans, transpose_w ? Trans : NoTrans, (int)m, (int)n, (int)k, 1.0f, x + row * k,
                        (int)k, w + g * n * k, transpose_w ? (int)k : (int)n, 0.0f, y + row * n, (int)n);
        row += m;
    }
}

void baseline_openblas_k_grouped(const float *x, size_t k, const int64_t *group_sizes, size_t groups,
                                 const float *dy, size_t n, float *dw) {
    size_t row = 0;
    for (size_t g = 0; g < groups; g++) {
        const size_t m = (size_t)group_sizes[g];
        if (m > 0)
            cblas_sgemm(RowMajor, Trans, NoTrans, (int)k, (int)n, (int)m, 1.0f, x + row * k, (int)k, dy + row * n,
                        (int)n, 0.0f, dw + g * k * n, (int)n);
        else
            memset(dw + g * k * n, 0, k * n * sizeof(float));
        row += m;
    }
}

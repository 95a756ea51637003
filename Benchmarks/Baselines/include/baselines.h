/* Baselines the benchmark compares MoEKit with (never used by MoEKit itself). */
#ifndef MOEKIT_BASELINES_H
#define MOEKIT_BASELINES_H

#include <stddef.h>
#include <stdint.h>

/* The core OpenBLAS chose ("SkylakeX", "Haswell", ...). */
const char *baseline_openblas_core(void);

/* Sets OpenBLAS's thread count (to match MoEKit's in each run). */
void baseline_openblas_threads(int threads);

/* The "openblas-loop" grouped GEMM: one cblas_sgemm per non-empty expert.
 * transpose_w: w[g] is [n, k] (y = x . w^T); otherwise [k, n] (y = x . w). */
void baseline_openblas_m_grouped(const float *x, size_t k, const int64_t *group_sizes, size_t groups,
                                 const float *w, int transpose_w, size_t n, float *y);

/* k-grouped: dw[g] [k, n] = x_g^T . dy_g, one cblas_sgemm per expert (zero-filled when it has no tokens). */
void baseline_openblas_k_grouped(const float *x, size_t k, const int64_t *group_sizes, size_t groups,
                                 const float *dy, size_t n, float *dw);

#endif

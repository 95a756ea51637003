/*
 * Grouped expert GEMMs (ck_gemm.h): argument checks, then one task list over (expert, M-block, N-block) for
 * all experts, so a hot expert and many cold ones balance across threads in one fork-join. Each expert is a
 * problem C[i, j] (rows x cols) over a reduction of length `red`, computed tile by tile by the dispatched
 * microkernels, reading the operands in place (no packing), in one of two canonical orders:
 *   DOT   C[i, j] = the 16-lane dot product of row i of A and row j of B   (m-grouped, weights [N, K]);
 *   OUTER C[i, j] = the FMA chain over l of A(i, l) * B[l, j]              (weights [K, N], and k-grouped).
 * Tiles and blocks never change an output's order, so the bits do not depend on M, threads or ISA.
 */
#include "internal.h"
#include "../include/ck_gemm.h"

#include <math.h>
#include <stdlib.h>

enum { DOT, OUTER };

typedef struct {
    int kind;
    const float *a; /* DOT: row i at a + i*rsa; OUTER: A(i, l) at a[i*rsa + l*csa] */
    size_t rsa, csa;
    const float *b; /* DOT: row j at b + j*ldb; OUTER: row l at b + l*ldb */
    size_t ldb;
    float *c; /* C(i, j) at c[i*rsc + j*csc] */
    size_t rsc, csc;
    size_t rows, cols, red;
} problem;

typedef struct {
    const ck_gemm_kernels *k;
    const problem *problems;
    const size_t *first_task; /* [groups + 1]: tasks of problem g are first_task[g] ..< first_task[g + 1] */
    size_t groups;
    float beta;
} gemm_job;

/* A block's rows and columns per task, per kind: enough work to amortise a task, small enough to balance. */
static size_t block_rows(const ck_gemm_kernels *k, int kind) { return 16 * (size_t)(kind == DOT ? k->dot_mr : k->outer_mr); }
static size_t block_cols(const ck_gemm_kernels *k, int kind) { return kind == DOT ? 16 * (size_t)k->dot_nr : 2 * (size_t)k->outer_nr; }

/* Stores a tile: C = v (beta 0, C never read) or fma(beta, C, v); an empty reduction with beta 1 leaves C. */
static void write_tile(const problem *p, float beta, size_t i0, size_t j0, int rows, int cols, const float *tile,
                       size_t ldt) {
    if (p->red == 0 && beta == 1.0f) return;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float *dst = p->c + (i0 + (size_t)i) * p->rsc + (j0 + (size_t)j) * p->csc;
            const float v = tile[(size_t)i * ldt + (size_t)j];
            *dst = beta == 0.0f ? v : fmaf(beta, *dst, v);
        }
}

/* Reduction chunk of the outer-product blocks: the B rows of one chunk (KC x NR floats) stay in L1 while
 * every row tile of the block consumes them. Chunking continues each output's chain, so bits do not change. */
enum { KC = 128, MAX_BLOCK = 96 * 128 };

static void run_block(const ck_gemm_kernels *k, const problem *p, float beta, size_t i0, size_t mb, size_t j0,
                      size_t nb) {
    const size_t mr = (size_t)(p->kind == DOT ? k->dot_mr : k->outer_mr);
    const size_t nr = (size_t)(p->kind == DOT ? k->dot_nr : k->outer_nr);
    if (p->kind == DOT) {
        float tile[64];
        for (size_t j = j0; j < j0 + nb; j += nr) {
            const int cols = (int)(j0 + nb - j < nr ? j0 + nb - j : nr);
            for (size_t i = i0; i < i0 + mb; i += mr) {
                const int rows = (int)(i0 + mb - i < mr ? i0 + mb - i : mr);
                k->dot(p->red, p->a + i * p->rsa, p->rsa, p->b + j * p->ldb, p->ldb, tile, nr, rows, cols);
                write_tile(p, beta, i, j, rows, cols, tile, nr);
            }
        }
        return;
    }
    /* the block's accumulators, tile by tile: tile (ti, tj) at acc + (ti * tiles_n + tj) * mr * nr */
    float acc[MAX_BLOCK];
    const size_t tiles_n = ck_div_up(nb, nr);
    for (size_t l0 = 0; l0 == 0 || l0 < p->red; l0 += KC) {
        const size_t kc = p->red - l0 < KC ? p->red - l0 : KC;
        for (size_t j = j0, tj = 0; j < j0 + nb; j += nr, tj++) {
            const int cols = (int)(j0 + nb - j < nr ? j0 + nb - j : nr);
            for (size_t i = i0, ti = 0; i < i0 + mb; i += mr, ti++) {
                const int rows = (int)(i0 + mb - i < mr ? i0 + mb - i : mr);
                k->outer(kc, p->a + i * p->rsa + l0 * p->csa, p->rsa, p->csa, p->b + l0 * p->ldb + j, p->ldb,
                         acc + (ti * tiles_n + tj) * mr * nr, nr, rows, cols, l0 == 0);
            }
        }
    }
    for (size_t j = j0, tj = 0; j < j0 + nb; j += nr, tj++)
        for (size_t i = i0, ti = 0; i < i0 + mb; i += mr, ti++)
            write_tile(p, beta, i, j, (int)(i0 + mb - i < mr ? i0 + mb - i : mr), (int)(j0 + nb - j < nr ? j0 + nb - j : nr),
                       acc + (ti * tiles_n + tj) * mr * nr, nr);
}

static void gemm_task(void *arg, size_t t) {
    const gemm_job *job = arg;
    size_t lo = 0, hi = job->groups; /* the problem whose task range holds t */
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        if (job->first_task[mid] <= t) lo = mid;
        else hi = mid;
    }
    const problem *p = &job->problems[lo];
    const size_t mb = block_rows(job->k, p->kind), nb = block_cols(job->k, p->kind);
    const size_t local = t - job->first_task[lo], col_blocks = ck_div_up(p->cols, nb);
    const size_t i0 = local / col_blocks * mb, j0 = local % col_blocks * nb;
    run_block(job->k, p, job->beta, i0, p->rows - i0 < mb ? p->rows - i0 : mb, j0, p->cols - j0 < nb ? p->cols - j0 : nb);
}

/* An array for `groups` problems (NULL when out of memory; run_problems frees it). */
static problem *new_problems(size_t groups) { return malloc((groups ? groups : 1) * sizeof(problem)); }

/* Runs every problem as one task list, then frees `problems`; problems with no rows or columns have no tasks. */
static ck_status run_problems(problem *problems, size_t groups, float beta) {
    const ck_gemm_kernels *k = ck_gemm_dispatch();
    size_t *first = malloc((groups + 1) * sizeof(size_t));
    if (first == NULL) {
        free(problems);
        return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate the task list");
    }
    first[0] = 0;
    for (size_t g = 0; g < groups; g++) {
        const problem *p = &problems[g];
        first[g + 1] = first[g] + ck_div_up(p->rows, block_rows(k, p->kind)) * ck_div_up(p->cols, block_cols(k, p->kind));
    }
    gemm_job job = {k, problems, first, groups, beta};
    ck_parallel_for(first[groups], gemm_task, &job);
    free(first);
    free(problems);
    return CK_OK;
}

/* ---- argument checks ---- */
static ck_status check_groups(const int64_t *sizes, size_t groups, size_t total, const char *name, bool exact) {
    if (groups > 0 && sizes == NULL) return ck_fail(CK_ERR_NULL_POINTER, name, "%s is NULL", name);
    size_t sum = 0;
    for (size_t g = 0; g < groups; g++) {
        if (sizes[g] < 0) return ck_fail(CK_ERR_INVALID_SHAPE, name, "%s[%zu] = %lld is negative", name, g, (long long)sizes[g]);
        if ((uint64_t)sizes[g] > total || __builtin_add_overflow(sum, (size_t)sizes[g], &sum) || sum > total)
            return ck_fail(CK_ERR_INVALID_SHAPE, name, "%s add up to more than %zu", name, total);
    }
    if (exact && sum != total) return ck_fail(CK_ERR_INVALID_SHAPE, name, "%s add up to %zu, not %zu", name, sum, total);
    return CK_OK;
}

static ck_status check_layout(ck_weight_layout layout, const char *name) {
    if (layout != CK_WEIGHTS_NK && layout != CK_WEIGHTS_KN)
        return ck_fail(CK_ERR_INVALID_VALUE, name, "%s must be CK_WEIGHTS_NK or CK_WEIGHTS_KN", name);
    return CK_OK;
}

static ck_status check_beta(float beta) {
    if (!isfinite(beta)) return ck_fail(CK_ERR_INVALID_VALUE, "beta", "beta must be finite");
    return CK_OK;
}

/* The weights of `groups` experts, each [rows, cols] and `stride` elements apart. */
static ck_status check_experts(const float *w, const char *name, size_t groups, size_t rows, size_t cols, size_t stride) {
    if (groups == 0 || rows == 0 || cols == 0) return CK_OK;
    if (stride < rows * cols)
        return ck_fail(CK_ERR_INVALID_STRIDE, name, "%s: expert stride %zu is smaller than one expert (%zu x %zu)", name,
                       stride, rows, cols);
    return ck_check_matrix(w, name, groups, rows * cols, stride, sizeof(float));
}

/* ---- public entry points ---- */
/* Expert g's m-grouped problem: rows of x times its weights, into rows of y. */
static problem m_problem(const float *x, size_t ldx, size_t rows, const float *w, ck_weight_layout layout, size_t n,
                         size_t k, float *y, size_t ldy) {
    if (layout == CK_WEIGHTS_NK) return (problem){DOT, x, ldx, 1, w, k, y, ldy, 1, rows, n, k};
    return (problem){OUTER, x, ldx, 1, w, n, y, ldy, 1, rows, n, k};
}

ck_status ck_gemm_m_grouped_f32(const float *x, size_t m, size_t k, size_t ldx, const int64_t *group_sizes,
                                size_t groups, const float *w, ck_weight_layout layout, size_t n, size_t w_stride,
                                float beta, float *y, size_t ldy) {
    ck_status s;
    if ((s = check_layout(layout, "layout")) || (s = check_beta(beta)) ||
        (s = check_groups(group_sizes, groups, m, "group_sizes", true)) ||
        (s = ck_check_matrix(x, "x", m, k, ldx, sizeof(float))) ||
        (s = check_experts(w, "w", groups, layout == CK_WEIGHTS_NK ? n : k, layout == CK_WEIGHTS_NK ? k : n, w_stride)) ||
        (s = ck_check_matrix(y, "y", m, n, ldy, sizeof(float))))
        return s;
    if (m == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(groups);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate %zu problems", groups);
    size_t row = 0;
    for (size_t g = 0; g < groups; g++) {
        const size_t rows = (size_t)group_sizes[g];
        pr[g] = m_problem(x + row * ldx, ldx, rows, w + g * w_stride, layout, n, k, y + row * ldy, ldy);
        row += rows;
    }
    return run_problems(pr, groups, beta);
}

ck_status ck_gemm_m_grouped_masked_f32(const float *x, size_t max_m, size_t k, const int64_t *valid_m,
                                       size_t groups, const float *w, ck_weight_layout layout, size_t n,
                                       size_t w_stride, float beta, float *y) {
    ck_status s;
    size_t rows;
    if (__builtin_mul_overflow(groups, max_m, &rows)) return ck_fail(CK_ERR_SIZE_OVERFLOW, "max_m", "groups x max_m overflows");
    if ((s = check_layout(layout, "layout")) || (s = check_beta(beta)) ||
        (s = ck_check_matrix(x, "x", rows, k, k, sizeof(float))) ||
        (s = check_experts(w, "w", groups, layout == CK_WEIGHTS_NK ? n : k, layout == CK_WEIGHTS_NK ? k : n, w_stride)) ||
        (s = ck_check_matrix(y, "y", rows, n, n, sizeof(float))))
        return s;
    if (groups > 0 && valid_m == NULL) return ck_fail(CK_ERR_NULL_POINTER, "valid_m", "valid_m is NULL");
    for (size_t g = 0; g < groups; g++)
        if (valid_m[g] < 0 || (uint64_t)valid_m[g] > max_m)
            return ck_fail(CK_ERR_INVALID_SHAPE, "valid_m", "valid_m[%zu] = %lld is outside 0...%zu", g, (long long)valid_m[g], max_m);
    if (rows == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(groups);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate %zu problems", groups);
    for (size_t g = 0; g < groups; g++)
        pr[g] = m_problem(x + g * max_m * k, k, (size_t)valid_m[g], w + g * w_stride, layout, n, k, y + g * max_m * n, n);
    return run_problems(pr, groups, beta);
}

ck_status ck_gemm_k_grouped_f32(const float *x, size_t m, size_t k, size_t ldx, const int64_t *group_sizes,
                                size_t groups, const float *dy, size_t n, size_t lddy, float beta, float *dw,
                                ck_weight_layout layout, size_t dw_stride) {
    ck_status s;
    if ((s = check_layout(layout, "layout")) || (s = check_beta(beta)) ||
        (s = check_groups(group_sizes, groups, m, "group_sizes", true)) ||
        (s = ck_check_matrix(x, "x", m, k, ldx, sizeof(float))) ||
        (s = ck_check_matrix(dy, "dy", m, n, lddy, sizeof(float))) ||
        (s = check_experts(dw, "dw", groups, layout == CK_WEIGHTS_KN ? k : n, layout == CK_WEIGHTS_KN ? n : k, dw_stride)))
        return s;
    if (k == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(groups);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate %zu problems", groups);
    size_t row = 0;
    for (size_t g = 0; g < groups; g++) {
        const size_t tokens = (size_t)group_sizes[g];
        float *c = dw + g * dw_stride;
        /* C = dW[g] as [K, N] (stored transposed for [N, K]): A(i, l) = x[row + l, i], B[l, j] = dy[row + l, j] */
        pr[g] = (problem){OUTER, x + row * ldx, 1, ldx, dy + row * lddy, lddy, c, layout == CK_WEIGHTS_KN ? n : 1,
                          layout == CK_WEIGHTS_KN ? 1 : k, k, n, tokens};
        row += tokens;
    }
    return run_problems(pr, groups, beta);
}

/*
 * Grouped expert GEMMs (MoE): all experts of a layer in one call.
 *
 * m-grouped (forward, dgrad): the token rows of X are grouped by expert, back to back,
 *   Y[rows of g] = X[rows of g] . op(W[g])  (+ beta * Y)
 *   x: [M, K] row-major, row stride ldx; group_sizes: [G], each >= 0, summing to M (zeros allowed, no
 *   alignment); w: [G, N, K] (CK_WEIGHTS_NK: the nn.Linear / checkpoint layout, op = transpose) or
 *   [G, K, N] (CK_WEIGHTS_KN: dX = dY . W, op = identity), experts w_stride elements apart; y: [M, N],
 *   row stride ldy.
 * m-grouped masked (decode, DeepGEMM's masked layout): x: [G, max_m, K], y: [G, max_m, N]; only the first
 *   valid_m[g] rows of each expert are read and written; rows past them are untouched and never read.
 * k-grouped (wgrad): dW[g] = X_g^T . dY_g (+ beta * dW[g]) over each expert's token range,
 *   x: [M, K], dy: [M, N], dw: [G, K, N] (CK_WEIGHTS_KN) or [G, N, K] (CK_WEIGHTS_NK). An expert with no
 *   tokens gets exact zeros (or beta * dW[g], untouched when beta == 1).
 *
 * Numerics (FP32): each output element is summed in one canonical order that depends on nothing else:
 *   weights [N, K] (m-grouped CK_WEIGHTS_NK): a 16-lane dot product along K: lane l chains fused
 *     multiply-adds over k = l, l+16, l+32, ... from +0, then the lanes are added pairwise as
 *     lane i += lane i+8, then i+4, i+2, i+1;
 *   weights [K, N] (m-grouped CK_WEIGHTS_KN) and k-grouped: one chain of fused multiply-adds over the
 *     reduction index in order, from +0;
 * then out = sum (beta == 0: the output is never read, so NaN there cannot leak) or out = fma(beta, out, sum);
 * an empty reduction with beta == 1 leaves the output untouched. Results are therefore bitwise identical for
 * every ISA, thread count and batch: a token's row has the same bits whatever other tokens share its expert
 * or the call.
 */
#ifndef CK_GEMM_H
#define CK_GEMM_H

#include "ck_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ck_weight_layout {
    CK_WEIGHTS_NK = 0, /* w[g] is [N, K]: y = x . w^T ("nt") */
    CK_WEIGHTS_KN = 1, /* w[g] is [K, N]: y = x . w    ("nn") */
} ck_weight_layout;

ck_status ck_gemm_m_grouped_f32(const float *x, size_t m, size_t k, size_t ldx, const int64_t *group_sizes,
                                size_t groups, const float *w, ck_weight_layout layout, size_t n, size_t w_stride,
                                float beta, float *y, size_t ldy);

ck_status ck_gemm_m_grouped_masked_f32(const float *x, size_t max_m, size_t k, const int64_t *valid_m,
                                       size_t groups, const float *w, ck_weight_layout layout, size_t n,
                                       size_t w_stride, float beta, float *y);

ck_status ck_gemm_k_grouped_f32(const float *x, size_t m, size_t k, size_t ldx, const int64_t *group_sizes,
                                size_t groups, const float *dy, size_t n, size_t lddy, float beta, float *dw,
                                ck_weight_layout layout, size_t dw_stride);

#ifdef __cplusplus
}
#endif
#endif

/*
 * Grouped expert GEMMs (MoE): all experts of a layer in one call.
 *
 * m-grouped (forward, dgrad): the token rows of X are grouped by expert, back to back,
 *   Y[rows of g] = X[rows of g] . op(W[g])  (+ beta * Y)
 *   x: [M, K] row-major, row stride ldx; group_sizes: [G], each >= 0, summing to M (zeros allowed, no
 *   alignment); w: [G, N, K] (CK_WEIGHTS_NK: the nn.Linear / checkpoint layout, op = transpose),
 *   [G, K, N] (CK_WEIGHTS_KN: dX = dY . W, op = identity) or [N, K] experts packed (CK_WEIGHTS_PACKED, below),
 *   experts w_stride elements apart; y: [M, N], row stride ldy.
 * m-grouped masked (decode, DeepGEMM's masked layout): x: [G, max_m, K], y: [G, max_m, N]; only the first
 *   valid_m[g] rows of each expert are read and written; rows past them are untouched and never read.
 * m-grouped contiguous (DeepGEMM's contiguous layout with m_indices): x: [M, K], y: [M, N] as for m-grouped
 *   (x and x_scales cover all M rows, padding included), m_indices: [M] int32 (NULL only when M == 0), row i's
 *   expert (0 <= m_indices[i] < G) or -1 for a padding row. Each run of rows with one expert is that expert's
 *   rows (runs in any order, of any length; an expert may have several, each reading its weights again); a
 *   padding row is never read and its output row is that of an empty sum: +0 (fma(beta, y, +0) with beta,
 *   untouched when beta == 1). Any other value is CK_ERR_INVALID_VALUE on m_indices, with nothing written.
 * k-grouped (wgrad): dW[g] = X_g^T . dY_g (+ beta * dW[g]) over each expert's token range,
 *   x: [M, K], dy: [M, N], dw: [G, K, N] (CK_WEIGHTS_KN) or [G, N, K] (CK_WEIGHTS_NK). An expert with no
 *   tokens gets exact zeros (with beta: fma(beta, dW[g], +0), untouched when beta == 1).
 * k-grouped FP8 (DeepSeek-V3's wgrad, DeepGEMM's k_grouped 1D1D): the same product from E4M3 operands quantized
 *   per channel over 128 tokens, as ck_quant_per_channel_transposed writes them: xt: [K, M] (x transposed,
 *   row stride ldxt >= M), dyt: [N, M] (row stride lddyt). Each expert's tokens form blocks of 128 from its
 *   own first token (the last one partial); with S = sum over experts of ceil(group_sizes[g] / 128) and
 *   B_g = that sum over the experts before g, block b of expert g has its scales in column B_g + b of
 *   x_scales [K, S] and dy_scales [N, S] — quantizing each expert's rows on its own gives exactly this, and
 *   when every size is a multiple of 128 it is the whole tensor quantized at once.
 *
 * Element types. Inputs are CK_DTYPE_F32, CK_DTYPE_BF16 or CK_DTYPE_E4M3FN (m-grouped; k-grouped through the
 * _fp8 entry point, whose operands are all E4M3), outputs CK_DTYPE_F32 or CK_DTYPE_BF16 (rounded to nearest
 * even once, at the end); the types may be mixed. Every input is converted exactly to f32 and the arithmetic
 * is f32.
 *   FP8 weights (w_type CK_DTYPE_E4M3FN) carry 128 x 128 block scales, multipliers (w = q * s), one grid per
 *   expert laid out like the expert's own blocks: [ceil(N/128), ceil(K/128)] for CK_WEIGHTS_NK (the
 *   checkpoint's weight_scale_inv; CK_WEIGHTS_PACKED too), [ceil(K/128), ceil(N/128)] for CK_WEIGHTS_KN,
 *   experts back to back.
 *   FP8 activations (x_type CK_DTYPE_E4M3FN, only with FP8 weights) carry 1 x 128 scales [M, ceil(K/128)]
 *   ([G * max_m, ceil(K/128)] when masked). Scales are NULL for non-FP8 operands.
 *
 * Numerics: each output element is summed in one canonical order that depends on nothing else:
 *   unscaled (no FP8 weights): one chain of fused multiply-adds over the reduction index in order, from +0;
 *   FP8 weights (DeepSeek-V3's fp8_gemm, DeepGEMM's 1D2D): per 128-wide block kb of K, in order, the partial
 *     p = the fma chain over the block from +0, then acc = fma(p * a_s[m, kb], b_s[n/128, kb], acc) from
 *     acc = +0, with a_s = 1 for unquantized activations (weight-only FP8);
 *   k-grouped FP8: the same per 128-token block b of each expert, with x_s[k, B_g + b] * dy_s[n, B_g + b];
 * then out = sum (beta == 0: the output is never read, so NaN there cannot leak) or out = fma(beta, out, sum),
 * a NaN out being stored as the quiet NaN 0x7FC00000 (BF16 0x7FC0) whichever NaNs produced it; an empty
 * reduction with beta == 1 leaves the output untouched. Results are therefore bitwise identical for every
 * ISA, thread count and batch: a token's row has the same bits whatever other tokens share its expert or the
 * call.
 *
 * Dot-product order (opt-in: ck_set_bf16_dot_products; m-grouped calls whose x and weights are BF16 or E4M3, at
 * the active ISA avx512bf16 or avx512bf16vbmi, the same bits): the chain over a reduction (the whole of K, or with
 * FP8 weights each 128-wide block, whose partial sums then fold in as above) is AVX512_BF16's vdpbf16ps chain over pairs, (0, 1), (2, 3), ... in
 * order, from +0: per pair, acc = ftz(fma(daz(x[2i+1]), daz(w[2i+1]), daz(acc))), then acc = ftz(fma(daz(x[2i]),
 * daz(w[2i]), acc)), where daz reads a subnormal input as a zero of its sign and ftz flushes a subnormal result
 * likewise (E4M3 values are all normal BF16 ones); an odd length's last pair has +0 for its second half. beta,
 * NaN and the output's rounding as above. Bitwise identical for every thread count and batch (the tiles and the
 * dot decode kernels sum in the same order), not to the canonical order.
 */
#ifndef CK_GEMM_H
#define CK_GEMM_H

#include "ck_formats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ck_weight_layout {
    CK_WEIGHTS_NK = 0,     /* w[g] is [N, K]: y = x . w^T ("nt") */
    CK_WEIGHTS_KN = 1,     /* w[g] is [K, N]: y = x . w    ("nn") */
    CK_WEIGHTS_PACKED = 2, /* w[g] is W [N, K] as ck_gemm_pack_weights writes it: y = x . W^T (m-grouped only) */
} ck_weight_layout;

/* Packed weights (CK_WEIGHTS_PACKED): an expert's W [N, K] cut into ceil(N / 64) strips of 64 rows, strip s stored
 * as [K, 64], element (l, c) = W[64 s + c, l] (+0 past N), the strips back to back: element (n, l) of W at
 * (n / 64) * 64 * K + l * 64 + n % 64. The elements keep their type (F32, BF16 or E4M3FN codes, moved bit for bit)
 * and FP8 weights keep their scales, laid out as for CK_WEIGHTS_NK ([ceil(N/128), ceil(K/128)] per expert). Every
 * result is bitwise the one the unpacked weights give. What it buys: the m-grouped calls read the strips as
 * they stand (FP32) or decode them row by row (BF16, E4M3) instead of transposing W's blocks on every call, and
 * the decode path streams many strips at once. Pack once, when the weights are loaded. */
#define CK_PACKED_COLUMNS 64

/* *elements = the elements of one packed expert of [n, k]: ceil(n / 64) * 64 * k (CK_ERR_SIZE_OVERFLOW if that
 * does not fit a size_t). */
ck_status ck_gemm_packed_size(size_t n, size_t k, size_t *elements);

/* Packs `groups` experts' weights w (type F32, BF16 or E4M3FN; layout CK_WEIGHTS_NK, each [n, k], or
 * CK_WEIGHTS_KN, each [k, n]; experts w_stride elements apart) into `packed` (experts packed_stride >=
 * ck_gemm_packed_size(n, k) elements apart; the elements between experts are not written). packed must not
 * overlap w. */
ck_status ck_gemm_pack_weights(const void *w, ck_dtype type, ck_weight_layout layout, size_t groups, size_t n,
                               size_t k, size_t w_stride, void *packed, size_t packed_stride);

ck_status ck_gemm_m_grouped(const void *x, ck_dtype x_type, const float *x_scales, size_t m, size_t k, size_t ldx,
                            const int64_t *group_sizes, size_t groups, const void *w, ck_dtype w_type,
                            const float *w_scales, ck_weight_layout layout, size_t n, size_t w_stride, float beta,
                            void *y, ck_dtype y_type, size_t ldy);

ck_status ck_gemm_m_grouped_masked(const void *x, ck_dtype x_type, const float *x_scales, size_t max_m, size_t k,
                                   const int64_t *valid_m, size_t groups, const void *w, ck_dtype w_type,
                                   const float *w_scales, ck_weight_layout layout, size_t n, size_t w_stride,
                                   float beta, void *y, ck_dtype y_type);

ck_status ck_gemm_m_grouped_contiguous(const void *x, ck_dtype x_type, const float *x_scales, size_t m, size_t k,
                                       size_t ldx, const int32_t *m_indices, size_t groups, const void *w,
                                       ck_dtype w_type, const float *w_scales, ck_weight_layout layout, size_t n,
                                       size_t w_stride, float beta, void *y, ck_dtype y_type, size_t ldy);

ck_status ck_gemm_k_grouped(const void *x, ck_dtype x_type, size_t m, size_t k, size_t ldx,
                            const int64_t *group_sizes, size_t groups, const void *dy, ck_dtype dy_type, size_t n,
                            size_t lddy, float beta, void *dw, ck_dtype dw_type, ck_weight_layout layout,
                            size_t dw_stride);

ck_status ck_gemm_k_grouped_fp8(const uint8_t *xt, const float *x_scales, size_t m, size_t k, size_t ldxt,
                                const int64_t *group_sizes, size_t groups, const uint8_t *dyt, const float *dy_scales,
                                size_t n, size_t lddyt, float beta, void *dw, ck_dtype dw_type,
                                ck_weight_layout layout, size_t dw_stride);

#ifdef __cplusplus
}
#endif
#endif

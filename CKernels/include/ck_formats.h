/*
 * Low-precision formats and DeepSeek-V3's fine-grained FP8 quantization.
 *
 * Element formats
 *   bf16   : uint16_t bit patterns. f32 -> bf16 rounds to nearest even; overflow rounds to +-inf;
 *            NaN becomes the quiet NaN sign|0x7FC0 (payload dropped, as ml_dtypes).
 *   e4m3fn : uint8_t codes, bias 7, max 448, no inf, NaN = S.1111.111.
 *   e5m2   : uint8_t codes, bias 15, max 57344, inf = S.11111.00, NaN = S.11111.xx (xx != 0).
 *   ue8m0  : uint8_t exponent e, value 2^(e-127); 0xFF is NaN; no sign, no zero.
 * Encoding to fp8 rounds to nearest even with subnormals. Values whose rounded magnitude exceeds the
 * maximum follow the overflow mode: CK_OVERFLOW_NAN is bit-exact with ml_dtypes (e4m3fn -> NaN, e5m2 -> inf,
 * and +-inf likewise); CK_OVERFLOW_SATURATE clamps finite overflow and +-inf to +-max. NaN encodes as
 * sign|0x7F (e4m3fn) or sign|0x7E (e5m2) in both modes. Decoding is exact; NaN decodes to the quiet NaN
 * with its sign (f32 sign|0x7FC00000, bf16 sign|0x7FC0).
 *
 * Scaled quantization (scales are multipliers: x ~= q * s)
 *   For each group of elements: amax = max |x| (NaN if any element is NaN), floored at 1e-4;
 *   s = amax / max_fmt (448 or 57344) for CK_SCALE_F32, or for CK_SCALE_UE8M0 the exact smallest power
 *   of two >= that value (stored as its exponent byte). q = fp8(x / s) (CK_SCALING_DIVIDE, DeepSeek-V3's
 *   act_quant) or fp8(x * (1/s)) (CK_SCALING_RECIPROCAL, DeepGEMM). A group holding NaN gets s = NaN
 *   (ue8m0: 0xFF) and all-NaN codes; a group holding +-inf gets s = inf (ue8m0: 0xFF), its finite elements
 *   encode to +-0 and its infinities to NaN. Partial groups and blocks at the edges behave as if
 *   zero-padded. Dequantization computes y = decode(q) * s in f32 (rounded once more for bf16 output).
 *
 * Layouts (all row-major; ld* are row strides in elements and must be >= the row length)
 *   per token  [1 x G]: x [M, K], q [M, K], scales [M, ceil(K/G)]                 (activations)
 *   per block  [B x B]: x [N, K], q [N, K], scales [ceil(N/B), ceil(K/B)]         (weights: DeepSeek
 *                       checkpoint `weight` + `weight_scale_inv`)
 *   per channel[G x 1], transposed: x [T, C] -> q [C, T], scales [C, ceil(T/G)]   (wgrad activations);
 *                       the output is the per-token layout of x^T, so ck_dequant_per_token decodes it.
 * Inputs and outputs must not overlap. Empty tensors (a zero dimension) are valid and write nothing;
 * their pointers may then be NULL.
 */
#ifndef CK_FORMATS_H
#define CK_FORMATS_H

#include "ck_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ck_dtype {
    CK_DTYPE_F32 = 0,
    CK_DTYPE_BF16 = 1,
    CK_DTYPE_E4M3FN = 2, /* fp8 e4m3fn bytes: GEMM operands only, with block scales (ck_gemm.h) */
} ck_dtype;

typedef enum ck_fp8_format {
    CK_FP8_E4M3FN = 0,
    CK_FP8_E5M2 = 1,
} ck_fp8_format;

typedef enum ck_overflow {
    CK_OVERFLOW_SATURATE = 0,
    CK_OVERFLOW_NAN = 1,
} ck_overflow;

typedef enum ck_scale_format {
    CK_SCALE_F32 = 0,   /* scales are float */
    CK_SCALE_UE8M0 = 1, /* scales are uint8_t exponents */
} ck_scale_format;

typedef enum ck_scaling {
    CK_SCALING_DIVIDE = 0,
    CK_SCALING_RECIPROCAL = 1,
} ck_scaling;

typedef struct ck_quant_params {
    ck_fp8_format format;
    ck_scale_format scale_format;
    ck_scaling scaling;
} ck_quant_params;

/* ---- element casts: x [n] -> y [n] ---- */
ck_status ck_cast_f32_to_bf16(const float *x, uint16_t *y, size_t n);
ck_status ck_cast_bf16_to_f32(const uint16_t *x, float *y, size_t n);
/* x: [n] f32 or bf16 (x_type); y: [n] fp8 codes. */
ck_status ck_cast_to_fp8(const void *x, ck_dtype x_type, uint8_t *y, size_t n, ck_fp8_format format,
                         ck_overflow overflow);
/* x: [n] fp8 codes; y: [n] f32 or bf16 (y_type). */
ck_status ck_cast_from_fp8(const uint8_t *x, ck_fp8_format format, void *y, ck_dtype y_type, size_t n);

/* ---- per token 1 x G ----
 * x: [rows, cols] f32|bf16, row stride ldx; q: [rows, cols] fp8, stride ldq;
 * scales: [rows, ceil(cols/group)] float|uint8 (params->scale_format), stride lds. group >= 1. */
ck_status ck_quant_per_token(const void *x, ck_dtype x_type, size_t rows, size_t cols, size_t ldx, size_t group,
                             const ck_quant_params *params, uint8_t *q, size_t ldq, void *scales, size_t lds);
/* q: [rows, cols] fp8, stride ldq; scales as above; y: [rows, cols] f32|bf16, stride ldy. */
ck_status ck_dequant_per_token(const uint8_t *q, ck_fp8_format format, size_t rows, size_t cols, size_t ldq,
                               size_t group, const void *scales, ck_scale_format scale_format, size_t lds,
                               void *y, ck_dtype y_type, size_t ldy);

/* ---- per block B x B ----
 * x: [rows, cols] f32|bf16 (weight [N, K]); q: [rows, cols] fp8; scales: [ceil(rows/B), ceil(cols/B)]. */
ck_status ck_quant_per_block(const void *x, ck_dtype x_type, size_t rows, size_t cols, size_t ldx, size_t block,
                             const ck_quant_params *params, uint8_t *q, size_t ldq, void *scales, size_t lds);
ck_status ck_dequant_per_block(const uint8_t *q, ck_fp8_format format, size_t rows, size_t cols, size_t ldq,
                               size_t block, const void *scales, ck_scale_format scale_format, size_t lds,
                               void *y, ck_dtype y_type, size_t ldy);

/* ---- per channel G x 1, transposed output ----
 * x: [tokens, channels] f32|bf16, stride ldx; q: [channels, tokens] fp8, stride ldq (>= tokens);
 * scales: [channels, ceil(tokens/group)], stride lds. */
ck_status ck_quant_per_channel_transposed(const void *x, ck_dtype x_type, size_t tokens, size_t channels,
                                          size_t ldx, size_t group, const ck_quant_params *params, uint8_t *q,
                                          size_t ldq, void *scales, size_t lds);

/* ---- scalar helpers (exact) ---- */
/* The value of a ue8m0 exponent byte (0xFF -> NaN). */
float ck_ue8m0_to_f32(uint8_t e);
/* The scale the quantizers derive from a group's amax (NaN/inf rules as above); an invalid format gives NaN
 * (0xFF). */
float ck_quant_scale_f32(float amax, ck_fp8_format format);
uint8_t ck_quant_scale_ue8m0(float amax, ck_fp8_format format);

#ifdef __cplusplus
}
#endif
#endif

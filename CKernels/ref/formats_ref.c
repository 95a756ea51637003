/* Scalar reference of the format kernels (contract: ck_formats_kernels in core/internal.h): one element at a
 * time through core/formats_element.h. Always compiled; it defines the bits every other ISA must produce. */
#include "../core/formats_element.h"

static void f32_to_bf16_ref(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = ck_bf16_from_bits(ck_f32_bits(x[i]));
}

static void bf16_to_f32_ref(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = ck_bits_f32((uint32_t)x[i] << 16);
}

static void to_fp8_ref(const void *x, ck_dtype xt, uint8_t *y, size_t n, ck_fp8_format format, ck_overflow o) {
    for (size_t i = 0; i < n; i++) y[i] = ck_fp8_from_bits(ck_load_bits(x, xt, i), &ck_fp8_specs[format], o);
}

static void from_fp8_ref(const uint8_t *x, ck_fp8_format format, void *y, ck_dtype yt, size_t n) {
    for (size_t i = 0; i < n; i++) ck_store_bits(y, yt, i, ck_fp8_to_bits(x[i], &ck_fp8_specs[format]));
}

static void amax_groups_ref(const void *x, ck_dtype xt, size_t n, size_t group, uint32_t *amax_bits) {
    for (size_t i = 0; i < n; i++) {
        const uint32_t a = ck_load_bits(x, xt, i) & 0x7FFFFFFFu;
        if (i % group == 0 || a > amax_bits[i / group]) amax_bits[i / group] = a;
    }
}

static void amax_cols_ref(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, uint32_t *amax_bits) {
    for (size_t c = 0; c < cols; c++) amax_bits[c] = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            const uint32_t a = ck_load_bits(x, xt, r * ldx + c) & 0x7FFFFFFFu;
            if (a > amax_bits[c]) amax_bits[c] = a;
        }
}

static void quant_groups_ref(const void *x, ck_dtype xt, size_t n, size_t group, const float *s, ck_scaling sc,
                             ck_fp8_format format, uint8_t *q) {
    for (size_t i = 0; i < n; i++) q[i] = ck_quant_element(ck_load_bits(x, xt, i), s[i / group], sc, &ck_fp8_specs[format]);
}

static void quant_cols_t_ref(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, const float *s,
                             ck_scaling sc, ck_fp8_format format, uint8_t *q, size_t ldq) {
    for (size_t c = 0; c < cols; c++)
        for (size_t r = 0; r < rows; r++)
            q[c * ldq + r] = ck_quant_element(ck_load_bits(x, xt, r * ldx + c), s[c], sc, &ck_fp8_specs[format]);
}

static void dequant_groups_ref(const uint8_t *q, ck_fp8_format format, size_t n, size_t group, const float *s,
                               void *y, ck_dtype yt) {
    for (size_t i = 0; i < n; i++) ck_store_bits(y, yt, i, ck_dequant_element(q[i], s[i / group], &ck_fp8_specs[format]));
}

const ck_formats_kernels ck_formats_scalar = {
    .f32_to_bf16 = f32_to_bf16_ref,
    .bf16_to_f32 = bf16_to_f32_ref,
    .to_fp8 = to_fp8_ref,
    .from_fp8 = from_fp8_ref,
    .amax_groups = amax_groups_ref,
    .amax_cols = amax_cols_ref,
    .quant_groups = quant_groups_ref,
    .quant_cols_t = quant_cols_t_ref,
    .dequant_groups = dequant_groups_ref,
};

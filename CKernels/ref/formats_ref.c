/* Scalar reference of the format kernels (contract: ck_formats_kernels in core/internal.h): one element at a
 * time through core/formats_element.h. Always compiled; it defines the bits every other ISA must produce. */
#include "../core/formats_element.h"

static void f32_to_bf16_ref(const float *x, uint16_t *y, size_t n, bool stream) {
    (void)stream;
    for (size_t i = 0; i < n; i++) y[i] = ck_bf16_from_bits(ck_f32_bits(x[i]));
}

static void bf16_to_f32_ref(const uint16_t *x, float *y, size_t n, bool stream) {
    (void)stream;
    for (size_t i = 0; i < n; i++) y[i] = ck_bits_f32((uint32_t)x[i] << 16);
}

static void to_fp8_ref(const void *x, ck_dtype xt, uint8_t *y, size_t n, ck_fp8_format format, ck_overflow o) {
    for (size_t i = 0; i < n; i++) y[i] = ck_fp8_from_bits(ck_load_bits(x, xt, i), &ck_fp8_specs[format], o);
}

static void from_fp8_ref(const uint8_t *x, ck_fp8_format format, void *y, ck_dtype yt, size_t n, bool stream) {
    (void)stream;
    for (size_t i = 0; i < n; i++) ck_store_bits(y, yt, i, ck_fp8_to_bits(x[i], &ck_fp8_specs[format]));
}

static void range_groups_ref(const void *x, ck_dtype xt, size_t n, size_t group, uint32_t *amax, const void *next) {
    (void)next;
    for (size_t i = 0; i < n; i++) {
        const uint32_t a = ck_load_bits(x, xt, i) & 0x7FFFFFFFu, g = i / group;
        if (i % group == 0 || a > amax[g]) amax[g] = a;
    }
}

static void range_cols_ref(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, uint32_t *amax) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            const uint32_t a = ck_load_bits(x, xt, r * ldx + c) & 0x7FFFFFFFu;
            if (r == 0 || a > amax[c]) amax[c] = a;
        }
}

static void scales_ref(const uint32_t *amax_bits, size_t n, ck_fp8_format format, ck_scale_format sf, float *s,
                       float *rcp, uint8_t *e8) {
    const ck_fp8_spec *f = &ck_fp8_specs[format];
    for (size_t i = 0; i < n; i++) {
        s[i] = ck_scale_f32(amax_bits[i], f);
        if (sf == CK_SCALE_UE8M0) {
            e8[i] = ck_scale_ue8m0(amax_bits[i], f);
            if (e8[i] != 0xFF) s[i] = ck_bits_f32((uint32_t)e8[i] << 23);
        }
        rcp[i] = 1.0f / s[i];
    }
}

/* The definition: a true division (or the product with 1/s) per element. */
static void quant_groups_ref(const void *x, ck_dtype xt, size_t n, size_t group, const float *s, const float *rcp,
                             ck_scaling sc, ck_fp8_format format, uint8_t *q, const void *next) {
    (void)rcp, (void)next;
    for (size_t i = 0; i < n; i++) q[i] = ck_quant_element(ck_load_bits(x, xt, i), s[i / group], sc, &ck_fp8_specs[format]);
}

static void quant_cols_t_ref(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, const float *s,
                             const float *rcp, ck_scaling sc, ck_fp8_format format, uint8_t *q, size_t ldq) {
    (void)rcp;
    for (size_t c = 0; c < cols; c++)
        for (size_t r = 0; r < rows; r++)
            q[c * ldq + r] = ck_quant_element(ck_load_bits(x, xt, r * ldx + c), s[c], sc, &ck_fp8_specs[format]);
}

static void dequant_groups_ref(const uint8_t *q, ck_fp8_format format, size_t n, size_t group, const float *s,
                               void *y, ck_dtype yt, bool stream) {
    (void)stream;
    for (size_t i = 0; i < n; i++) ck_store_bits(y, yt, i, ck_dequant_element(q[i], s[i / group], &ck_fp8_specs[format]));
}

static void outputs_ref(const float *x, void *y, ck_dtype yt, size_t n, bool stream) {
    (void)stream;
    for (size_t i = 0; i < n; i++) ck_store_bits(y, yt, i, ck_output_bits(x[i]));
}

const ck_formats_kernels ck_formats_scalar = {
    .f32_to_bf16 = f32_to_bf16_ref,
    .bf16_to_f32 = bf16_to_f32_ref,
    .to_fp8 = to_fp8_ref,
    .from_fp8 = from_fp8_ref,
    .range_groups = range_groups_ref,
    .range_cols = range_cols_ref,
    .scales = scales_ref,
    .quant_groups = quant_groups_ref,
    .quant_cols_t = quant_cols_t_ref,
    .dequant_groups = dequant_groups_ref,
    .outputs = outputs_ref,
};

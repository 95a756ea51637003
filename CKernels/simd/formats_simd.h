/*
 * Format kernels written once over the vector vocabulary of vec_<isa>.h and instantiated per ISA by
 * x86_<isa>/formats_<isa>.c. Contract: ck_formats_kernels in core/internal.h. Every vector step computes
 * exactly what core/formats_element.h computes for one element (which also handles the tails), so each ISA
 * is bit-identical to the scalar reference.
 */
#include "../core/formats_element.h"

/* Element i of an f32 or bf16 array as a vector of f32 bit patterns. */
static inline vu32 v_load_x(const void *x, ck_dtype t, size_t i) {
    return t == CK_DTYPE_F32 ? v_load_f32((const float *)x + i) : v_load_bf16((const uint16_t *)x + i);
}

static inline vu32 v_bf16_from_bits(vu32 u) {
    const vmask nan = v_gt(v_and(u, v_set(0x7FFFFFFFu)), v_set(0x7F800000u));
    const vu32 rounded = v_srl(v_add(u, v_add(v_set(0x7FFFu), v_and(v_srl(u, 16), v_set(1)))), 16);
    const vu32 quiet = v_or(v_and(v_srl(u, 16), v_set(0x8000u)), v_set(0x7FC0u));
    return v_select(nan, quiet, rounded);
}

static inline void v_store_y(void *y, ck_dtype t, size_t i, vu32 bits) {
    if (t == CK_DTYPE_F32) v_store_u32((float *)y + i, bits);
    else v_store_u16((uint16_t *)y + i, v_bf16_from_bits(bits));
}

static inline vu32 v_fp8_from_bits(vu32 u, const ck_fp8_spec *f, ck_overflow overflow) {
    const vu32 sign = v_srl(v_and(u, v_set(0x80000000u)), 24);
    const vu32 a = v_and(u, v_set(0x7FFFFFFFu));
    const vu32 sub = v_sub(v_as_u32(v_addf(v_as_f32(a), v_as_f32(v_set(f->sub_magic)))), v_set(f->sub_magic));
    vu32 norm;
    switch (f->mant_bits) { /* shifts take immediates */
    case 3: norm = v_sub(v_srl(v_add(a, v_add(v_set((1u << 19) - 1), v_and(v_srl(a, 20), v_set(1)))), 20), v_set(f->rebias)); break;
    default: norm = v_sub(v_srl(v_add(a, v_add(v_set((1u << 20) - 1), v_and(v_srl(a, 21), v_set(1)))), 21), v_set(f->rebias)); break;
    }
    vu32 code = v_select(v_gt(v_set(f->min_normal), a), sub, norm);
    if (overflow == CK_OVERFLOW_SATURATE) code = v_min(code, v_set(f->max_code));
    else code = v_select(v_gt(code, v_set(f->max_code)), v_set(f->overflow_code), code);
    code = v_select(v_gt(a, v_set(0x7F800000u)), v_set(f->nan_code), code);
    return v_or(code, sign);
}

static inline vu32 v_fp8_to_bits(vu32 c, const ck_fp8_spec *f) {
    const vu32 sign = v_sll(v_and(c, v_set(0x80u)), 24);
    const vu32 m = v_and(c, v_set(0x7Fu));
    const vu32 sub = v_as_u32(v_mulf(v_cvtf(m), v_setf(f->min_subnormal)));
    vu32 norm;
    switch (f->mant_bits) {
    case 3: norm = v_add(v_sll(m, 20), v_set(f->rebias << 20)); break;
    default: norm = v_add(v_sll(m, 21), v_set(f->rebias << 21)); break;
    }
    vu32 bits = v_select(v_gt(v_set(1u << f->mant_bits), m), sub, norm);
    bits = v_select(v_eq(m, v_set(f->inf_code)), v_set(0x7F800000u), bits);
    bits = v_select(v_gt(m, v_set(f->nan_above)), v_set(0x7FC00000u), bits);
    return v_or(bits, sign);
}

static void CK_SIMD(f32_to_bf16)(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_u16(y + i, v_bf16_from_bits(v_load_f32(x + i)));
    for (; i < n; i++) y[i] = ck_bf16_from_bits(ck_f32_bits(x[i]));
}

static void CK_SIMD(bf16_to_f32)(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_u32(y + i, v_load_bf16(x + i));
    for (; i < n; i++) y[i] = ck_bits_f32((uint32_t)x[i] << 16);
}

static void CK_SIMD(to_fp8)(const void *x, ck_dtype xt, uint8_t *y, size_t n, ck_fp8_format format,
                            ck_overflow overflow) {
    const ck_fp8_spec *f = &ck_fp8_specs[format];
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_u8(y + i, v_fp8_from_bits(v_load_x(x, xt, i), f, overflow));
    for (; i < n; i++) y[i] = ck_fp8_from_bits(ck_load_bits(x, xt, i), f, overflow);
}

static void CK_SIMD(from_fp8)(const uint8_t *x, ck_fp8_format format, void *y, ck_dtype yt, size_t n) {
    const ck_fp8_spec *f = &ck_fp8_specs[format];
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_y(y, yt, i, v_fp8_to_bits(v_load_u8(x + i), f));
    for (; i < n; i++) ck_store_bits(y, yt, i, ck_fp8_to_bits(x[i], f));
}

static void CK_SIMD(amax_groups)(const void *x, ck_dtype xt, size_t n, size_t group, uint32_t *amax_bits) {
    const vu32 abs_mask = v_set(0x7FFFFFFFu);
    for (size_t g = 0, start = 0; start < n; g++, start += group) {
        const size_t end = n - start < group ? n : start + group;
        size_t i = start;
        vu32 acc = v_set(0);
        for (; i + CK_VW <= end; i += CK_VW) acc = v_max(acc, v_and(v_load_x(x, xt, i), abs_mask));
        uint32_t m = v_hmax(acc);
        for (; i < end; i++) {
            const uint32_t a = ck_load_bits(x, xt, i) & 0x7FFFFFFFu;
            m = a > m ? a : m;
        }
        amax_bits[g] = m;
    }
}

static void CK_SIMD(amax_cols)(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx,
                               uint32_t *amax_bits) {
    const vu32 abs_mask = v_set(0x7FFFFFFFu);
    size_t c = 0;
    for (; c + CK_VW <= cols; c += CK_VW) {
        vu32 acc = v_set(0);
        for (size_t r = 0; r < rows; r++) acc = v_max(acc, v_and(v_load_x(x, xt, r * ldx + c), abs_mask));
        v_store_u32(amax_bits + c, acc);
    }
    for (; c < cols; c++) {
        uint32_t m = 0;
        for (size_t r = 0; r < rows; r++) {
            const uint32_t a = ck_load_bits(x, xt, r * ldx + c) & 0x7FFFFFFFu;
            m = a > m ? a : m;
        }
        amax_bits[c] = m;
    }
}

/* x / s equals x * (1/s) to the bit when s is a normal power of two (1/s is then exact). */
static inline bool ck_divide_is_multiply(float s) {
    const uint32_t b = ck_f32_bits(s);
    return (b & 0x007FFFFFu) == 0 && (b & 0x7F800000u) != 0 && (b & 0x7F800000u) != 0x7F800000u;
}

static void CK_SIMD(quant_groups)(const void *x, ck_dtype xt, size_t n, size_t group, const float *s,
                                  ck_scaling sc, ck_fp8_format format, uint8_t *q) {
    const ck_fp8_spec *f = &ck_fp8_specs[format];
    for (size_t g = 0, start = 0; start < n; g++, start += group) {
        const size_t end = n - start < group ? n : start + group;
        size_t i = start;
        if (sc == CK_SCALING_RECIPROCAL || ck_divide_is_multiply(s[g])) {
            const vf32 r = v_setf(1.0f / s[g]);
            for (; i + CK_VW <= end; i += CK_VW)
                v_store_u8(q + i, v_fp8_from_bits(v_as_u32(v_mulf(v_as_f32(v_load_x(x, xt, i)), r)), f,
                                                  CK_OVERFLOW_SATURATE));
        } else {
            const vf32 d = v_setf(s[g]);
            for (; i + CK_VW <= end; i += CK_VW)
                v_store_u8(q + i, v_fp8_from_bits(v_as_u32(v_divf(v_as_f32(v_load_x(x, xt, i)), d)), f,
                                                  CK_OVERFLOW_SATURATE));
        }
        for (; i < end; i++) q[i] = ck_quant_element(ck_load_bits(x, xt, i), s[g], sc, f);
    }
}

static void CK_SIMD(quant_cols_t)(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx,
                                  const float *s, ck_scaling sc, ck_fp8_format format, uint8_t *q, size_t ldq) {
    const ck_fp8_spec *f = &ck_fp8_specs[format];
    enum { TILE = 16 };
    uint8_t tile[CK_VW][TILE]; /* tile[c][r]: codes of columns c0+c, rows r0+r */
    size_t c0 = 0;
    for (; c0 + CK_VW <= cols; c0 += CK_VW) {
        /* per-lane scale: divide by s, or multiply by 1/s (reciprocal mode) */
        float lane[CK_VW];
        for (int c = 0; c < CK_VW; c++) lane[c] = sc == CK_SCALING_RECIPROCAL ? 1.0f / s[c0 + c] : s[c0 + c];
        const vf32 scale = v_as_f32(v_load_u32(lane));
        for (size_t r0 = 0; r0 < rows; r0 += TILE) {
            const size_t nr = rows - r0 < TILE ? rows - r0 : TILE;
            for (size_t r = 0; r < nr; r++) {
                const vf32 v = v_as_f32(v_load_x(x, xt, (r0 + r) * ldx + c0));
                const vf32 y = sc == CK_SCALING_RECIPROCAL ? v_mulf(v, scale) : v_divf(v, scale);
                uint8_t codes[CK_VW];
                v_store_u8(codes, v_fp8_from_bits(v_as_u32(y), f, CK_OVERFLOW_SATURATE));
                for (int c = 0; c < CK_VW; c++) tile[c][r] = codes[c];
            }
            for (int c = 0; c < CK_VW; c++) memcpy(q + (c0 + c) * ldq + r0, tile[c], nr);
        }
    }
    for (; c0 < cols; c0++)
        for (size_t r = 0; r < rows; r++) q[c0 * ldq + r] = ck_quant_element(ck_load_bits(x, xt, r * ldx + c0), s[c0], sc, f);
}

static void CK_SIMD(dequant_groups)(const uint8_t *q, ck_fp8_format format, size_t n, size_t group,
                                    const float *s, void *y, ck_dtype yt) {
    const ck_fp8_spec *f = &ck_fp8_specs[format];
    for (size_t g = 0, start = 0; start < n; g++, start += group) {
        const size_t end = n - start < group ? n : start + group;
        const vf32 scale = v_setf(s[g]);
        size_t i = start;
        for (; i + CK_VW <= end; i += CK_VW)
            v_store_y(y, yt, i, v_as_u32(v_mulf(v_as_f32(v_fp8_to_bits(v_load_u8(q + i), f)), scale)));
        for (; i < end; i++) ck_store_bits(y, yt, i, ck_dequant_element(q[i], s[g], f));
    }
}

const ck_formats_kernels CK_SIMD(ck_formats) = {
    .f32_to_bf16 = CK_SIMD(f32_to_bf16),
    .bf16_to_f32 = CK_SIMD(bf16_to_f32),
    .to_fp8 = CK_SIMD(to_fp8),
    .from_fp8 = CK_SIMD(from_fp8),
    .amax_groups = CK_SIMD(amax_groups),
    .amax_cols = CK_SIMD(amax_cols),
    .quant_groups = CK_SIMD(quant_groups),
    .quant_cols_t = CK_SIMD(quant_cols_t),
    .dequant_groups = CK_SIMD(dequant_groups),
};

/*
 * Per-element format conversions: the definition of every cast MoEKit performs. The scalar reference uses
 * them for everything and the SIMD kernels for their tails, so all ISAs agree to the bit.
 * The casts use only integer operations and one float addition (exact rounding by the FPU's default
 * round-to-nearest-even), so they do not depend on FP contraction, and their codes stay the same with DAZ or
 * FTZ on. The scale arithmetic (ck_scale_f32, ck_quant_element, ck_dequant_element) divides and multiplies as
 * the semantics define; like all of MoEKit it assumes the default environment (a dequantized product may be
 * a denormal).
 */
#ifndef CK_FORMATS_ELEMENT_H
#define CK_FORMATS_ELEMENT_H

#include "internal.h"

#include <string.h>

static inline uint32_t ck_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float ck_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Constants of one fp8 format; see ck_formats.h for the formats. */
typedef struct ck_fp8_spec {
    uint32_t mant_bits;     /* 3 or 2 */
    uint32_t rebias;        /* (127 - bias) << mant_bits: f32 exponent/mantissa field -> fp8 field */
    uint32_t min_normal;    /* f32 bits of the smallest fp8 normal */
    uint32_t sub_magic;     /* f32 bits of 2^(emin - mant_bits + 23): adding it rounds to the subnormal step */
    uint32_t max_code;      /* largest finite magnitude code */
    uint32_t nan_code;      /* magnitude code written for NaN */
    uint32_t overflow_code; /* magnitude code for overflow in CK_OVERFLOW_NAN mode (NaN or inf) */
    uint32_t inf_code;      /* magnitude code that decodes to inf (0x100: none) */
    uint32_t nan_above;     /* magnitude codes above this decode to NaN */
    float min_subnormal;    /* 2^(emin - mant_bits) */
    float max_value;        /* 448 or 57344 */
    /* The SIMD quantizers' rounding to the fp8 grid (formats_simd.h, v_fp8_grid): the scaled values come
     * multiplied by grid_scale = 2^(23 - mant_bits - f16_shift), f16_shift = 8 for E4M3 (which puts its
     * subnormals on binary16's) and 0 for E5M2; grid_floor = grid_scale * the smallest normal, and
     * grid_unit = 2^(mant_bits - 23). */
    float grid_scale, grid_floor, grid_unit;
} ck_fp8_spec;

static const ck_fp8_spec ck_fp8_specs[2] = {
    [CK_FP8_E4M3FN] = {3, 120u << 3, 121u << 23, 141u << 23, 0x7E, 0x7F, 0x7F, 0x100, 0x7E, 0x1p-9f, 448.0f,
                       0x1p12f, 0x1p6f, 0x1p-20f},
    [CK_FP8_E5M2] = {2, 112u << 2, 113u << 23, 134u << 23, 0x7B, 0x7E, 0x7C, 0x7C, 0x7C, 0x1p-16f, 57344.0f,
                     0x1p21f, 0x1p7f, 0x1p-21f},
};

/* f32 bit pattern -> bf16 (round to nearest even, NaN -> sign|0x7FC0). */
static inline uint16_t ck_bf16_from_bits(uint32_t u) {
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)(((u >> 16) & 0x8000u) | 0x7FC0u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* f32 bit pattern -> fp8 code (round to nearest even with subnormals). */
static inline uint8_t ck_fp8_from_bits(uint32_t u, const ck_fp8_spec *f, ck_overflow overflow) {
    const uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return (uint8_t)(sign | f->nan_code);
    uint32_t code;
    if (a < f->min_normal) {
        code = ck_f32_bits(ck_bits_f32(a) + ck_bits_f32(f->sub_magic)) - f->sub_magic;
    } else {
        const uint32_t shift = 23 - f->mant_bits;
        code = ((a + ((1u << (shift - 1)) - 1) + ((a >> shift) & 1u)) >> shift) - f->rebias;
    }
    if (code > f->max_code) code = overflow == CK_OVERFLOW_SATURATE ? f->max_code : f->overflow_code;
    return (uint8_t)(sign | code);
}

/* fp8 code -> f32 bit pattern (exact; NaN -> sign|0x7FC00000). */
static inline uint32_t ck_fp8_to_bits(uint8_t c, const ck_fp8_spec *f) {
    const uint32_t sign = (uint32_t)(c & 0x80u) << 24, m = c & 0x7Fu;
    uint32_t bits;
    if (m > f->nan_above) bits = 0x7FC00000u;
    else if (m == f->inf_code) bits = 0x7F800000u;
    else if (m < (1u << f->mant_bits)) bits = ck_f32_bits((float)m * f->min_subnormal);
    else bits = (m << (23 - f->mant_bits)) + (f->rebias << (23 - f->mant_bits));
    return sign | bits;
}

/* Loads element i of an f32 or bf16 array as f32 bits. */
static inline uint32_t ck_load_bits(const void *x, ck_dtype t, size_t i) {
    if (t == CK_DTYPE_F32) {
        uint32_t u;
        memcpy(&u, (const char *)x + 4 * i, 4);
        return u;
    }
    uint16_t h;
    memcpy(&h, (const char *)x + 2 * i, 2);
    return (uint32_t)h << 16;
}

/* Element i of an f32, bf16 or e4m3fn array, decoded exactly to f32. */
static inline float ck_load_f32(const void *x, ck_dtype t, size_t i) {
    if (t == CK_DTYPE_E4M3FN) return ck_bits_f32(ck_fp8_to_bits(((const uint8_t *)x)[i], &ck_fp8_specs[CK_FP8_E4M3FN]));
    return ck_bits_f32(ck_load_bits(x, t, i));
}

/* The one NaN every NaN output of the GEMMs becomes: which NaN an fma passes on when two meet depends on the
 * instruction form the compiler picked, so NaN bits would otherwise differ between ISAs and between kernels. */
#define CK_OUTPUT_NAN 0x7FC00000u
static inline uint32_t ck_output_bits(float x) { return x != x ? CK_OUTPUT_NAN : ck_f32_bits(x); }

/* Stores f32 bits as element i of an f32 or bf16 array. */
static inline void ck_store_bits(void *y, ck_dtype t, size_t i, uint32_t u) {
    if (t == CK_DTYPE_F32) {
        memcpy((char *)y + 4 * i, &u, 4);
    } else {
        uint16_t h = ck_bf16_from_bits(u);
        memcpy((char *)y + 2 * i, &h, 2);
    }
}

/* The scale of a group with amax bit pattern `amax_bits` (ck_formats.h): max(amax, 1e-4) / max_fmt, NaN for
 * NaN groups. Integer max on the bit patterns keeps NaN (its bits sort above every number). */
static inline float ck_scale_f32(uint32_t amax_bits, const ck_fp8_spec *f) {
    const uint32_t floor_bits = 0x38D1B717u; /* 1e-4f */
    if (amax_bits > 0x7F800000u) return ck_bits_f32(0x7FC00000u); /* one NaN, whatever the input's payload */
    return ck_bits_f32(amax_bits > floor_bits ? amax_bits : floor_bits) / f->max_value;
}

/* The UE8M0 exponent of a group: the smallest power of two >= its f32 scale, 0xFF for non-finite groups. */
static inline uint8_t ck_scale_ue8m0(uint32_t amax_bits, const ck_fp8_spec *f) {
    if (amax_bits >= 0x7F800000u) return 0xFF;
    const uint32_t b = ck_f32_bits(ck_scale_f32(amax_bits, f));
    const uint32_t e = (b >> 23) + ((b & 0x007FFFFFu) != 0);
    return (uint8_t)(e < 1 ? 1 : e > 254 ? 254 : e);
}

/* The quantizers' scaling of one element, then a saturating encode (finite groups cannot overflow). */
static inline uint8_t ck_quant_element(uint32_t u, float s, ck_scaling sc, const ck_fp8_spec *f) {
    const float x = ck_bits_f32(u);
    const float y = sc == CK_SCALING_DIVIDE ? x / s : x * (1.0f / s);
    /* A NaN x keeps its own sign: NaN * NaN returns one operand's NaN, and which one depends on the operand
     * order the compiler picks, which would make the code's sign differ between ISAs. */
    return ck_fp8_from_bits(x != x ? u : ck_f32_bits(y), f, CK_OVERFLOW_SATURATE);
}

/* decode(c) * s; a NaN code gives its own NaN (sign|0x7FC00000) whatever s is, for the same reason. */
static inline uint32_t ck_dequant_element(uint8_t c, float s, const ck_fp8_spec *f) {
    const uint32_t d = ck_fp8_to_bits(c, f);
    return (d & 0x7FFFFFFFu) > 0x7F800000u ? d : ck_f32_bits(ck_bits_f32(d) * s);
}

#endif

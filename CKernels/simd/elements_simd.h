/*
 * Element conversions as vectors, over the vocabulary of vec_<isa>.h: each lane computes exactly what
 * core/formats_element.h computes for one element. Shared by the format and GEMM kernels.
 */
#ifndef CK_ELEMENTS_SIMD_H
#define CK_ELEMENTS_SIMD_H

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

/* Elements i ... i + CK_VW - 1 of an f32 or bf16 array y from f32 bit patterns; with `stream`, a streaming store
 * where they start at a multiple of their size (the caller fences the streaming stores). */
static inline void v_store_y(void *y, ck_dtype t, size_t i, vu32 bits, bool stream) {
    const bool nt = stream && (uintptr_t)((char *)y + i * ck_dtype_size(t)) % (CK_VW * ck_dtype_size(t)) == 0;
    if (t == CK_DTYPE_F32) {
        if (nt) v_stream_u32((float *)y + i, bits);
        else v_store_u32((float *)y + i, bits);
    } else {
        const vu32 b = v_bf16_from_bits(bits);
        if (nt) v_stream_u16((uint16_t *)y + i, b);
        else v_store_u16((uint16_t *)y + i, b);
    }
}

/* fp8 codes (one per lane) decoded exactly to f32 bit patterns. */
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

#endif

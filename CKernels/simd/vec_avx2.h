/*
 * The small vector vocabulary the generic SIMD kernels (formats_simd.h) are written in, for AVX2 (+FMA,
 * F16C): 8 lanes of 32 bits. Include inside a target("avx2,fma,f16c") region.
 */
#ifndef CK_VEC_AVX2_H
#define CK_VEC_AVX2_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#define CK_VREGS 16 /* vector registers */
#define CK_VW 8
#define CK_SIMD(name) name##_avx2

typedef __m256i vu32;
typedef __m256 vf32;
typedef __m256i vmask;

static inline vu32 v_set(uint32_t x) { return _mm256_set1_epi32((int)x); }
static inline vf32 v_setf(float x) { return _mm256_set1_ps(x); }
static inline vf32 v_as_f32(vu32 a) { return _mm256_castsi256_ps(a); }
static inline vu32 v_as_u32(vf32 a) { return _mm256_castps_si256(a); }
static inline vu32 v_and(vu32 a, vu32 b) { return _mm256_and_si256(a, b); }
static inline vu32 v_or(vu32 a, vu32 b) { return _mm256_or_si256(a, b); }
static inline vu32 v_add(vu32 a, vu32 b) { return _mm256_add_epi32(a, b); }
static inline vu32 v_sub(vu32 a, vu32 b) { return _mm256_sub_epi32(a, b); }
#define v_srl(a, n) _mm256_srli_epi32((a), (n))
#define v_sll(a, n) _mm256_slli_epi32((a), (n))
#define v_sra(a, n) _mm256_srai_epi32((a), (n))
/* a + bit n of a (the round-to-nearest-even carry) */
#define v_add_bit(a, n) _mm256_add_epi32((a), _mm256_and_si256(_mm256_srli_epi32((a), (n)), _mm256_set1_epi32(1)))
static inline vu32 v_max(vu32 a, vu32 b) { return _mm256_max_epu32(a, b); }
static inline vu32 v_min(vu32 a, vu32 b) { return _mm256_min_epu32(a, b); }
/* The larger of each 16-bit half (unsigned). */
static inline vu32 v_max16(vu32 a, vu32 b) { return _mm256_max_epu16(a, b); }
/* Comparisons of values below 2^31. */
static inline vmask v_gt(vu32 a, vu32 b) { return _mm256_cmpgt_epi32(a, b); }
static inline vmask v_eq(vu32 a, vu32 b) { return _mm256_cmpeq_epi32(a, b); }
static inline bool v_any(vmask m) { return !_mm256_testz_si256(m, m); }
/* m ? a : b */
static inline vu32 v_select(vmask m, vu32 a, vu32 b) { return _mm256_blendv_epi8(b, a, m); }
static inline vf32 v_addf(vf32 a, vf32 b) { return _mm256_add_ps(a, b); }
static inline vf32 v_subf(vf32 a, vf32 b) { return _mm256_sub_ps(a, b); }
static inline vf32 v_mulf(vf32 a, vf32 b) { return _mm256_mul_ps(a, b); }
static inline vf32 v_fmaf(vf32 a, vf32 b, vf32 c) { return _mm256_fmadd_ps(a, b, c); }   /* a*b + c */
/* *x * b + c, *x broadcast (vec_avx512.h's embeds the broadcast in the FMA; VEX has no such operand). */
static inline vf32 v_fmaf_at(const float *x, vf32 b, vf32 c) { return _mm256_fmadd_ps(_mm256_set1_ps(*x), b, c); }
/* Half a vector of floats at p in both halves; a's low half with b's high half (the transposed tiles, which only
 * AVX2's table has). */
static inline vf32 v_load_half_dup(const float *p) { return _mm256_broadcast_ps((const __m128 *)p); }
static inline vf32 v_halves(vf32 a, vf32 b) { return _mm256_blend_ps(a, b, 0xF0); }
static inline vf32 v_fnmaf(vf32 a, vf32 b, vf32 c) { return _mm256_fnmadd_ps(a, b, c); } /* c - a*b */
static inline vf32 v_divf(vf32 a, vf32 b) { return _mm256_div_ps(a, b); }
static inline vf32 v_cvtf(vu32 a) { return _mm256_cvtepi32_ps(a); }
/* max(|a|, b) with a's sign, for b >= 0 */
static inline vf32 v_maxabs_signed(vf32 a, vf32 b) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_max_ps(_mm256_andnot_ps(sign, a), b), _mm256_and_ps(sign, a));
}
static inline uint32_t v_hmax(vu32 a) {
    __m128i m = _mm_max_epu32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_max_epu32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(m);
}
/* Lane g = the largest lane of h[g] (unsigned), for 8 vectors at once: the rounds of vec_avx512.h's
 * v_hmax_each on 8 lanes (22 instructions). */
static inline vu32 v_hmax_each(const vu32 h[8]) {
    __m256i a[4], b[2];
    for (int i = 0; i < 4; i++) /* 128-bit lane L: h[2i + L] */
        a[i] = _mm256_max_epu32(_mm256_permute2x128_si256(h[2 * i], h[2 * i + 1], 0x20),
                                _mm256_permute2x128_si256(h[2 * i], h[2 * i + 1], 0x31));
    for (int i = 0; i < 2; i++) /* lane L: two lanes for h[4i + L], two for h[4i + 2 + L] */
        b[i] = _mm256_max_epu32(_mm256_unpacklo_epi64(a[2 * i], a[2 * i + 1]), _mm256_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
    const __m256 b0 = _mm256_castsi256_ps(b[0]), b1 = _mm256_castsi256_ps(b[1]);
    const __m256i d = _mm256_max_epu32(_mm256_castps_si256(_mm256_shuffle_ps(b0, b1, 0x88)),
                                       _mm256_castps_si256(_mm256_shuffle_ps(b0, b1, 0xDD))); /* lane 4L + j: h[2j + L] */
    return _mm256_permutevar8x32_epi32(d, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline vu32 v_load_f32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline vu32 v_load_bf16(const void *p) {
    return _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16);
}
static inline vu32 v_load_u8(const void *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
/* The same bytes, each in its lane's top byte (v_load_u8 shifted left by 24): a broadcast load and one byte shuffle. */
static inline vu32 v_load_u8_top(const void *p) {
    const __m256i at = _mm256_set_epi32(0x07ffffff, 0x06ffffff, 0x05ffffff, 0x04ffffff,
                                        0x03ffffff, 0x02ffffff, 0x01ffffff, 0x00ffffff);
    return _mm256_shuffle_epi8(_mm256_broadcastq_epi64(_mm_loadl_epi64((const __m128i *)p)), at);
}
static inline vu32 v_load_u32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline void v_store_u32(void *p, vu32 a) { _mm256_storeu_si256((__m256i *)p, a); }
/* Lanes hold values below 2^16 (u16 packs and stores) or 2^8 (u8 stores). v_pack_u16: the lanes as CK_VW 16-bit
 * values. */
static inline __m128i v_pack_u16(vu32 a) {
    return _mm_packus_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}
static inline void v_store_u16(void *p, vu32 a) { _mm_storeu_si128((__m128i *)p, v_pack_u16(a)); }
/* v_store_u32 and v_store_u16 as streaming stores (past the caches; p aligned to the bytes stored). */
static inline void v_stream_u32(void *p, vu32 a) { _mm256_stream_si256((__m256i *)p, a); }
static inline void v_stream_u16(void *p, vu32 a) { _mm_stream_si128((__m128i *)p, v_pack_u16(a)); }
static inline void v_store_u8(void *p, vu32 a) {
    const __m128i w = v_pack_u16(a);
    _mm_storel_epi64((__m128i *)p, _mm_packus_epi16(w, w));
}
/* binary16: CK_VW values in a half-width register, converted (round to nearest even) and widened or paired. */
typedef __m128i vh16;
static inline vh16 v_f16(vf32 a) { return _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline vu32 v_f16_widen(vh16 h) { return _mm256_cvtepu16_epi32(h); } /* lane i: h's value i, zero-extended */
static inline vu32 v_f16_pair(vh16 lo, vh16 hi) { return _mm256_set_m128i(hi, lo); }
/* Shifts of each 16-bit half of the lanes. */
#define v_sll16(a, n) _mm256_slli_epi16((a), (n))
#define v_srl16(a, n) _mm256_srli_epi16((a), (n))
/* Two vectors of values below 2^16 as one register of 16-bit values, a's CK_VW then b's (v_f16_pair's layout). */
static inline vu32 v_u16_pair(vu32 a, vu32 b) {
    return v_f16_pair(v_pack_u16(a), v_pack_u16(b));
}
/* Two registers of 16-bit values below 256 (a's 2 * CK_VW, then b's), stored as 4 * CK_VW consecutive bytes. */
static inline void v_store_u8_words(void *p, vu32 a, vu32 b) {
    /* 128-bit lane L of the pack: 8 bytes from a's lane L, then 8 from b's */
    _mm256_storeu_si256((__m256i *)p, _mm256_permute4x64_epi64(_mm256_packus_epi16(a, b), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* In place, within each 128-bit lane q: r[i] lane 4q + j <-> r[j] lane 4q + i (8 shuffles). */
static inline void v_transpose_quads(vf32 r[4]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    r[0] = _mm256_shuffle_ps(t0, t2, 0x44), r[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    r[2] = _mm256_shuffle_ps(t1, t3, 0x44), r[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}
/* a's 128-bit lanes stored at p and p + stride. */
static inline void v_store_quads(float *p, size_t stride, vf32 a) {
    _mm_storeu_ps(p, _mm256_castps256_ps128(a));
    _mm_storeu_ps(p + stride, _mm256_extractf128_ps(a, 1));
}

/* In place: r[i] lane j <-> r[j] lane i (an 8 x 8 transpose, 24 shuffles). */
static inline void v_transpose(vf32 r[CK_VW]) {
    for (int i = 0; i < 2; i++) v_transpose_quads(r + 4 * i);
    __m256 u[8];
    for (int i = 0; i < 8; i++) u[i] = r[i];
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
        r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
    }
}

/* 8 x 8 blocks of narrow elements (row c at p + c*ld bytes) transposed into 32-bit lanes with each element
 * in the lane's top bits: out[j] lane c = element j of row c << (32 - width), as the bits of f32 lanes
 * (v_load_e4m3_t then decodes normal blocks). As on AVX-512, the transpose runs on the narrow elements: rows c
 * and 4 + c share a register (one in each 128-bit lane), so unpacks within the lanes gather each column's rows
 * 0-3 in lane 0 and 4-7 in lane 1, and unpacks against zero then widen them in place into the lanes of a whole
 * column: 16 shuffles and 4 inserts for either type, where widening each row first took 8 and then the 32-bit
 * transpose 24. */
static inline __m256i v_rows2(const uint8_t *p, size_t ld, int c, bool eight) { /* rows c, 4 + c; 8 or 16 bytes */
    const uint8_t *lo = p + (size_t)c * ld, *hi = p + (size_t)(4 + c) * ld;
    if (eight)
        return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)lo)),
                                       _mm_loadl_epi64((const __m128i *)hi), 1);
    return _mm256_loadu2_m128i((const __m128i *)hi, (const __m128i *)lo);
}

/* 8 x 8 E4M3FN codes; returns whether one is a NaN, zero or subnormal code (its low seven bits are 0x7F or
 * below 8: (b + 1) & 0x7F <= 8). If none is, out[j] lane c = code j of row c decoded exactly to binary32 bits,
 * done on the 16-bit lanes before the last widening: an arithmetic shift and a mask move sign, exponent and
 * mantissa into BF16's fields, and adding 120 to the exponent rebiases them (a subnormal code would need a
 * normalisation this cannot do). Otherwise out[j] lane c = that code << 24, for the exact decode. */
static inline bool v_load_e4m3_t(const uint8_t *p, size_t ld, vf32 out[CK_VW]) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i t0 = _mm256_unpacklo_epi8(v_rows2(p, ld, 0, true), v_rows2(p, ld, 1, true));
    const __m256i t1 = _mm256_unpacklo_epi8(v_rows2(p, ld, 2, true), v_rows2(p, ld, 3, true));
    const __m256i u[2] = {_mm256_unpacklo_epi16(t0, t1), _mm256_unpackhi_epi16(t0, t1)}; /* u[i] dword d: column 4i + d */
    const __m256i one = _mm256_set1_epi8(1), low7 = _mm256_set1_epi8(0x7F), nine = _mm256_set1_epi8(9);
    const __m256i least = _mm256_min_epu8(_mm256_and_si256(_mm256_add_epi8(u[0], one), low7),
                                          _mm256_and_si256(_mm256_add_epi8(u[1], one), low7));
    const bool special = _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(least, nine), least)) != -1;
    __m256i h[4]; /* codes << 8 in 16-bit lanes: h[i] columns 2i, 2i + 1 */
#pragma unroll
    for (int i = 0; i < 2; i++) h[2 * i] = _mm256_unpacklo_epi8(zero, u[i]), h[2 * i + 1] = _mm256_unpackhi_epi8(zero, u[i]);
    if (!special) {
        const __m256i fields = _mm256_set1_epi16((short)0x87F0), bias = _mm256_set1_epi16(120 << 7);
#pragma unroll
        for (int i = 0; i < 4; i++) h[i] = _mm256_add_epi16(_mm256_and_si256(_mm256_srai_epi16(h[i], 4), fields), bias);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        out[2 * i] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, h[i]));
        out[2 * i + 1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, h[i]));
    }
    return special;
}

/* 64 E4M3FN codes of normal numbers (a strip row) decoded exactly and scaled by 2^-8, in column order (AVX-512's
 * contract; here row order is column order): each code in its lane's top byte, an arithmetic shift and a mask keep
 * binary32's fields, and an OR sets the exponent's bits 4-6 (a rebias by 112 instead of 120). */
static inline void v_e4m3_row64(const uint8_t *p, vf32 out[8]) {
    const __m256i fields = _mm256_set1_epi32((int)0x87F00000), bias = _mm256_set1_epi32(112 << 23);
    for (int v = 0; v < 8; v++)
        out[v] = _mm256_castsi256_ps(
            _mm256_or_si256(_mm256_and_si256(_mm256_srai_epi32(v_load_u8_top(p + 8 * v), 4), fields), bias));
}
static inline void v_row64_to_columns(vf32 v[8]) { (void)v; }
static inline void v_row64_from_columns(vf32 v[8]) { (void)v; }

/* Whether the 64 E4M3FN codes at p + r*ld are all normal for every r < rows: none is a NaN, zero or subnormal
 * code ((b + 1) & 0x7F > 8, as in v_load_e4m3_t). */
static inline bool v_e4m3_normal64(const uint8_t *p, size_t ld, size_t rows) {
    const __m256i one = _mm256_set1_epi8(1), low7 = _mm256_set1_epi8(0x7F);
    __m256i least = low7;
    for (size_t r = 0; r < rows; r++)
        for (size_t h = 0; h < 64; h += 32) {
            const __m256i b = _mm256_loadu_si256((const __m256i *)(p + r * ld + h));
            least = _mm256_min_epu8(least, _mm256_and_si256(_mm256_add_epi8(b, one), low7));
        }
    const __m256i nine = _mm256_set1_epi8(9); /* least >= 9 exactly where max(least, 9) == least */
    return _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(least, nine), least)) == -1;
}

/* 8 x 8 16-bit elements. */
static inline void v_load_u16_t(const uint8_t *p, size_t ld, vf32 out[CK_VW]) {
    const __m256i zero = _mm256_setzero_si256(), z0 = v_rows2(p, ld, 0, false), z1 = v_rows2(p, ld, 1, false);
    const __m256i z2 = v_rows2(p, ld, 2, false), z3 = v_rows2(p, ld, 3, false);
    const __m256i a0 = _mm256_unpacklo_epi16(z0, z1), a1 = _mm256_unpackhi_epi16(z0, z1);
    const __m256i a2 = _mm256_unpacklo_epi16(z2, z3), a3 = _mm256_unpackhi_epi16(z2, z3);
    const __m256i q[4] = {_mm256_unpacklo_epi32(a0, a2), _mm256_unpackhi_epi32(a0, a2), _mm256_unpacklo_epi32(a1, a3),
                          _mm256_unpackhi_epi32(a1, a3)}; /* q[i] qword e: column 2i + e */
#pragma unroll
    for (int i = 0; i < 4; i++) {
        out[2 * i] = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, q[i]));
        out[2 * i + 1] = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, q[i]));
    }
}

/* A tile of up to 16 rows of byte values, two rows to a register in v_u16_pair's layout (pairs[i]: row 2i's
 * CK_VW values, then row 2i + 1's), stored transposed: column c's bytes for rows 0..nr-1 at p + c*ld. */
static inline void v_store_tile_t(uint8_t *p, size_t ld, const vu32 pairs[8], size_t nr) {
    uint8_t tile[16][8];
    for (int k = 0; k < 4; k++) v_store_u8_words(tile[4 * k], pairs[2 * k], pairs[2 * k + 1]);
    for (size_t c = 0; c < 8; c++)
        for (size_t r = 0; r < nr; r++) p[c * ld + r] = tile[r][c];
}

#endif

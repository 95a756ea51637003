/*
 * The small vector vocabulary the generic SIMD kernels (formats_simd.h) are written in, for AVX-512
 * (F/BW/DQ/VL): 16 lanes of 32 bits. Include inside a target("avx512f,avx512bw,avx512dq,avx512vl") region.
 */
#ifndef CK_VEC_AVX512_H
#define CK_VEC_AVX512_H

#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#define CK_VREGS 32 /* vector registers */
#define CK_VW 16
#if CK_AVX512_VBMI /* kernels again with AVX512_VBMI (x86_avx512/gemm_avx512vbmi.c, gemm_dot_avx512bf16vbmi.c) */
#define CK_SIMD(name) name##_avx512vbmi
#else
#define CK_SIMD(name) name##_avx512
#endif

typedef __m512i vu32;
typedef __m512 vf32;
typedef __mmask16 vmask;

static inline vu32 v_set(uint32_t x) { return _mm512_set1_epi32((int)x); }
static inline vf32 v_setf(float x) { return _mm512_set1_ps(x); }
static inline vf32 v_as_f32(vu32 a) { return _mm512_castsi512_ps(a); }
static inline vu32 v_as_u32(vf32 a) { return _mm512_castps_si512(a); }
static inline vu32 v_and(vu32 a, vu32 b) { return _mm512_and_si512(a, b); }
static inline vu32 v_or(vu32 a, vu32 b) { return _mm512_or_si512(a, b); }
static inline vu32 v_add(vu32 a, vu32 b) { return _mm512_add_epi32(a, b); }
static inline vu32 v_sub(vu32 a, vu32 b) { return _mm512_sub_epi32(a, b); }
#define v_srl(a, n) _mm512_srli_epi32((a), (n))
#define v_sll(a, n) _mm512_slli_epi32((a), (n))
#define v_sra(a, n) _mm512_srai_epi32((a), (n))
/* a + bit n of a (the round-to-nearest-even carry), as a test and a masked add */
#define v_add_bit(a, n) _mm512_mask_add_epi32((a), _mm512_test_epi32_mask((a), _mm512_set1_epi32(1 << (n))), (a), _mm512_set1_epi32(1))
static inline vu32 v_max(vu32 a, vu32 b) { return _mm512_max_epu32(a, b); }
static inline vu32 v_min(vu32 a, vu32 b) { return _mm512_min_epu32(a, b); }
/* The larger of each 16-bit half (unsigned). */
static inline vu32 v_max16(vu32 a, vu32 b) { return _mm512_max_epu16(a, b); }
/* Comparisons of values below 2^31. */
static inline vmask v_gt(vu32 a, vu32 b) { return _mm512_cmpgt_epi32_mask(a, b); }
static inline vmask v_eq(vu32 a, vu32 b) { return _mm512_cmpeq_epi32_mask(a, b); }
/* m ? a : b */
static inline vu32 v_select(vmask m, vu32 a, vu32 b) { return _mm512_mask_blend_epi32(m, b, a); }
static inline vf32 v_addf(vf32 a, vf32 b) { return _mm512_add_ps(a, b); }
static inline vf32 v_subf(vf32 a, vf32 b) { return _mm512_sub_ps(a, b); }
static inline vf32 v_mulf(vf32 a, vf32 b) { return _mm512_mul_ps(a, b); }
static inline vf32 v_fmaf(vf32 a, vf32 b, vf32 c) { return _mm512_fmadd_ps(a, b, c); }   /* a*b + c */
/* *x * b + c, the bits of v_fmaf(v_setf(*x), b, c), with the broadcast embedded in the FMA ({1to16}). clang folds
 * a broadcast only into its one use, so a value that serves several FMAs gets a vbroadcastss of its own, which on
 * Zen 4 takes the FMAs' and the shuffles' issue slots where an embedded one takes none (one thread, independent
 * instructions: eight vdpbf16ps take 8.0 cycles, 10.7 with eight vbroadcastss beside them, 8.0 with the broadcasts
 * embedded; eight FMAs 10.7 beside eight vpbroadcastd). The decode kernels, which shuffle a lot, got faster (their
 * notes in gemm_simd.h); the tiles, which shuffle nothing, were no faster, and keep theirs. */
static inline __attribute__((always_inline)) vf32 v_fmaf_at(const float *x, vf32 b, vf32 c) {
    __asm__("vfmadd231ps %2%{1to16%}, %1, %0" : "+v"(c) : "v"(b), "m"(*x));
    return c;
}
static inline vf32 v_fnmaf(vf32 a, vf32 b, vf32 c) { return _mm512_fnmadd_ps(a, b, c); } /* c - a*b */
static inline vf32 v_divf(vf32 a, vf32 b) { return _mm512_div_ps(a, b); }
static inline vf32 v_cvtf(vu32 a) { return _mm512_cvtepi32_ps(a); }
/* max(|a|, b) with a's sign, for b >= 0 (vrangeps: one instruction) */
static inline vf32 v_maxabs_signed(vf32 a, vf32 b) { return _mm512_range_ps(a, b, 0x03); }
static inline uint32_t v_hmax(vu32 a) {
    __m256i m = _mm256_max_epu32(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
    __m128i n = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    n = _mm_max_epu32(n, _mm_shuffle_epi32(n, _MM_SHUFFLE(1, 0, 3, 2)));
    n = _mm_max_epu32(n, _mm_shuffle_epi32(n, _MM_SHUFFLE(2, 3, 0, 1)));
    return (uint32_t)_mm_cvtsi128_si32(n);
}
/* Lane g = the largest lane of h[g] (unsigned), for 16 vectors at once: each round halves the lanes a
 * vector's maximum may be in while packing twice the vectors into one, then one permute restores the order
 * (46 instructions, against 9 per vector one at a time). */
static inline vu32 v_hmax_each(const vu32 h[16]) {
    __m512i a[8], b[4], c[2];
    for (int i = 0; i < 8; i++) /* 256-bit half 0: h[2i], half 1: h[2i + 1] */
        a[i] = _mm512_max_epu32(_mm512_shuffle_i64x2(h[2 * i], h[2 * i + 1], 0x44),
                                _mm512_shuffle_i64x2(h[2 * i], h[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; i++) /* 128-bit lane k: h[4i + k] */
        b[i] = _mm512_max_epu32(_mm512_shuffle_i64x2(a[2 * i], a[2 * i + 1], 0x88),
                                _mm512_shuffle_i64x2(a[2 * i], a[2 * i + 1], 0xDD));
    for (int i = 0; i < 2; i++) /* 128-bit lane k: two lanes for h[8i + k], two for h[8i + 4 + k] */
        c[i] = _mm512_max_epu32(_mm512_unpacklo_epi64(b[2 * i], b[2 * i + 1]), _mm512_unpackhi_epi64(b[2 * i], b[2 * i + 1]));
    const __m512 c0 = _mm512_castsi512_ps(c[0]), c1 = _mm512_castsi512_ps(c[1]);
    const __m512i d = _mm512_max_epu32(_mm512_castps_si512(_mm512_shuffle_ps(c0, c1, 0x88)),
                                       _mm512_castps_si512(_mm512_shuffle_ps(c0, c1, 0xDD))); /* lane 4k + j: h[4j + k] */
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), d);
}

static inline vu32 v_load_f32(const void *p) { return _mm512_loadu_si512(p); }
static inline vu32 v_load_bf16(const void *p) {
    return _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16);
}
static inline vu32 v_load_u8(const void *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }
/* The same bytes, each in its lane's top byte (v_load_u8 shifted left by 24): a broadcast load and one byte shuffle. */
static inline vu32 v_load_u8_top(const void *p) {
    const __m512i at = _mm512_set_epi32(0x0Fffffff, 0x0Effffff, 0x0Dffffff, 0x0Cffffff, 0x0Bffffff, 0x0Affffff,
                                        0x09ffffff, 0x08ffffff, 0x07ffffff, 0x06ffffff, 0x05ffffff, 0x04ffffff,
                                        0x03ffffff, 0x02ffffff, 0x01ffffff, 0x00ffffff);
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)p)), at);
}
static inline vu32 v_load_u32(const void *p) { return _mm512_loadu_si512(p); }
static inline void v_store_u32(void *p, vu32 a) { _mm512_storeu_si512(p, a); }
static inline void v_store_u16(void *p, vu32 a) { _mm256_storeu_si256((__m256i *)p, _mm512_cvtepi32_epi16(a)); }
static inline void v_store_u8(void *p, vu32 a) { _mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8(a)); }
/* v_store_u32 and v_store_u16 as streaming stores (past the caches; p aligned to the bytes stored). */
static inline void v_stream_u32(void *p, vu32 a) { _mm512_stream_si512(p, a); }
static inline void v_stream_u16(void *p, vu32 a) { _mm256_stream_si256((__m256i *)p, _mm512_cvtepi32_epi16(a)); }
/* binary16: CK_VW values in a half-width register, converted (round to nearest even) and widened or paired. */
typedef __m256i vh16;
static inline vh16 v_f16(vf32 a) { return _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline vu32 v_f16_widen(vh16 h) { return _mm512_cvtepu16_epi32(h); } /* lane i: h's value i, zero-extended */
static inline vu32 v_f16_pair(vh16 lo, vh16 hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
/* Shifts of each 16-bit half of the lanes. */
#define v_sll16(a, n) _mm512_slli_epi16((a), (n))
#define v_srl16(a, n) _mm512_srli_epi16((a), (n))
/* Two vectors of values below 2^16 as one register of 16-bit values, a's CK_VW then b's (v_f16_pair's layout). */
static inline vu32 v_u16_pair(vu32 a, vu32 b) { return v_f16_pair(_mm512_cvtepi32_epi16(a), _mm512_cvtepi32_epi16(b)); }
/* Two registers of 16-bit values below 256 (a's 2 * CK_VW, then b's), stored as 4 * CK_VW consecutive bytes. */
static inline void v_store_u8_words(void *p, vu32 a, vu32 b) {
    /* 128-bit lane L of the pack: 8 bytes from a's lane L, then 8 from b's */
    _mm512_storeu_si512(p, _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), _mm512_packus_epi16(a, b)));
}

/* In place, within each 128-bit lane q: r[i] lane 4q + j <-> r[j] lane 4q + i (8 shuffles). */
static inline void v_transpose_quads(vf32 r[4]) {
    const __m512 t0 = _mm512_unpacklo_ps(r[0], r[1]), t1 = _mm512_unpackhi_ps(r[0], r[1]);
    const __m512 t2 = _mm512_unpacklo_ps(r[2], r[3]), t3 = _mm512_unpackhi_ps(r[2], r[3]);
    r[0] = _mm512_shuffle_ps(t0, t2, 0x44), r[1] = _mm512_shuffle_ps(t0, t2, 0xEE);
    r[2] = _mm512_shuffle_ps(t1, t3, 0x44), r[3] = _mm512_shuffle_ps(t1, t3, 0xEE);
}
/* a's 128-bit lanes stored at p, p + stride, p + 2*stride, p + 3*stride. */
static inline void v_store_quads(float *p, size_t stride, vf32 a) {
    _mm_storeu_ps(p, _mm512_castps512_ps128(a));
    _mm_storeu_ps(p + stride, _mm512_extractf32x4_ps(a, 1));
    _mm_storeu_ps(p + 2 * stride, _mm512_extractf32x4_ps(a, 2));
    _mm_storeu_ps(p + 3 * stride, _mm512_extractf32x4_ps(a, 3));
}

/* In place: r[i] lane j <-> r[j] lane i (a 16 x 16 transpose, 64 shuffles). */
static inline void v_transpose(vf32 r[CK_VW]) {
    for (int i = 0; i < 4; i++) v_transpose_quads(r + 4 * i);
    /* r[4i + c] holds rows 4i..4i+3, columns c + 4q of each 128-bit lane q */
    __m512 t[16];
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 4; c++) {
            t[8 * i + c] = _mm512_shuffle_f32x4(r[8 * i + c], r[8 * i + 4 + c], 0x88);
            t[8 * i + 4 + c] = _mm512_shuffle_f32x4(r[8 * i + c], r[8 * i + 4 + c], 0xDD);
        }
    for (int c = 0; c < 8; c++) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xDD);
    }
}

/* 16 x 16 blocks of narrow elements (row c at p + c*ld bytes) transposed into 32-bit lanes with each element
 * in the lane's top bits: out[j] lane c = element j of row c << (32 - width), as the bits of f32 lanes. The
 * rows are loaded in 128-bit pieces so that lane L of register k holds row 4L + k; two rounds of unpacks then
 * gather each column's four rows of a lane into one dword, and unpacks against zero widen those dwords into
 * lanes (row 4L + d in lane 4L + d), so the transpose costs 32 in-lane shuffles (plus the 128-bit inserts of
 * the loads) instead of the 64 shuffles of v_transpose. */
static inline __m512i v_rows4(const uint8_t *p, size_t ld, int k) {
    __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + (size_t)k * ld)));
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(p + (size_t)(4 + k) * ld)), 1);
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(p + (size_t)(8 + k) * ld)), 2);
    return _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(p + (size_t)(12 + k) * ld)), 3);
}

/* The byte stages of a 16 x 16 block's transpose, of bytes (unit 1) or of 16-bit units (unit 2: 16 rows x 8 units,
 * BF16 elements or pairs of E4M3 codes): z[k] = v_rows4(p, ld, k); unit 1: q[i] lane L dword d = column 4i + d of
 * rows 4L ... 4L + 3, a byte each; unit 2: q[i] lane L qword d = unit 2i + d of those rows, two bytes each. */
static inline void v_bytes_t(const uint8_t *p, size_t ld, __m512i z[4], __m512i q[4], const int unit) {
    for (int k = 0; k < 4; k++) z[k] = v_rows4(p, ld, k);
    if (unit == 1) {
        const __m512i a0 = _mm512_unpacklo_epi8(z[0], z[1]), a1 = _mm512_unpackhi_epi8(z[0], z[1]);
        const __m512i a2 = _mm512_unpacklo_epi8(z[2], z[3]), a3 = _mm512_unpackhi_epi8(z[2], z[3]);
        q[0] = _mm512_unpacklo_epi16(a0, a2), q[1] = _mm512_unpackhi_epi16(a0, a2);
        q[2] = _mm512_unpacklo_epi16(a1, a3), q[3] = _mm512_unpackhi_epi16(a1, a3);
    } else {
        const __m512i a0 = _mm512_unpacklo_epi16(z[0], z[1]), a1 = _mm512_unpackhi_epi16(z[0], z[1]);
        const __m512i a2 = _mm512_unpacklo_epi16(z[2], z[3]), a3 = _mm512_unpackhi_epi16(z[2], z[3]);
        q[0] = _mm512_unpacklo_epi32(a0, a2), q[1] = _mm512_unpackhi_epi32(a0, a2);
        q[2] = _mm512_unpacklo_epi32(a1, a3), q[3] = _mm512_unpackhi_epi32(a1, a3);
    }
}

/* The transpose's last stage: h[i] holds columns 2i and 2i + 1 of 16-bit values (the lanes of each 128-bit lane's
 * four rows), widened into the top halves of out[2i] and out[2i + 1]'s lanes. */
static inline void v_widen_t(const __m512i h[8], vf32 out[16]) {
    const __m512i zero = _mm512_setzero_si512();
#pragma unroll
    for (int i = 0; i < 8; i++) {
        out[2 * i] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, h[i]));
        out[2 * i + 1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, h[i]));
    }
}

#if CK_AVX512_VBMI
/* BF16's bits of the E4M3FN value of code c with sign 0 (c < 128): normal codes' exponent and mantissa moved into
 * BF16's fields and rebiased by 120; subnormal codes (c * 2^-9) are normal BF16 values; 0x7F is the NaN. */
#define E4M3_BF16(c)                                                                                                   \
    ((c) == 0x7F ? 0x7FC0                                                                                              \
     : (c) >= 8  ? (((c) >> 3) + 120) << 7 | ((c) & 7) << 4                                                            \
     : (c) >= 4  ? 120 << 7 | ((c) & 3) << 5                                                                           \
     : (c) >= 2  ? 119 << 7 | ((c) & 1) << 6                                                                           \
     : (c) == 1  ? 118 << 7                                                                                            \
                 : 0)
#define E4M3_HI(c) (uint8_t)(E4M3_BF16(c) >> 8)
#define E4M3_LO(c) (uint8_t)(E4M3_BF16(c) & 0xFF)
#define E4M3_8(F, c) F(c), F(c + 1), F(c + 2), F(c + 3), F(c + 4), F(c + 5), F(c + 6), F(c + 7)
#define E4M3_32(F, c) E4M3_8(F, c), E4M3_8(F, c + 8), E4M3_8(F, c + 16), E4M3_8(F, c + 24)
/* Those bits' high and low bytes: the tables vpermt2b (v_lookup128) looks the codes' low seven bits up in. */
static const uint8_t e4m3_bf16_hi[128] __attribute__((aligned(64))) = {
    E4M3_32(E4M3_HI, 0), E4M3_32(E4M3_HI, 32), E4M3_32(E4M3_HI, 64), E4M3_32(E4M3_HI, 96)};
static const uint8_t e4m3_bf16_lo[128] __attribute__((aligned(64))) = {
    E4M3_32(E4M3_LO, 0), E4M3_32(E4M3_LO, 32), E4M3_32(E4M3_LO, 64), E4M3_32(E4M3_LO, 96)};
#undef E4M3_32
#undef E4M3_8
#undef E4M3_LO
#undef E4M3_HI
#undef E4M3_BF16

/* Bytes of table[128] at the low seven bits of each byte of q (vpermt2b), the table's second half read from memory
 * by the instruction and its first half loaded afresh: clang otherwise keeps both halves of each table in registers,
 * and in the [K, N] dot decode against 6 rows (24 chains) that spilled a chain; a strip against 6 rows then took
 * 1.11-1.12 x the time, against 11 or 12 rows (passes of 6 and 5 or 6 rows) 1.14-1.26 x (Zen 4, a C driver, one
 * thread, best of three to five runs, the strip in L1 and in L2). */
static inline __attribute__((always_inline)) __m512i v_lookup128(const uint8_t table[128], __m512i q) {
    __m512i r = _mm512_load_si512(table);
    __asm__("vpermt2b %2, %1, %0" : "+v"(r) : "v"(q), "m"(*(const __m512i *)(table + 64)));
    return r;
}

/* The 64 * n codes of q[0 .. n) (v_bytes_t's q, n = 4, or any codes) as BF16 bits in 16-bit words, h[2i] from the low
 * eight bytes of each of q[i]'s 128-bit lanes, h[2i + 1] from the high eight, in their order; never false: vpermt2b
 * looks 64 codes at a time up in the tables of BF16's high and low bytes (the sign ORed into the high one), and unpacks
 * pair the bytes. 12 instructions decode 256 codes, where the arithmetic decode below takes 24 and its check for
 * special codes 12. */
static inline __attribute__((always_inline)) bool v_e4m3_words(const __m512i z[], const __m512i q[], __m512i h[],
                                                                const int n) {
    (void)z;
    const __m512i sign = _mm512_set1_epi8((char)0x80);
#pragma unroll
    for (int i = 0; i < n; i++) {
        const __m512i top = v_lookup128(e4m3_bf16_hi, q[i]), lo = v_lookup128(e4m3_bf16_lo, q[i]);
        const __m512i hi = _mm512_ternarylogic_epi32(top, q[i], sign, 0xF8);
        h[2 * i] = _mm512_unpacklo_epi8(lo, hi), h[2 * i + 1] = _mm512_unpackhi_epi8(lo, hi);
    }
    return false;
}
#else
/* The same; returns whether one of the codes (all of z[0 .. n)'s, q's in any order) is a NaN, zero or subnormal code
 * (its low seven bits are 0x7F or below 8: (b + 1) & 0x7F <= 8). If none is, h holds the codes decoded exactly, 32 per
 * instruction: an arithmetic shift and a mask move sign, exponent and mantissa into BF16's fields, and adding 120 to
 * the exponent rebiases them. Otherwise h holds the codes << 8, for the exact decode. */
static inline __attribute__((always_inline)) bool v_e4m3_words(const __m512i z[], const __m512i q[], __m512i h[],
                                                                const int n) {
    const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi8(1), low7 = _mm512_set1_epi8(0x7F);
    __m512i least = low7;
#pragma unroll
    for (int k = 0; k < n; k++) least = _mm512_min_epu8(least, _mm512_and_si512(_mm512_add_epi8(z[k], one), low7));
    const bool special = _mm512_cmple_epu8_mask(least, _mm512_set1_epi8(8)) != 0;
    const __m512i fields = _mm512_set1_epi16((short)0x87F0), bias = _mm512_set1_epi16(120 << 7);
#pragma unroll
    for (int i = 0; i < n; i++) h[2 * i] = _mm512_unpacklo_epi8(zero, q[i]), h[2 * i + 1] = _mm512_unpackhi_epi8(zero, q[i]);
    if (!special) /* one branch per block, so that the unrolled loops keep every value in a register */
#pragma unroll
        for (int i = 0; i < 2 * n; i++) h[i] = _mm512_add_epi16(_mm512_and_si512(_mm512_srai_epi16(h[i], 4), fields), bias);
    return special;
}
#endif

/* 16 x 16 E4M3FN codes (v_load_e4m3_t's contract in vec_avx2.h): the transpose's byte stages, v_e4m3_words, then
 * its last stage widens the words (BF16 bits, or when special the codes << 8) into the lanes' top halves. */
static inline bool v_load_e4m3_t(const uint8_t *p, size_t ld, vf32 out[16]) {
    __m512i z[4], q[4], h[8];
    v_bytes_t(p, ld, z, q, 1);
    const bool special = v_e4m3_words(z, q, h, 4);
    v_widen_t(h, out);
    return special;
}

/* 16 rows x 8 pairs of E4M3FN codes (row c at p + c*ld) as pairs of BF16 values, the even code low: out[j] lane c =
 * pair j of row c. Returns whether a code is special (v_e4m3_words; then out is not the decode). */
static inline bool v_load_e4m3_pairs_t(const uint8_t *p, size_t ld, vf32 out[8]) {
    __m512i z[4], q[4], h[8];
    v_bytes_t(p, ld, z, q, 2);
    const bool special = v_e4m3_words(z, q, h, 4);
#pragma unroll
    for (int i = 0; i < 8; i++) out[i] = _mm512_castsi512_ps(h[i]);
    return special;
}

/* 64 E4M3FN codes of normal numbers (a strip row) decoded exactly and scaled by 2^-8, into 4 vectors in row order:
 * out[2h + o] lane j = code 32h + 2j + o. Each 32 codes are sign-extended into 16-bit lanes; a shift then puts a
 * code's sign, exponent and mantissa into binary32's fields (by 4 for the odd code, in a 32-bit lane's high half,
 * by 20 for the even one), and one ternary-logic instruction keeps those fields and sets the exponent's bits 4-6:
 * a rebias by 112 where E4M3's to binary32's is 120, hence 2^-8 (an OR cannot add 120 to a 4-bit exponent).
 * Two and a half instructions per 16 codes. */
static inline void v_e4m3_row64(const uint8_t *p, vf32 out[4]) {
    const __m512i fields = _mm512_set1_epi32((int)0x87F00000), bias = _mm512_set1_epi32(112 << 23);
    for (int h = 0; h < 2; h++) {
        const __m512i d = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(p + 32 * h)));
        out[2 * h] = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_slli_epi32(d, 20), fields, bias, 0xEA));
        out[2 * h + 1] = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_slli_epi32(d, 4), fields, bias, 0xEA));
    }
}

/* In place, each pair (v[0], v[1]) and (v[2], v[3]) as 32 lanes: the first takes lanes i0, the second lanes i1. */
static inline void v_permute_pairs(vf32 v[4], __m512i i0, __m512i i1) {
    for (int h = 0; h < 4; h += 2) {
        const __m512 a = v[h], b = v[h + 1];
        v[h] = _mm512_permutex2var_ps(a, i0, b), v[h + 1] = _mm512_permutex2var_ps(a, i1, b);
    }
}

/* In place: 4 vectors of a strip row from row order (v_e4m3_row64) to column order (v[q] lane l = column 16q + l),
 * and back. */
static inline void v_row64_to_columns(vf32 v[4]) {
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    v_permute_pairs(v, lo, _mm512_add_epi32(lo, _mm512_set1_epi32(8)));
}
static inline void v_row64_from_columns(vf32 v[4]) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    v_permute_pairs(v, even, _mm512_add_epi32(even, _mm512_set1_epi32(1)));
}

/* Whether the 64 E4M3FN codes at p + r*ld are all normal for every r < rows: none is a NaN, zero or subnormal
 * code ((b + 1) & 0x7F > 8, as in v_load_e4m3_t). */
static inline bool v_e4m3_normal64(const uint8_t *p, size_t ld, size_t rows) {
    const __m512i one = _mm512_set1_epi8(1), low7 = _mm512_set1_epi8(0x7F);
    __m512i least = low7;
    for (size_t r = 0; r < rows; r++)
        least = _mm512_min_epu8(least, _mm512_and_si512(_mm512_add_epi8(_mm512_loadu_si512(p + r * ld), one), low7));
    return _mm512_cmple_epu8_mask(least, _mm512_set1_epi8(8)) == 0;
}

/* 16 x 16 16-bit elements: v_bytes_t's stages on 16-bit units, eight columns at a time, then widened. */
static inline void v_load_u16_t(const uint8_t *p, size_t ld, vf32 out[16]) {
    const __m512i zero = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) { /* columns 8h .. 8h + 7: q[i] lane L qword e = column 8h + 2i + e, rows 4L.. */
        __m512i z[4], q[4];
        v_bytes_t(p + 16 * (size_t)h, ld, z, q, 2);
        for (int i = 0; i < 4; i++) {
            out[8 * h + 2 * i] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, q[i]));
            out[8 * h + 2 * i + 1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, q[i]));
        }
    }
}

/* A tile of up to 16 rows of byte values, two rows to a register in v_u16_pair's layout (pairs[i]: row 2i's
 * CK_VW values, then row 2i + 1's), stored transposed: column c's bytes for rows 0..nr-1 at p + c*ld. A word
 * permute puts each 128-bit lane's four columns of a pair's two rows side by side, so that one pack per four
 * rows makes 4x4-byte blocks; each block is transposed in its lane, then the 4x4 grid of blocks across the four
 * registers. */
static inline void v_store_tile_t(uint8_t *p, size_t ld, const vu32 pairs[8], size_t nr) {
    const __m512i side = _mm512_set_epi16(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8, 23, 22, 21, 20, 7,
                                          6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0); /* lane L: words 4L.., then 16 + 4L.. */
    const __m512i block_t = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    __m512i z[4];
    for (int k = 0; k < 4; k++) { /* lane L: rows 4k..4k+3 x columns 4L..4L+3, then transposed */
        const __m512i bytes = _mm512_packus_epi16(_mm512_permutexvar_epi16(side, pairs[2 * k]),
                                                  _mm512_permutexvar_epi16(side, pairs[2 * k + 1]));
        z[k] = _mm512_shuffle_epi8(bytes, block_t);
    }
    const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    const __m512i u[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                          _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
    const __mmask16 keep = (__mmask16)((1u << nr) - 1);
    for (int j = 0; j < 4; j++) { /* u[j] lane L: column 4L + j, rows 0..15 */
        _mm_mask_storeu_epi8(p + (size_t)j * ld, keep, _mm512_castsi512_si128(u[j]));
        _mm_mask_storeu_epi8(p + (size_t)(4 + j) * ld, keep, _mm512_extracti32x4_epi32(u[j], 1));
        _mm_mask_storeu_epi8(p + (size_t)(8 + j) * ld, keep, _mm512_extracti32x4_epi32(u[j], 2));
        _mm_mask_storeu_epi8(p + (size_t)(12 + j) * ld, keep, _mm512_extracti32x4_epi32(u[j], 3));
    }
}

#endif

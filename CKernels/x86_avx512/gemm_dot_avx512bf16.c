/*
 * BF16 dot-product kernels for AVX512_BF16 (ck_dot_kernels, core/internal.h), which m-grouped GEMMs on BF16 and E4M3
 * operands take when the calling thread turned on ck_set_bf16_dot_products: 6 x 64 tiles like the FMA ones, but each
 * step takes a pair of the reduction, so one vdpbf16ps does the work of two FMAs; and decode kernels in the same
 * order that stream decode-sized experts' weights once. Both operands are laid out as pairs (two BF16 values in a
 * 32-bit word, the even index low): B packed in panels (or interleaved on the fly by the decode kernels), A's rows
 * copied. E4M3 codes become BF16 on the way, exactly (every finite E4M3 value is a normal BF16 one). Contract and
 * order: the instruction's, spelled out in core/internal.h (not the canonical FMA chain, so not the other ISAs' bits).
 * Compiled twice: on its own (ck_dot_avx512bf16), and with CK_AVX512_VBMI by gemm_dot_avx512bf16vbmi.c
 * (ck_dot_avx512bf16vbmi), whose E4M3 blocks decode by AVX512_VBMI's table lookups (v_e4m3_words): the same bits.
 */
#if defined(__x86_64__)
#include "../core/internal.h"
#include "../core/formats_element.h"
#if CK_AVX512_VBMI
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vbmi"))), apply_to = function)
#define DOT_TABLE ck_dot_avx512bf16vbmi
#else
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16"))), apply_to = function)
#define DOT_TABLE ck_dot_avx512bf16
#endif
#include "../simd/vec_avx512.h"

#define DOT_INLINE static inline __attribute__((always_inline))
enum { MR = CK_DOT_MR, V = 4, NR = V * CK_VW, PF_BYTES = 4096 };
_Static_assert(NR == CK_DOT_NR, "the tiles' shape");

DOT_INLINE __m512bh as_pairs(__m512i v) { return (__m512bh)v; }

/* _mm512_dpbf16_ps(acc, the pair *x in every lane, b), with the broadcast embedded in the instruction ({1to16}),
 * as v_fmaf_at (vec_avx512.h, with why) for FMAs: clang gives each broadcast a vbroadcastss of its own, even one
 * with a single use. The decode kernels got faster (see decode_body); the tiles, no faster, keep theirs. */
DOT_INLINE __m512 dot_at(__m512 acc, const uint32_t *x, __m512bh b) {
    __asm__("vdpbf16ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(b), "m"(*x));
    return acc;
}

/* A scaled block's partial sums s folded into old: fma(s * sa, sb, old), as the FMA kernels fold them. */
DOT_INLINE __m512 fold(__m512 s, float sa, __m512 sb, __m512 old) {
    return _mm512_fmadd_ps(_mm512_mul_ps(s, _mm512_set1_ps(sa)), sb, old);
}

DOT_INLINE void dot_body(size_t kp, const uint32_t *a, size_t rsa, const uint32_t *pb, float *out, const float *sa,
                         const float *sb, int first, const ck_prefetch *pf, const int mr) {
    __m512 acc[MR][V];
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < V; v++)
            acc[r][v] = first || sa ? _mm512_setzero_ps() : _mm512_loadu_ps(out + r * NR + v * CK_VW);
    ck_prefetch_walk walk = ck_prefetch_start(pf);
    for (size_t p = 0; p < kp; p++) {
        ck_prefetch_step(&walk, p);
        __m512bh b[V];
#pragma unroll
        for (int v = 0; v < V; v++) b[v] = as_pairs(_mm512_loadu_si512(pb + p * NR + v * CK_VW));
#pragma unroll
        for (int r = 0; r < mr; r++) {
            const __m512bh ar = as_pairs(_mm512_set1_epi32((int)a[r * rsa + p]));
#pragma unroll
            for (int v = 0; v < V; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], ar, b[v]);
        }
    }
    if (sa) /* the block's partial sums, scaled: out = fma(p * sa[r], sb[c], out) */
#pragma unroll
        for (int r = 0; r < mr; r++)
#pragma unroll
            for (int v = 0; v < V; v++) {
                const __m512 old = first ? _mm512_setzero_ps() : _mm512_loadu_ps(out + r * NR + v * CK_VW);
                acc[r][v] = fold(acc[r][v], sa[r], _mm512_loadu_ps(sb + v * CK_VW), old);
            }
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < V; v++) _mm512_storeu_ps(out + r * NR + v * CK_VW, acc[r][v]);
}

static void dot_tile(size_t kp, const uint32_t *a, size_t rsa, const uint32_t *pb, float *out, int rows,
                     const float *sa, const float *sb, int first, const ck_prefetch *pf) {
    switch (rows) {
    case 1: dot_body(kp, a, rsa, pb, out, sa, sb, first, pf, 1); break;
    case 2: dot_body(kp, a, rsa, pb, out, sa, sb, first, pf, 2); break;
    case 3: dot_body(kp, a, rsa, pb, out, sa, sb, first, pf, 3); break;
    case 4: dot_body(kp, a, rsa, pb, out, sa, sb, first, pf, 4); break;
    case 5: dot_body(kp, a, rsa, pb, out, sa, sb, first, pf, 5); break;
    default: dot_body(kp, a, rsa, pb, out, sa, sb, first, pf, MR); break;
    }
}

/* The BF16 bits of the E4M3FN codes that are not normal numbers: magnitudes 0 ..< 8 (zero, subnormals) in words
 * 0 ..< 8 and the NaN, 0x7F, in word 31 (the sign is bit 7 of a code, bit 15 of its word), for vpermw. */
typedef struct {
    __m512i t;
} e4m3_table;

DOT_INLINE e4m3_table e4m3_words_table(void) {
    uint16_t w[32] = {0};
    for (int c = 0; c < 8; c++) w[c] = (uint16_t)(ck_fp8_to_bits((uint8_t)c, &ck_fp8_specs[CK_FP8_E4M3FN]) >> 16);
    w[31] = (uint16_t)(ck_fp8_to_bits(0x7F, &ck_fp8_specs[CK_FP8_E4M3FN]) >> 16);
    return (e4m3_table){_mm512_loadu_si512(w)};
}

/* Element i of a BF16 or E4M3 array as BF16 bits. */
DOT_INLINE uint32_t word_at(const void *src, ck_dtype t, size_t i) {
    if (t == CK_DTYPE_BF16) return ((const uint16_t *)src)[i];
    return ck_fp8_to_bits(((const uint8_t *)src)[i], &ck_fp8_specs[CK_FP8_E4M3FN]) >> 16;
}

/* 32 E4M3 codes, sign-extended into 16-bit words, as BF16 words. A normal code's sign, exponent and mantissa are
 * shifted into BF16's fields and its exponent rebiased by adding 120 (three instructions); the codes that are not
 * normal ((c + 1) & 0x7F <= 8: zero, subnormal, NaN), rare in weights, are looked up, their sign put back. */
DOT_INLINE __m512i e4m3_words(__m512i c, const e4m3_table *e) {
    const __m512i normal = _mm512_add_epi16(_mm512_and_si512(_mm512_slli_epi16(c, 4), _mm512_set1_epi16((short)0x87F0)),
                                            _mm512_set1_epi16(120 << 7));
    const __mmask32 other = _mm512_cmple_epu16_mask(
        _mm512_and_si512(_mm512_add_epi16(c, _mm512_set1_epi16(1)), _mm512_set1_epi16(0x7F)), _mm512_set1_epi16(8));
    if (__builtin_expect(other == 0, 1)) return normal;
    const __m512i looked = _mm512_permutexvar_epi16(c, e->t); /* by the code's low five bits */
    return _mm512_mask_mov_epi16(normal, other,
                                 _mm512_or_si512(looked, _mm512_and_si512(c, _mm512_set1_epi16((short)0x8000))));
}

/* 32 consecutive elements from element i as BF16 words. */
DOT_INLINE __m512i words_at(const void *src, ck_dtype t, size_t i, const e4m3_table *e) {
    if (t == CK_DTYPE_BF16) return _mm512_loadu_si512((const uint16_t *)src + i);
    return e4m3_words(_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)((const uint8_t *)src + i))), e);
}

/* The same for the first n (may be <= 0 or >= 32) of them, +0 after: nothing past them is read (or addressed). */
DOT_INLINE __m512i words_part(const void *src, ck_dtype t, size_t i, int n, const e4m3_table *e) {
    if (n <= 0) return _mm512_setzero_si512();
    const __mmask32 k = n >= 32 ? 0xFFFFFFFFu : (1u << n) - 1;
    if (t == CK_DTYPE_BF16) return _mm512_maskz_loadu_epi16(k, (const uint16_t *)src + i);
    return e4m3_words(_mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(k, (const uint8_t *)src + i)), e);
}

/* 16 rows of B x 16 pairs from element `at` (row c's at at + c*ld) as col[j] lane c = pair j of row c. E4M3 codes
 * are transposed while still bytes, in two halves of 8 pairs (v_load_e4m3_pairs_t: per 256 codes the loads' 12
 * inserts and 8 unpacks, then the decode's 8 unpacks into words, 24 instructions of arithmetic and 12 of its check,
 * or with AVX512_VBMI 12 of table lookups and unpacks); BF16 words, and without AVX512_VBMI E4M3 blocks with a code
 * that is not a normal number, are decoded (words_at) and transposed as words (v_transpose: 64 shuffles for 256
 * pairs). */
DOT_INLINE void block_pairs(const void *src, const ck_dtype t, size_t ld, size_t at, const e4m3_table *e,
                            vf32 col[CK_VW]) {
    if (t == CK_DTYPE_E4M3FN && !v_load_e4m3_pairs_t((const uint8_t *)src + at, ld, col) &&
        !v_load_e4m3_pairs_t((const uint8_t *)src + at + 16, ld, col + 8))
        return;
#pragma unroll
    for (int c = 0; c < CK_VW; c++) col[c] = _mm512_castsi512_ps(words_at(src, t, at + (size_t)c * ld, e));
    v_transpose(col);
}

/* vpermt2w indices that interleave two vectors of 32 words x and y into pairs: lo (x[i], y[i]) for i < 16, hi for
 * i >= 16. */
typedef struct {
    __m512i lo, hi;
} interleave;

DOT_INLINE interleave interleave_indices(void) {
    uint16_t lo[32], hi[32]; /* word i of the result: word i / 2 (+ 16 for hi) of x (i even) or y (i odd) */
    for (int i = 0; i < 32; i++) lo[i] = (uint16_t)(i / 2 | (i & 1) << 5), hi[i] = (uint16_t)(lo[i] + 16);
    return (interleave){_mm512_loadu_si512(lo), _mm512_loadu_si512(hi)};
}

/* 32 columns (n of them valid, +0 after) of two rows of B as 16 + 16 pairs: the row at element `even` and, if `odd`,
 * the next, ls elements on (else +0). */
DOT_INLINE void row_pairs(const void *src, ck_dtype t, size_t even, size_t ls, bool odd, int n, const e4m3_table *e,
                          const interleave *ix, __m512i out[2]) {
    const __m512i x = words_part(src, t, even, n, e);
    const __m512i y = odd ? words_part(src, t, even + ls, n, e) : _mm512_setzero_si512();
    out[0] = _mm512_permutex2var_epi16(x, ix->lo, y);
    out[1] = _mm512_permutex2var_epi16(x, ix->hi, y);
}

/* Pair p of B's column c: B(2p, c) low, B(2p + 1, c) high (0 past kc). */
DOT_INLINE uint32_t pair_at(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, size_t p, size_t c) {
    const size_t l = 2 * p;
    return word_at(src, t, l * ls + c * cs) | (l + 1 < kc ? word_at(src, t, (l + 1) * ls + c * cs) << 16 : 0u);
}

/* The pack (see ck_dot_kernels): B's columns contiguous (cs == 1: [K, N] weights and packed strips) interleave two
 * rows of B 32 columns at a time; B's rows contiguous (ls == 1: [N, K] weights) hold each pair as two adjacent
 * elements, so 16 columns x 16 pairs are a 16 x 16 transpose of pairs (block_pairs); ragged strips and the odd tail
 * go pair by pair. */
DOT_INLINE void pack_body(const void *src, const ck_dtype t, size_t ls, size_t cs, size_t kc, int cols,
                          uint32_t *dst) {
    const size_t kp = (kc + 1) / 2, whole = kc / 2; /* pairs, and pairs with both halves in B */
    const int full = cs == 1 || ls == 1 ? cols / NR : 0;
    const e4m3_table e = e4m3_words_table();
    const interleave ix = interleave_indices();
    for (int st = 0; st < full; st++) {
        uint32_t *d = dst + (size_t)st * kp * NR;
        const size_t c0 = (size_t)st * NR * cs; /* the strip's first element */
        size_t p = 0;
        if (cs == 1)
            for (; p < kp; p++)
                for (int h = 0; h < NR; h += 32) {
                    __m512i two[2];
                    row_pairs(src, t, c0 + 2 * p * ls + (size_t)h, ls, p < whole, 32, &e, &ix, two);
                    _mm512_storeu_si512(d + p * NR + h, two[0]);
                    _mm512_storeu_si512(d + p * NR + h + 16, two[1]);
                }
        else {
            for (; p + CK_VW <= whole; p += CK_VW)
                for (int v = 0; v < V; v++) {
                    vf32 r[CK_VW]; /* r[j] = pair p + j of columns v*16 ... v*16 + 15 */
                    block_pairs(src, t, cs, c0 + (size_t)v * CK_VW * cs + 2 * p, &e, r);
                    for (int j = 0; j < CK_VW; j++) _mm512_storeu_ps(d + (p + (size_t)j) * NR + v * CK_VW, r[j]);
                }
            for (; p < kp; p++)
                for (int c = 0; c < NR; c++) d[p * NR + c] = pair_at(src, t, ls, cs, kc, p, (size_t)st * NR + c);
        }
    }
    for (int st = full; st * NR < cols; st++)
        for (size_t p = 0; p < kp; p++)
            for (int c = 0; c < NR; c++) {
                const int col = st * NR + c;
                dst[((size_t)st * kp + p) * NR + c] = col < cols ? pair_at(src, t, ls, cs, kc, p, (size_t)col) : 0u;
            }
}

static void dot_pack(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, uint32_t *dst) {
    if (t == CK_DTYPE_BF16) pack_body(src, CK_DTYPE_BF16, ls, cs, kc, cols, dst);
    else pack_body(src, CK_DTYPE_E4M3FN, ls, cs, kc, cols, dst);
}

/* Rows of A as pairs (see ck_dot_kernels): whole runs of 32 elements as words, the rest (and an odd kc's last
 * pair, +0 high) one pair at a time. */
DOT_INLINE void rows_body(const void *src, const ck_dtype t, size_t ld, size_t rows, size_t kc, uint32_t *dst,
                          size_t ldd) {
    const e4m3_table e = e4m3_words_table();
    for (size_t i = 0; i < rows; i++) {
        size_t l = 0;
        for (; l + 32 <= kc; l += 32) _mm512_storeu_si512(dst + i * ldd + l / 2, words_at(src, t, i * ld + l, &e));
        for (; l < kc; l += 2)
            dst[i * ldd + l / 2] = word_at(src, t, i * ld + l) | (l + 1 < kc ? word_at(src, t, i * ld + l + 1) << 16 : 0u);
    }
}

static void dot_rows(const void *src, ck_dtype t, size_t ld, size_t rows, size_t kc, uint32_t *dst, size_t ldd) {
    if (t == CK_DTYPE_BF16) rows_body(src, CK_DTYPE_BF16, ld, rows, kc, dst, ldd);
    else rows_body(src, CK_DTYPE_E4M3FN, ld, rows, kc, dst, ldd);
}

/* The decode kernel (see ck_dot_kernels) for m rows, a constant: the chains of CK_VW columns stay in registers for
 * the whole reduction (each 128-wide block's, when scaled), and each block of 16 weight rows x 16 pairs, read straight
 * from memory, is transposed in registers (block_pairs) and serves every row, as decode_nk does for FMAs. E4M3
 * blocks are transposed as bytes: on Zen 4 (two threads, in turn with the kernel that decoded each row's 32 codes
 * and transposed 16 x 16 words) the benchmark's V2-Lite experts at T = 16 took 0.79-0.83 x the time, V3's
 * 0.80-0.89 x; in a C driver (4 experts, one thread, one to four rows each) 0.71-0.80 x. When a block starts a line
 * (E4M3: every other block), each weight row's line CK_DECODE_AHEAD (256) elements on is prefetched into L2, as
 * decode_nk does (ck_prefetch_ahead: past the end of the rows, in the next call's 16 rows; into L2 rather than L1: see
 * decode_nk_groups in gemm_simd.h). That took 0.76 x the time of a prefetch 2 KiB ahead within each row with one
 * and two rows of V2-Lite's E4M3 experts (2 KiB rows, so it had landed in rows this call was reading already),
 * 0.85 x with four, V3's 0.85-0.96 x with one and two (Zen 4, a C driver, two threads, weights from DRAM, medians
 * of seven calls in turn); 128 and 384 elements ahead were no faster, and BF16 weights (1 KiB ahead before) took
 * the same time. E4M3 weights now prefetch the rows of the driver's next call instead (ck_prefetch_next: its 16 rows
 * front to back, spread over this call), when it has one: V2-Lite's experts at T = 16 took 0.96 x the time (medians
 * of 6.0 and 6.29 ms against 6.28 and 6.58, the benchmark, two threads, builds in turn), V3's the same time within
 * the noise. Prefetching the next 16 rows even after a task's last call took V3's 1.04 x; BF16 rows prefetched that
 * way took V2-Lite's BF16 decode 1.2 x (medians of 12.1 ms against 10.1), so BF16 keeps the prefetch above. Each
 * vdpbf16ps reads its x pair itself (dot_at): with a vbroadcastss per pair, V3's E4M3 experts
 * at T = 16 took 1.36 x the time (12.6-12.8 ms against 9.25-9.34; the benchmark, two threads, builds in turn),
 * V2-Lite's about 1.03 x (5.88-6.18 ms against 5.85-5.90). */
DOT_INLINE void decode_body(size_t kc, const void *w, const ck_dtype t, size_t ldw, int cols, int next,
                            const uint32_t *x, size_t ldx, float *out, const float *sa, size_t sa_rs, const float *sb,
                            size_t sb_ls, const int m) {
    const e4m3_table e = e4m3_words_table();
    const size_t span = sb ? CK_SCALE_BLOCK : kc, size = ck_dtype_size(t);
    const bool to_next = t == CK_DTYPE_E4M3FN && next > 0; /* the next call's rows (ck_prefetch_next) */
    for (size_t l0 = 0; l0 < kc; l0 += span) {
        const size_t end = kc - l0 < span ? kc : l0 + span;
        __m512 acc[CK_DOT_DECODE_NK_M];
#pragma unroll
        for (int r = 0; r < m; r++) acc[r] = _mm512_setzero_ps();
        size_t l = l0;
        if (cols == CK_VW)
            for (; l + 2 * CK_VW <= end; l += 2 * CK_VW) {
                if (to_next) ck_prefetch_next(w, size, ldw * size, l, 2 * CK_VW, kc, CK_VW, next);
                else ck_prefetch_ahead(w, size, ldw * size, l, kc, CK_VW, CK_VW, true);
                vf32 col[CK_VW]; /* col[j] = pair l/2 + j of every weight row */
                block_pairs(w, t, ldw, l, &e, col);
#pragma unroll
                for (int j = 0; j < CK_VW; j++)
#pragma unroll
                    for (int r = 0; r < m; r++)
                        acc[r] = dot_at(acc[r], &x[r * ldx + l / 2 + j], as_pairs(_mm512_castps_si512(col[j])));
            }
        for (; l < end; l += 2) { /* ragged columns and the tail: a pair at a time */
            uint32_t pair[CK_VW];
            for (int c = 0; c < CK_VW; c++) pair[c] = c < cols ? pair_at(w, t, 1, ldw, end, l / 2, (size_t)c) : 0u;
            const __m512bh wv = as_pairs(_mm512_loadu_si512(pair));
#pragma unroll
            for (int r = 0; r < m; r++)
                acc[r] = _mm512_dpbf16_ps(acc[r], as_pairs(_mm512_set1_epi32((int)x[r * ldx + l / 2])), wv);
        }
        const size_t b = l0 / CK_SCALE_BLOCK;
#pragma unroll
        for (int r = 0; r < m; r++) {
            if (sb) {
                const __m512 old = b ? _mm512_loadu_ps(out + r * CK_DOT_DECODE_W) : _mm512_setzero_ps();
                acc[r] = fold(acc[r], sa ? sa[(size_t)r * sa_rs + b] : 1.0f, _mm512_set1_ps(sb[b * sb_ls]), old);
            }
            _mm512_storeu_ps(out + r * CK_DOT_DECODE_W, acc[r]);
        }
    }
}

/* E4M3 rows p and, if odd, p + ld (else +0), their first cols (<= 0: none; +0 after) of vk * 16 as decode_kn_step's
 * pairs, in its unpack order: the codes' qwords are permuted so that lane j holds columns 8j .. 8j + 7 low and
 * 32 + 8j .. high, the two rows' bytes interleaved, then decoded as bytes (v_e4m3_words), whose words come out in
 * that order. Returns whether it did: false if a code is special and v_e4m3_words did not decode it. */
DOT_INLINE bool kn_e4m3_pairs(const uint8_t *p, size_t ld, bool odd, int cols, __m512bh b[V], const int vk) {
    const int n = cols < vk * CK_VW ? cols : vk * CK_VW;
    const __mmask64 k = n <= 0 ? 0 : n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
    const __m512i spread = _mm512_set_epi64(7, 3, 6, 2, 5, 1, 4, 0);
    const __m512i r0 = _mm512_permutexvar_epi64(spread, _mm512_maskz_loadu_epi8(k, p));
    const __m512i r1 = odd ? _mm512_permutexvar_epi64(spread, _mm512_maskz_loadu_epi8(k, p + ld)) : _mm512_setzero_si512();
    const __m512i q[2] = {_mm512_unpacklo_epi8(r0, r1), _mm512_unpackhi_epi8(r0, r1)};
    __m512i h[4];
    if (v_e4m3_words(q, q, h, vk / 2)) return false;
#pragma unroll
    for (int v = 0; v < vk; v++) b[v] = as_pairs(h[v]);
    return true;
}

/* One step of the [K, N] decode kernel: weight rows l and, if odd, l + 1 (else +0), the first cols (constant in the
 * main loop) of the pass's vk * 16 columns, as pairs in unpack order: vpunpck{l,h}wd interleave two rows' words within
 * 128-bit lanes, so b[2h + e] lane j dword d holds column 32h + 8j + 4e + d (cheaper than row_pairs' vpermt2w, and with
 * no index registers, which the 24 chains leave none for); E4M3 codes come in the same order from kn_e4m3_pairs,
 * decoded while still bytes (unless a code is special and the CPU lacks AVX512_VBMI); decode_kn_pass puts the chains
 * back in column order. With prefetch, the lines PF_BYTES of the strip ahead are prefetched (as many bytes for BF16 as
 * E4M3): without that, V2-Lite's packed E4M3 experts at T = 16 took 24-37 ms, waiting on every load. The chains read
 * their x pair themselves (dot_at): with one vbroadcastss per row and step, V3's packed E4M3 experts took 1.05 x the
 * time (9.63-9.72 ms against 9.06-9.37, as in decode_body). */
DOT_INLINE void decode_kn_step(const void *w, const ck_dtype t, size_t ldw, size_t l, bool odd, int cols, bool prefetch,
                               const uint32_t *x, size_t ldx, const e4m3_table *e, __m512 acc[2 * MR][V], const int m,
                               const int vk) {
    const size_t size = ck_dtype_size(t), row = NR * size, ahead = PF_BYTES / row;
    if (prefetch)
        for (size_t q = 0; q < 2 * row; q += 64) /* as integers: the lines may lie past the weights */
            __builtin_prefetch((const void *)((uintptr_t)w + (l + ahead + q / row) * ldw * size + q % row), 0, 3);
    __m512bh b[V];
    if (t != CK_DTYPE_E4M3FN || !kn_e4m3_pairs((const uint8_t *)w + l * ldw, ldw, odd, cols, b, vk))
#pragma unroll
        for (int h = 0; h < vk * CK_VW; h += 32) {
            const __m512i lo = words_part(w, t, l * ldw + (size_t)h, cols - h, e);
            const __m512i hi = odd ? words_part(w, t, (l + 1) * ldw + (size_t)h, cols - h, e) : _mm512_setzero_si512();
            b[h / CK_VW] = as_pairs(_mm512_unpacklo_epi16(lo, hi));
            b[h / CK_VW + 1] = as_pairs(_mm512_unpackhi_epi16(lo, hi));
        }
#pragma unroll
    for (int r = 0; r < m; r++) {
#pragma unroll
        for (int v = 0; v < vk; v++) acc[r][v] = dot_at(acc[r][v], &x[r * ldx + l / 2], b[v]);
    }
}

/* One pass of the [K, N] decode kernel over the scale span [l0, end) (a 128-wide block) for m (a constant) rows of
 * x against vk * 16 columns: decode_kn_step's pairs feed the m * vk chains, which start from +0 (scaled, or the first
 * span) or resume from out, where the previous span left them in unpack order; o is the pass's first output (row
 * stride CK_DOT_DECODE_KN_W). Scaled, the span's sums are folded into out as the FMA kernels fold them. After the
 * last span the chains go to out in column order. */
DOT_INLINE void decode_kn_pass(size_t kc, size_t l0, size_t end, const void *w, const ck_dtype t, size_t ldw, int cols,
                               bool prefetch, const uint32_t *x, size_t ldx, float *o, const float *sa, size_t sa_rs,
                               const float *sb, size_t sb_ls, const e4m3_table *e, const int m, const int vk) {
    /* column order's vector 2h + s: lanes 2s and 2s + 1 of unpack order's b[2h] and b[2h + 1], alternating */
    const __m512i order[2] = {_mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0),
                              _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8)};
    const size_t bk = l0 / CK_SCALE_BLOCK;
    __m512 acc[2 * MR][V];
#pragma unroll
    for (int r = 0; r < m; r++)
#pragma unroll
        for (int v = 0; v < vk; v++)
            acc[r][v] = !sb && l0 ? _mm512_loadu_ps(o + r * CK_DOT_DECODE_KN_W + v * CK_VW) : _mm512_setzero_ps();
    size_t l = l0;
    if (cols >= vk * CK_VW)
        for (; l + 2 <= end; l += 2) decode_kn_step(w, t, ldw, l, true, vk * CK_VW, prefetch, x, ldx, e, acc, m, vk);
    for (; l < end; l += 2) decode_kn_step(w, t, ldw, l, l + 1 < end, cols, prefetch, x, ldx, e, acc, m, vk);
#pragma unroll
    for (int r = 0; r < m; r++) {
        float *row = o + r * CK_DOT_DECODE_KN_W;
        if (sb)
#pragma unroll
            for (int v = 0; v < vk; v++)
                acc[r][v] = fold(acc[r][v], sa ? sa[(size_t)r * sa_rs + bk] : 1.0f, _mm512_set1_ps(sb[bk * sb_ls]),
                                 bk ? _mm512_loadu_ps(row + v * CK_VW) : _mm512_setzero_ps());
#pragma unroll
        for (int v = 0; v < vk; v++)
            _mm512_storeu_ps(row + v * CK_VW,
                             end < kc ? acc[r][v] : _mm512_permutex2var_ps(acc[r][v & ~1], order[v & 1], acc[r][v | 1]));
    }
}

/* The [K, N] decode kernel (see ck_dot_kernels) for m (<= 2 MR) rows, a constant: its passes (decode_kn_pass) read
 * each weight from memory once, in the order it lies (a packed strip is one run), scale span by scale span. Up to MR
 * rows, one pass takes all 64 columns (4 vectors per chain). Past MR, a span takes two passes, and the second finds a
 * packed strip's span in the L1 cache (128 rows of 64 columns, 16 KiB at most; [K, N] rows a multiple of 4 KiB apart
 * share a few of L1's sets, and it may read them from L2): BF16's each take 32 columns of every row; E4M3's each take
 * all 64 columns of half the rows, so each code is decoded twice, but each decode serves four vectors per row, not
 * two: against 7-12 rows a strip took 0.72-0.94 x the time that two 32-column passes took (10 rows 0.72 x, 7 and
 * 12 rows 0.89-0.94 x), while BF16, which has no decode to share, took 1.06-1.09 x (Zen 4, a C driver, one thread,
 * best of three to five runs, the strip in L1 and in L2). */
DOT_INLINE void decode_kn_body(size_t kc, const void *w, const ck_dtype t, size_t ldw, int cols, int next,
                               const uint32_t *x, size_t ldx, float *out, const float *sa, size_t sa_rs, const float *sb,
                               size_t sb_ls, const int m) {
    (void)next; /* the strips stream on their own (PF_BYTES ahead, decode_kn_step) */
    const e4m3_table e = e4m3_words_table();
    const size_t size = ck_dtype_size(t);
    for (size_t l0 = 0; l0 < kc; l0 += CK_SCALE_BLOCK) {
        const size_t end = kc - l0 < CK_SCALE_BLOCK ? kc : l0 + CK_SCALE_BLOCK;
        if (m <= MR) decode_kn_pass(kc, l0, end, w, t, ldw, cols, true, x, ldx, out, sa, sa_rs, sb, sb_ls, &e, m, V);
        else if (t == CK_DTYPE_E4M3FN) { /* rows [0, h) and [h, m), h = ceil(m / 2) */
            const int h = (m + 1) / 2;
            decode_kn_pass(kc, l0, end, w, t, ldw, cols, true, x, ldx, out, sa, sa_rs, sb, sb_ls, &e, h, V);
            decode_kn_pass(kc, l0, end, w, t, ldw, cols, false, x + (size_t)h * ldx, ldx, out + h * CK_DOT_DECODE_KN_W,
                           sa ? sa + (size_t)h * sa_rs : NULL, sa_rs, sb, sb_ls, &e, m - h, V);
        } else /* columns [0, 32) and [32, 64) */
            for (int c0 = 0; c0 < cols; c0 += V / 2 * CK_VW)
                decode_kn_pass(kc, l0, end, (const uint8_t *)w + (size_t)c0 * size, t, ldw, cols - c0, c0 == 0, x, ldx,
                               out + c0, sa, sa_rs, sb, sb_ls, &e, m, V / 2);
    }
}

_Static_assert(CK_DOT_DECODE_KN_M == 2 * MR && CK_DOT_DECODE_KN_W == NR, "the [K, N] kernel's rows and columns");
_Static_assert(CK_DOT_DECODE_NK_M == 12 && CK_DOT_DECODE_KN_M == 12 && CK_DOT_DECODE_W == CK_VW,
               "one case per row count; an [N, K] call is one vector wide");
/* A decode kernel's entry: body instantiated for each dtype and row count (a constant for its unrolled loops). */
#define CASE(BODY, T, R) case R: BODY(kc, w, T, ldw, cols, next, x, ldx, out, sa, sa_rs, sb, sb_ls, R); return;
#define ROWS(BODY, T)                                                                                         \
    switch (rows) {                                                                                           \
        CASE(BODY, T, 1) CASE(BODY, T, 2) CASE(BODY, T, 3) CASE(BODY, T, 4) CASE(BODY, T, 5) CASE(BODY, T, 6) \
        CASE(BODY, T, 7) CASE(BODY, T, 8) CASE(BODY, T, 9) CASE(BODY, T, 10) CASE(BODY, T, 11)                \
        CASE(BODY, T, 12)                                                                                     \
    }
#define DECODE_ENTRY(NAME, BODY)                                                                              \
    static void NAME(size_t kc, const void *w, ck_dtype t, size_t ldw, int cols, int next, const uint32_t *x,    \
                     size_t ldx, int rows, float *out, const float *sa, size_t sa_rs, const float *sb,        \
                     size_t sb_ls) {                                                                           \
        if (t == CK_DTYPE_BF16) ROWS(BODY, CK_DTYPE_BF16)                                                     \
        else ROWS(BODY, CK_DTYPE_E4M3FN)                                                                      \
    }
DECODE_ENTRY(dot_decode, decode_body)
DECODE_ENTRY(dot_decode_kn, decode_kn_body)
#undef DECODE_ENTRY
#undef ROWS
#undef CASE

const ck_dot_kernels DOT_TABLE = {
    .tile = dot_tile, .pack = dot_pack, .rows = dot_rows, .decode = dot_decode, .decode_kn = dot_decode_kn};

#pragma clang attribute pop
#endif

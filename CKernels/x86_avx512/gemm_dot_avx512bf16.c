/*
 * BF16 dot-product tiles for AVX512_BF16 (ck_dot_kernels, core/internal.h), which m-grouped BF16 x BF16 GEMMs take
 * when the calling thread turned on ck_set_bf16_dot_products: 6 x 64 tiles like the FMA ones, but each step takes a
 * pair of the reduction, so one vdpbf16ps does the work of two FMAs. B is packed as pairs (two BF16 values in a
 * 32-bit lane, the even index low) and A's pairs are broadcast as they lie in a row of x. Contract and order: the
 * instruction's, spelled out in core/internal.h (not the canonical FMA chain, so not the other ISAs' bits).
 */
#if defined(__x86_64__)
#include "../core/internal.h"
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512bf16"))), apply_to = function)
#include "../simd/vec_avx512.h"

#define DOT_INLINE static inline __attribute__((always_inline))
enum { MR = 6, V = 4, NR = V * CK_VW };

DOT_INLINE __m512bh as_pairs(__m512i v) { return (__m512bh)v; }

DOT_INLINE void dot_body(size_t kp, const uint32_t *a, size_t rsa, const uint32_t *pb, float *out, int first,
                         const ck_prefetch *pf, const int mr) {
    __m512 acc[MR][V];
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < V; v++) acc[r][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(out + r * NR + v * CK_VW);
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
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < V; v++) _mm512_storeu_ps(out + r * NR + v * CK_VW, acc[r][v]);
}

static void dot_tile(size_t kp, const uint32_t *a, size_t rsa, const uint32_t *pb, float *out, int rows, int first,
                     const ck_prefetch *pf) {
    switch (rows) {
    case 1: dot_body(kp, a, rsa, pb, out, first, pf, 1); break;
    case 2: dot_body(kp, a, rsa, pb, out, first, pf, 2); break;
    case 3: dot_body(kp, a, rsa, pb, out, first, pf, 3); break;
    case 4: dot_body(kp, a, rsa, pb, out, first, pf, 4); break;
    case 5: dot_body(kp, a, rsa, pb, out, first, pf, 5); break;
    default: dot_body(kp, a, rsa, pb, out, first, pf, MR); break;
    }
}

/* Pair p of column c: B(2p, c) low, B(2p + 1, c) high (0 past kc). */
DOT_INLINE uint32_t pair_at(const uint16_t *src, size_t ls, size_t cs, size_t kc, size_t p, size_t c) {
    const size_t l = 2 * p;
    return src[l * ls + c * cs] | (l + 1 < kc ? (uint32_t)src[(l + 1) * ls + c * cs] << 16 : 0u);
}

/* The pack (see ck_dot_kernels): B's columns contiguous (cs == 1: [K, N] weights and packed strips) interleave two
 * rows of B 32 columns at a time; B's rows contiguous (ls == 1: [N, K] weights) hold each pair as a 32-bit word
 * already, so 16 columns x 16 pairs are a 16 x 16 transpose of words; ragged strips and the odd tail go pair by
 * pair. */
static void dot_pack(const uint16_t *src, size_t ls, size_t cs, size_t kc, int cols, uint32_t *dst) {
    const size_t kp = (kc + 1) / 2, whole = kc / 2; /* pairs, and pairs with both halves in B */
    const int full = cs == 1 || ls == 1 ? cols / NR : 0;
    /* vpermt2w indices: word i of the result is word i / 2 (+ 16 for the second half) of x (i even) or y (i odd) */
    uint16_t lo_idx[32], hi_idx[32];
    for (int i = 0; i < 32; i++) lo_idx[i] = (uint16_t)(i / 2 | (i & 1) << 5), hi_idx[i] = (uint16_t)(lo_idx[i] + 16);
    const __m512i lo = _mm512_loadu_si512(lo_idx), hi = _mm512_loadu_si512(hi_idx);
    for (int st = 0; st < full; st++) {
        uint32_t *d = dst + (size_t)st * kp * NR;
        const uint16_t *s = src + (size_t)st * NR * cs;
        size_t p = 0;
        if (cs == 1)
            for (; p < kp; p++) {
                for (int h = 0; h < NR; h += 32) {
                    const __m512i x = _mm512_loadu_si512(s + 2 * p * ls + h);
                    const __m512i y = p < whole ? _mm512_loadu_si512(s + (2 * p + 1) * ls + h) : _mm512_setzero_si512();
                    _mm512_storeu_si512(d + p * NR + h, _mm512_permutex2var_epi16(x, lo, y));
                    _mm512_storeu_si512(d + p * NR + h + 16, _mm512_permutex2var_epi16(x, hi, y));
                }
            }
        else {
            for (; p + CK_VW <= whole; p += CK_VW)
                for (int v = 0; v < V; v++) {
                    vf32 r[CK_VW]; /* r[c] = pairs p ..< p + 16 of column v*16 + c, then r[j] = pair p + j */
                    for (int c = 0; c < CK_VW; c++) r[c] = _mm512_loadu_ps(s + (size_t)(v * CK_VW + c) * cs + 2 * p);
                    v_transpose(r);
                    for (int j = 0; j < CK_VW; j++) _mm512_storeu_ps(d + (p + (size_t)j) * NR + v * CK_VW, r[j]);
                }
            for (; p < kp; p++)
                for (int c = 0; c < NR; c++) d[p * NR + c] = pair_at(s, ls, cs, kc, p, (size_t)c);
        }
    }
    for (int st = full; st * NR < cols; st++)
        for (size_t p = 0; p < kp; p++)
            for (int c = 0; c < NR; c++) {
                const int col = st * NR + c;
                dst[((size_t)st * kp + p) * NR + c] = col < cols ? pair_at(src, ls, cs, kc, p, (size_t)col) : 0u;
            }
}

const ck_dot_kernels ck_dot_avx512bf16 = {.tile = dot_tile, .pack = dot_pack};

#pragma clang attribute pop
#endif

/*
 * FP32 GEMM microkernels written once over the vector vocabulary (vec_<isa>.h), instantiated per ISA:
 * CK_GEMM_MR x CK_GEMM_V-vector tiles of outer products over packed B panels (where registers allow, packing the
 * next FP32 panel on the way), B's packing (decoding BF16 and E4M3), the transposed tiles (FP32 [N, K] weights read
 * in place against few rows), and the decode kernels for up to CK_DECODE_NK_M rows against [N, K] weights and
 * CK_DECODE_M against [K, N] ones and packed strips.
 * Contract and canonical order: ck_gemm_kernels in core/internal.h; every ISA gives the scalar bits.
 */
#include "elements_simd.h"

#define CK_INLINE static inline __attribute__((always_inline))
#define CK_GEMM_NR (CK_GEMM_V * CK_VW)
#define CK_DECODE_KN_W 2048 /* columns per decode_kn call */
#define CK_DECODE_NK_W 16 /* columns (weight rows) per decode_nk call, NK_GROUPS groups of CK_VW */
enum { NK_GROUPS = CK_DECODE_NK_W / CK_VW, NK_PAIR_M = 2, NK_STAGED = CK_VW == 8 };
_Static_assert(128 % CK_GEMM_NR == 0 && 64 % CK_VW == 0 && CK_DECODE_KN_W % 128 == 0 && CK_GEMM_MR <= 8 &&
                   CK_GEMM_NR <= 64 && CK_DECODE_XB % CK_VW == 0 && 128 % CK_DECODE_XB == 0 &&
                   CK_PACKED_COLUMNS == 64 && CK_DECODE_NK_W <= CK_PACKED_COLUMNS,
               "panels and decode_nk groups lie within one 128-wide scale block, decode_kn calls cover whole ones and "
               "its E4M3 check covers whole strips of packed weights; panels and decode_nk's calls lie within one "
               "such strip; the driver's scales hold 8 rows, 64 columns; a block of W's columns lies within one "
               "block of decode_nk's x, and such a block (a staged chunk) within one scale block");

/* A piece of the panel pp packs (see ck_gemm_kernels.tile_pack): its columns 4q ..< 4q + 4 (rows of src) at l ..<
 * l + CK_VW. Four row loads, a transpose within the 128-bit lanes and a 128-bit store per lane: few enough registers
 * to run between a tile's FMAs. */
CK_INLINE void pack_piece(const ck_pieces *pp, size_t q, size_t l) {
    vf32 r[4];
#pragma unroll
    for (int k = 0; k < 4; k++) r[k] = v_as_f32(v_load_f32(pp->src + (4 * q + (size_t)k) * pp->ld + l));
    v_transpose_quads(r); /* r[j] lane 4L + k: column 4q + k at l + 4L + j */
    float *dst = pp->dst + l * CK_GEMM_NR + 4 * q;
#pragma unroll
    for (int j = 0; j < 4; j++) v_store_quads(dst + (size_t)j * CK_GEMM_NR, 4 * CK_GEMM_NR, r[j]);
}

/* Step l of a tile's chains: acc[r] += A(r, l) * B(l, .), A(r, l) = row[r][at], B's row at b. */
CK_INLINE void tile_step(vf32 acc[CK_GEMM_MR][CK_GEMM_V], const float *const row[CK_GEMM_MR], size_t at,
                         const float *b, const int mr) {
    vf32 bv[CK_GEMM_V];
#pragma unroll
    for (int v = 0; v < CK_GEMM_V; v++) bv[v] = v_as_f32(v_load_u32(b + v * CK_VW));
#pragma unroll
    for (int r = 0; r < mr; r++) {
        const vf32 ar = v_setf(row[r][at]);
#pragma unroll
        for (int v = 0; v < CK_GEMM_V; v++) acc[r][v] = v_fmaf(ar, bv[v], acc[r][v]);
    }
}

/* mr rows x CK_GEMM_NR columns of fma chains over kc (see ck_gemm_kernels.tile); with pp, its share of a panel's pack
 * spread evenly over the steps of l, four steps at a time (tile_pack). */
CK_INLINE void tile_body(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, size_t ldb, float *out,
                         const float *sa, const float *sb, int first, const ck_prefetch *pf, const ck_pieces *pp,
                         const int mr) {
    vf32 acc[CK_GEMM_MR][CK_GEMM_V];
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < CK_GEMM_V; v++)
            acc[r][v] = first || sa ? v_setf(0.0f) : v_as_f32(v_load_u32(out + r * CK_GEMM_NR + v * CK_VW));
    const float *row[CK_GEMM_MR]; /* A's rows, so that each broadcast is one addressing mode off l */
#pragma unroll
    for (int r = 0; r < mr; r++) row[r] = a + r * rsa;
    ck_prefetch_walk walk = ck_prefetch_start(pf);
    size_t l = 0, at = 0;
    if (pp) { /* the share's pieces (columns 4q at pl on), as many every four steps as keep pace (err) */
        const size_t blocks = pp->kc / CK_VW, n = CK_GEMM_NR / 4 * blocks, next = n * pp->part / pp->parts;
        const size_t count = n * (pp->part + 1) / pp->parts - next, groups = kc / 4 ? kc / 4 : 1;
        size_t q = next / blocks, pl = next % blocks * CK_VW, err = 0;
        for (size_t g = 0; g < groups; g++) {
            for (err += count; err >= groups; err -= groups) {
                pack_piece(pp, q, pl);
                if ((pl += CK_VW) == pp->kc) pl = 0, q++;
            }
#pragma unroll
            for (int i = 0; i < 4; i++, l++, at += csa) {
                if (l == kc) break; /* kc < 4: one short group */
                ck_prefetch_step(&walk, l);
                tile_step(acc, row, at, pb + l * ldb, mr);
            }
        }
    }
    for (; l < kc; l++, at += csa) {
        ck_prefetch_step(&walk, l);
        tile_step(acc, row, at, pb + l * ldb, mr);
    }
    if (sa) /* the block's partial sums, scaled: out = fma(p * sa[r], sb[c], out) */
#pragma unroll
        for (int r = 0; r < mr; r++)
#pragma unroll
            for (int v = 0; v < CK_GEMM_V; v++) {
                const vf32 old = first ? v_setf(0.0f) : v_as_f32(v_load_u32(out + r * CK_GEMM_NR + v * CK_VW));
                acc[r][v] = v_fmaf(v_mulf(acc[r][v], v_setf(sa[r])), v_as_f32(v_load_u32(sb + v * CK_VW)), old);
            }
#pragma unroll
    for (int r = 0; r < mr; r++)
#pragma unroll
        for (int v = 0; v < CK_GEMM_V; v++) v_store_u32(out + r * CK_GEMM_NR + v * CK_VW, v_as_u32(acc[r][v]));
}

_Static_assert(CK_GEMM_MR <= 6, "gemm_tile has a case for each row count below CK_GEMM_MR");
#define CK_TILE_CASES(SA, SB, PP)                                                                                      \
    switch (rows) {                                                                                                    \
    case 1: tile_body(kc, a, rsa, csa, pb, ldb, out, SA, SB, first, pf, PP, 1); break;                                \
    case 2: tile_body(kc, a, rsa, csa, pb, ldb, out, SA, SB, first, pf, PP, 2); break;                                \
    case 3: tile_body(kc, a, rsa, csa, pb, ldb, out, SA, SB, first, pf, PP, 3); break;                                \
    case 4: tile_body(kc, a, rsa, csa, pb, ldb, out, SA, SB, first, pf, PP, 4); break;                                \
    case 5: tile_body(kc, a, rsa, csa, pb, ldb, out, SA, SB, first, pf, PP, 5); break;                                \
    default: tile_body(kc, a, rsa, csa, pb, ldb, out, SA, SB, first, pf, PP, CK_GEMM_MR); break;                      \
    }
static void CK_SIMD(gemm_tile)(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, size_t ldb,
                               float *out, int rows, const float *sa, const float *sb, int first, const ck_prefetch *pf) {
    CK_TILE_CASES(sa, sb, NULL)
}
/* Only where a piece's registers fit beside a tile's (32 registers): on AVX2 (16) the pieces spilled the tile's, and
 * the calls took 1.12 x the time at T = 256 and 1.25 x with 30 rows per expert (Zen 4, --isa avx2). */
#if CK_VREGS >= 32
#define CK_TILE_PACK CK_SIMD(gemm_tile_pack)
static void CK_SIMD(gemm_tile_pack)(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, size_t ldb,
                                    float *out, int rows, int first, const ck_prefetch *pf, const ck_pieces *pp) {
    CK_TILE_CASES(NULL, NULL, pp)
}
#else
#define CK_TILE_PACK NULL
#endif
#undef CK_TILE_CASES

#if CK_VW == 8 /* AVX2's table only: on AVX-512 decode_nk takes the rows they would (see NK_ROWS) */
/* The transposed tiles (see ck_gemm_kernels.tile_t): a group of nj weight rows (columns of C) against x's rows in mv
 * vectors and, when the rows end in half a vector, h = 1 more half: there each accumulator holds two columns, the
 * weights' broadcasts of columns 2p and 2p + 1 side by side against those rows twice (v_load_half_dup), so rows cost
 * FMAs in steps of half a vector. The accumulators are the main tile's, and at most TT_NJ weight rows: as many rows
 * of 4 KiB-aligned weights fall into one L1 set of 12 ways. The chains are the tile's, each weight element broadcast
 * where the tile broadcasts x. Each weight row is prefetched TT_PREFETCH floats ahead.
 * TT_ROWS: the most rows. With the weights in DRAM (64 of V2-Lite's experts, two threads, best of 20-50 calls in
 * turn with the packing tiles) 10 to 16 rows took 0.77-0.97 x the time on AVX-512 and 12 to 16 rows 0.68-0.86 x on
 * AVX2; on AVX-512 20, 24 and 34 rows 0.96-1.08 x (the weights stream no faster), on Zen 4 20 and 24 rows 1.20 and
 * 1.10 x, 32 rows 0.84 x but top-6 routing of 256 tokens (12 to 39 rows) 1.14 x. On AVX2 (Zen 3), three vectors of
 * rows in groups of three columns (see tt_cols), 17, 20 and 24 rows took 0.93, 0.81 and 0.87 x the time (medians of
 * six runs in alternation, five calls each), 16 of V3's experts of 20 and 24 rows 0.87 and 0.92 x; 32 and 40 rows in
 * two passes of at most 24 took 0.96 and 1.26 x. From L3 (two experts, one thread) 24 to 48 rows took 0.79-0.89 x on
 * AVX-512, but an MoE layer's experts come from DRAM. Rows that decode_nk takes (up to 12 here) go there first (see
 * transposed in core/grouped_gemm.c). */
enum { TT_ACC = CK_GEMM_MR * CK_GEMM_V, TT_NJ = 12, TT_MV = 3, TT_PREFETCH = 128, TT_ROWS = 24 };
_Static_assert(TT_ROWS <= TT_MV * CK_VW, "the transposed tiles' rows fit their vectors");

/* The columns of a group: as many as TT_ACC accumulators hold (an even count with halves), at most TT_NJ, and with
 * whole vectors only, few enough to leave a register spare beside x's vectors and the broadcast: on AVX2, four
 * columns of three vectors fill all 16 and clang spilled them, at 0.47 x the rate of three columns (weights in L1). */
CK_INLINE int tt_cols(const int mv, const int h) {
    int nj = 2 * TT_ACC / (2 * mv + h);
    if (!h && nj > (CK_VREGS - 2 - mv) / mv) nj = (CK_VREGS - 2 - mv) / mv;
    nj = nj < TT_NJ ? nj : TT_NJ;
    return h ? nj & ~1 : nj;
}

/* One group of nj columns from w0 (weight rows ldw apart; with `clamp`, the rows past cols repeat the last one), its
 * chains stored to out's columns [0, min(nj, cols)). */
CK_INLINE void tile_t_group(size_t kc, const float *w0, size_t ldw, int cols, const float *xt, size_t ldt, int rows,
                            float *out, size_t ldo, const int nj, const int mv, const int h, const bool clamp) {
    vf32 acc[TT_NJ][TT_MV], half[TT_NJ / 2];
#pragma unroll
    for (int j = 0; j < nj; j++) {
#pragma unroll
        for (int v = 0; v < mv; v++) acc[j][v] = v_setf(0.0f);
        if (h && j % 2 == 0) half[j / 2] = v_setf(0.0f);
    }
#define TT_ROW(j) (w0 + (size_t)(clamp && (j) >= cols ? cols - 1 : (j)) * ldw) /* weight row j */
    for (size_t l = 0; l < kc; l++) {
        if (l % 16 == 0) /* each weight row's line TT_PREFETCH floats on (as integers: it may lie past w) */
#pragma unroll
            for (int j = 0; j < nj; j++)
                __builtin_prefetch((const void *)((uintptr_t)(TT_ROW(j) + l) + TT_PREFETCH * sizeof(float)), 0, 3);
        vf32 x[TT_MV], xh = v_setf(0.0f), b[2];
#pragma unroll
        for (int v = 0; v < mv; v++) x[v] = v_as_f32(v_load_u32(xt + l * ldt + v * CK_VW));
        if (h) xh = v_load_half_dup(xt + l * ldt + mv * CK_VW);
#pragma unroll
        for (int j = 0; j < nj; j++) {
            b[h ? j % 2 : 0] = v_setf(TT_ROW(j)[l]);
#pragma unroll
            for (int v = 0; v < mv; v++) acc[j][v] = v_fmaf(b[h ? j % 2 : 0], x[v], acc[j][v]);
            if (h && j % 2) half[j / 2] = v_fmaf(v_halves(b[0], b[1]), xh, half[j / 2]);
        }
    }
#undef TT_ROW
    for (int j = 0; j < nj && j < cols; j++) {
        float lanes[CK_VW];
        for (int v = 0; v < mv + h; v++) {
            v_store_u32(lanes, v_as_u32(v < mv ? acc[j][v] : half[j / 2]));
            const int at = v < mv ? 0 : j % 2 * CK_VW / 2, n = v < mv ? CK_VW : CK_VW / 2;
            for (int i = 0; i < n && v * CK_VW + i < rows; i++) out[(size_t)(v * CK_VW + i) * ldo + j] = lanes[at + i];
        }
    }
}

/* Groups of nj columns; the last one, if ragged, ends at cols (its first columns computed again, to the same bits). */
CK_INLINE void tile_t_body(size_t kc, const float *w, size_t ldw, int cols, const float *xt, size_t ldt, int rows,
                           float *out, size_t ldo, const int mv, const int h) {
    const int nj = tt_cols(mv, h);
    if (cols < nj) {
        tile_t_group(kc, w, ldw, cols, xt, ldt, rows, out, ldo, nj, mv, h, true);
        return;
    }
    for (int j0 = 0;; j0 += nj) {
        if (j0 > cols - nj) j0 = cols - nj;
        tile_t_group(kc, w + (size_t)j0 * ldw, ldw, nj, xt, ldt, rows, out + j0, ldo, nj, mv, h, false);
        if (j0 == cols - nj) return;
    }
}

static void CK_SIMD(gemm_tile_t)(size_t kc, const float *w, size_t ldw, int cols, const float *xt, size_t ldt,
                                 int rows, float *out, size_t ldo) {
    _Static_assert(TT_MV == 3, "one case per count of half vectors");
    switch (ck_div_up((size_t)rows, CK_VW / 2)) { /* mv vectors and h halves */
    case 1: tile_t_body(kc, w, ldw, cols, xt, ldt, rows, out, ldo, 0, 1); break;
    case 2: tile_t_body(kc, w, ldw, cols, xt, ldt, rows, out, ldo, 1, 0); break;
    case 3: tile_t_body(kc, w, ldw, cols, xt, ldt, rows, out, ldo, 1, 1); break;
    case 4: tile_t_body(kc, w, ldw, cols, xt, ldt, rows, out, ldo, 2, 0); break;
    case 5: tile_t_body(kc, w, ldw, cols, xt, ldt, rows, out, ldo, 2, 1); break;
    default: tile_t_body(kc, w, ldw, cols, xt, ldt, rows, out, ldo, 3, 0); break;
    }
}
#define CK_TILE_T CK_SIMD(gemm_tile_t)
#else
#define CK_TILE_T NULL
enum { TT_ROWS = 0 };
#endif

/* E4M3FN codes (one per lane, any code) decoded exactly. */
CK_INLINE vf32 v_e4m3_to_f32(vu32 codes) { return v_as_f32(v_fp8_to_bits(codes, &ck_fp8_specs[CK_FP8_E4M3FN])); }

/* E4M3FN codes of normal numbers, one in each lane's top byte (v_load_u8_top), decoded exactly: an arithmetic
 * shift and a mask move sign, exponent and mantissa into binary32's fields, and adding 120 to the exponent rebiases
 * them. */
CK_INLINE vf32 v_e4m3_normal_to_f32(vu32 top) {
    return v_as_f32(v_add(v_and(v_sra(top, 4), v_set(0x87F00000u)), v_set(120u << 23)));
}

/* CK_VW consecutive elements of type t from element i of p, decoded exactly to f32. */
CK_INLINE vf32 load_f32_of(const void *p, ck_dtype t, size_t i) {
    if (t == CK_DTYPE_E4M3FN) return v_e4m3_to_f32(v_load_u8((const uint8_t *)p + i));
    return v_as_f32(v_load_x(p, t, i));
}

/* Where load_block_t's prefetches go: nowhere, into L1, into L2. */
enum { PF_NONE, PF_L1, PF_L2 };

/* A CK_VW x CK_VW block of W(c, i) = element c*ldw + i of w (type t), decoded exactly and transposed: col[j] lane c =
 * W(c, l + j). BF16 and E4M3 come through v_load_u16_t / v_load_e4m3_t (transposed while still narrow); E4M3 blocks of
 * normal codes come decoded, the rare others take the full decode. (A short decode of subnormal codes would give
 * binary32 subnormals: exact with the default environment, but a microcode assist per product on x86, and zero with
 * denormals-are-zero set.) The loaders write col itself: with an integer array in between, clang turned its copy into
 * col into a memcpy call per block. With `prefetch` (PF_L1 or PF_L2), every 64 bytes along the rows, each row is
 * prefetched CK_DECODE_AHEAD elements ahead (a distance in elements rather than bytes keeps narrow types as far ahead
 * in time as FP32) into that level: the pack's into L1, the decode kernels' into L2 (see decode_nk_groups). A caller
 * that reads `len` of each row and then the CK_VW rows `next` rows on, and so on, gets the position that far on in
 * that order prefetched (ck_decode_ahead). That is 16 blocks on AVX-512 (8, 24 and 32 were no faster for E4M3). On
 * AVX2 it was 16 blocks of 8 until the distance became one for both (capped at AVX2 on Zen 4, a C driver, 64 of
 * V2-Lite's experts from DRAM, medians of seven to nine calls in turn with 128 elements ahead): E4M3 took 0.94 x the
 * time with one row (0.90 x on one thread), 0.89 x with two and 0.95 x with four, BF16 0.94 x and 0.99 x with one
 * and two, FP32 with one row and the pack with 24 rows the same time. */
CK_INLINE void load_block_t(const void *w, const ck_dtype t, size_t ldw, size_t l, size_t len, const int prefetch,
                            const size_t next, vf32 col[CK_VW]) {
    const size_t size = ck_dtype_size(t), ld = ldw * size;
    const uint8_t *p = (const uint8_t *)w + l * size;
    if (prefetch) ck_prefetch_ahead(w, size, ld, l, len, next, CK_VW, prefetch == PF_L2);
    switch (t) {
    case CK_DTYPE_F32:
        for (int c = 0; c < CK_VW; c++) col[c] = v_as_f32(v_load_f32(p + (size_t)c * ld));
        v_transpose(col);
        return;
    case CK_DTYPE_BF16: v_load_u16_t(p, ld, col); return;
    default:
        if (v_load_e4m3_t(p, ld, col)) /* unrolled, like v_load_e4m3_t's loops: a loop left here kept col on the stack */
#pragma unroll
            for (int j = 0; j < CK_VW; j++) col[j] = v_e4m3_to_f32(v_srl(v_as_u32(col[j]), 24));
    }
}

/* Rows l0 ..< kc of strip st of the packing below, element by element (0 past cols). */
CK_INLINE void pack_elements(const void *src, const ck_dtype t, size_t ls, size_t cs, size_t l0, size_t kc, int cols,
                             int st, float *dst) {
    const int nr = CK_GEMM_NR;
    for (size_t l = l0; l < kc; l++)
        for (int c = 0; c < nr; c++) {
            const int col = st * nr + c;
            dst[((size_t)st * kc + l) * nr + c] = col < cols ? ck_load_f32(src, t, l * ls + (size_t)col * cs) : 0.0f;
        }
}

/* The strips of B(l, c) = src[l*ls + c*cs] (l < kc, c < cols) decoded: strip s (columns s*nr ..< s*nr + nr,
 * 0 past cols) at dst + s*kc*nr as [kc][nr]. Rows are copied as vectors when cs == 1 (each
 * row across all strips at once, so every source row is read in one run), CK_VW x CK_VW blocks transposed
 * in registers when ls == 1 (load_block_t: CK_VW source rows at a time), element by element otherwise and in
 * ragged strips. */
CK_INLINE void pack_body(const void *src, const ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst,
                         bool prefetch) {
    const int nr = CK_GEMM_NR, nv = CK_GEMM_V, full = cols / nr;
    if (cs == 1)
        for (size_t l = 0; l < kc; l++)
            for (int st = 0; st < full; st++)
#pragma unroll
                for (int v = 0; v < nv; v++)
                    v_store_u32(dst + ((size_t)st * kc + l) * nr + v * CK_VW,
                                v_as_u32(load_f32_of(src, t, l * ls + (size_t)(st * nr + v * CK_VW))));
    else if (ls == 1) {
        const size_t blocks = kc / CK_VW * CK_VW;
        for (int st = 0; st < full; st++) {
            for (int v = 0; v < nv; v++) /* CK_VW source rows (streams) at a time, each read along l */
                for (size_t l = 0; l < blocks; l += CK_VW) {
                    vf32 r[CK_VW];
                    const uint8_t *rows = (const uint8_t *)src + (size_t)(st * nr + v * CK_VW) * cs * ck_dtype_size(t);
                    load_block_t(rows, t, cs, l, kc, prefetch ? PF_L1 : PF_NONE, CK_VW, r);
                    for (int i = 0; i < CK_VW; i++)
                        v_store_u32(dst + ((size_t)st * kc + l + (size_t)i) * nr + v * CK_VW, v_as_u32(r[i]));
                }
            pack_elements(src, t, ls, cs, blocks, kc, cols, st, dst);
        }
    }
    for (int st = cs == 1 || ls == 1 ? full : 0; st * nr < cols; st++) pack_elements(src, t, ls, cs, 0, kc, cols, st, dst);
}

static void CK_SIMD(gemm_pack)(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst,
                               bool prefetch) {
    switch (t) {
    case CK_DTYPE_F32: pack_body(src, CK_DTYPE_F32, ls, cs, kc, cols, dst, prefetch); break;
    case CK_DTYPE_BF16: pack_body(src, CK_DTYPE_BF16, ls, cs, kc, cols, dst, prefetch); break;
    default: pack_body(src, CK_DTYPE_E4M3FN, ls, cs, kc, cols, dst, prefetch); break;
    }
}

/* n (<= CK_VW) elements of type t at element i + c*stride of p, c < n, decoded exactly, +0 in the lanes past n:
 * the decode kernels' ragged columns, one element at a time. */
CK_INLINE vf32 load_f32_part(const void *p, ck_dtype t, size_t i, size_t stride, int n) {
    float v[CK_VW];
    for (int c = 0; c < CK_VW; c++) v[c] = c < n ? ck_load_f32(p, t, i + (size_t)c * stride) : 0.0f;
    return v_as_f32(v_load_u32(v));
}

/* A scaled block's partial sums folded into the decode outputs (see ck_gemm_kernels.decode_nk): acc[r] =
 * fma(acc[r] * sa(r, b), sbv, b ? out[r*ld] : +0). */
CK_INLINE void fold_block(vf32 *acc, const float *out, size_t ld, const float *sa, size_t sa_rs, size_t b,
                          vf32 sbv, const int m) {
#pragma unroll
    for (int r = 0; r < m; r++) {
        const vf32 old = b ? v_as_f32(v_load_u32(out + (size_t)r * ld)) : v_setf(0.0f);
        acc[r] = v_fmaf(v_mulf(acc[r], v_setf(sa ? sa[(size_t)r * sa_rs + b] : 1.0f)), sbv, old);
    }
}

/* The chains a[r] of m rows stored into out[r*ld], of scale block b folded in first (sb != NULL, fold_block). */
CK_INLINE void nk_store(vf32 *a, float *out, size_t ld, const float *sa, size_t sa_rs, const float *sb, size_t sb_ls,
                        size_t b, const int m) {
    if (sb) fold_block(a, out, ld, sa, sa_rs, b, v_setf(sb[b * sb_ls]), m);
#pragma unroll
    for (int r = 0; r < m; r++) v_store_u32(out + (size_t)r * ld, v_as_u32(a[r]));
}

/* One step of the chains a[r] of m rows (m <= NK_REG_M, a constant) against n columns of W that lie at l:
 * col[j] lane c = W(c, l + j), x(r, l + j) = xb[r*CK_DECODE_XB + j] (decode_nk's blocked x, so every row's
 * value is a constant offset from one pointer). */
CK_INLINE void nk_fma(vf32 *a, const vf32 *col, const int n, const float *xb, const int m) {
#pragma unroll
    for (int j = 0; j < n; j++)
#pragma unroll
        for (int r = 0; r < m; r++) a[r] = v_fmaf(v_setf(xb[r * CK_DECODE_XB + j]), col[j], a[r]);
}

/* The same with the chains in acc[r*ld] between steps. */
CK_INLINE void nk_step(float *acc, size_t ld, const vf32 *col, const int n, const float *xb, const int m) {
    vf32 a[CK_DECODE_M];
#pragma unroll
    for (int r = 0; r < m; r++) a[r] = v_as_f32(v_load_u32(acc + r * ld));
    nk_fma(a, col, n, xb, m);
#pragma unroll
    for (int r = 0; r < m; r++) v_store_u32(acc + r * ld, v_as_u32(a[r]));
}

/* CASE(X, R) for each row count R = 1 ... CK_DECODE_M, as the cases of a switch on a runtime count: each case
 * calls a body whose row count is a constant. */
#define CK_ROW_CASES(CASE, X) CASE(X, 1) CASE(X, 2) CASE(X, 3) CASE(X, 4) CASE(X, 5) CASE(X, 6) CASE(X, 7) CASE(X, 8)
_Static_assert(CK_DECODE_M == 8, "one case per row count");
/* The most rows decode_nk keeps in registers (m): AVX-512's 32 registers hold a transposed block of 16 and 16 chains
 * (64 of V2-Lite's experts on two threads, in turn with the kernel that ran 9 to 12 rows 8 at a time with the chains
 * in memory: 0.85-0.97 x the time with 9 to 12 rows of FP32, BF16 and E4M3 weights; E4M3's decode then spills a few
 * registers and gained all the same, 0.88 x with 12 rows); AVX2's 16 hold a block of 8 and 8 chains.
 * NK_ROWS: the most rows the driver gives decode_nk (ck_gemm_kernels.decode_nk_rows). On AVX-512, 16: with 13, 14
 * and 16 rows (Zen 4, 64 of V2-Lite's experts with the same rows each, two threads, weights from DRAM, the benchmark's
 * T = 256 case with its routing replaced, builds in turn) it took 0.74-0.83 x the time of the transposed tiles with
 * FP32 weights, and with 13 and 16 rows 0.77-0.88 x that of the packing tiles with BF16, E4M3 and FP8 x FP8, so the
 * AVX-512 table has no transposed tiles. (On an Ice Lake, with 13 to 16 rows 8 at a time and the chains in memory,
 * the packing tiles had taken 1.00-1.01 x its time with FP32 weights and 0.83-0.97 x with BF16 and E4M3.) On AVX2,
 * 12: with 13 and 16 rows the chains in memory took 1.11-1.30 x the time of the transposed and packing tiles (capped
 * at AVX2). */
#if CK_VW == 16
#define NK_REG_M CK_DECODE_NK_M
#define NK_ROWS CK_DECODE_NK_M
#define CK_NK_WIDE_CASES(CASE, X)                                                                              \
    CASE(X, 9) CASE(X, 10) CASE(X, 11) CASE(X, 12) CASE(X, 13) CASE(X, 14) CASE(X, 15) CASE(X, 16)
#define CK_NK_MORE_ROWS(T) /* none: every row count has its case */
_Static_assert(CK_DECODE_NK_M == 16, "one case per row count");
#else
#define NK_REG_M CK_DECODE_M
#define NK_ROWS 12
#define CK_NK_WIDE_CASES(CASE, X)
#define CK_NK_MORE_ROWS(T) decode_nk_body(kc, w, T, ldw, cols, next, x, ldx, rows, out, sa, sa_rs, sb, sb_ls, 0);
#endif

/* nk_step for every row, CK_DECODE_M at a time: the weights in col are decoded once for all of them. */
CK_INLINE void nk_rows(float *acc, size_t ld, const vf32 *col, const int n, const float *xb, int rows) {
    int g = 0;
    for (; g + CK_DECODE_M <= rows; g += CK_DECODE_M)
        nk_step(acc + g * ld, ld, col, n, xb + g * CK_DECODE_XB, CK_DECODE_M);
    float *ag = acc + g * ld;
    const float *xg = xb + g * CK_DECODE_XB;
#define REST(X, R) case R: nk_step(ag, ld, col, n, xg, R); break;
    switch (rows - g) { CK_ROW_CASES(REST, _) }
#undef REST
}

/* `rows` rows of x against `cols` (<= ng * CK_VW) weight rows W(c, l) = w[c*ldw + l] over the whole reduction (see
 * ck_gemm_kernels.decode_nk), in ng groups of CK_VW (ng > 1: full groups, m > 0) whose blocks take turns along l,
 * each group with its own chains (or, see decode_nk_body, one group's chains of two scale blocks in turn); out's rows
 * are CK_DECODE_NK_W apart. CK_VW x CK_VW blocks of W are transposed in registers, so each lane is one output column
 * and its chain runs along l as in the tiles; each weight element is read once, straight from memory (load_block_t,
 * as in the pack), and serves every row. m = rows (a constant up to NK_REG_M): the chains stay in registers for the
 * whole reduction; m = 0 (more rows, on AVX2): each block's turn over the rows, CK_DECODE_M at a time, carries them
 * in acc. Software prefetches (with the next CK_VW rows' starts past the end) are kept where they pay:
 * for E4M3 weights, whose rows reach a new line only every 64 / CK_VW blocks (weight-only FP8 at V2-Lite's T = 256,
 * weights streamed from DRAM, timed call by call in alternation with the kernel without them in one process:
 * 0.90-0.95 x its time with two threads, 0.92 x with one; FP8 x FP8 takes the same path), and for FP32 and BF16
 * only with one or two rows, where the kernel does little but stream. From three rows on, the prefetches (16 per
 * block for FP32) cost more than the hardware prefetchers leave to gain: V3's FP32 decode at T = 16 (about six
 * rows per expert) took 0.91-0.94 x the time without them with two threads and 0.95 x with one (V2-Lite's, 1.5
 * rows per expert: 0.97-0.99 x; V3's BF16: 0.97-0.98 x), and V2-Lite's FP32 forward at T = 256 (m = 0) 0.96-0.98 x
 * (BF16 0.94-0.99 x). They go into L2 (PF_L2), as do decode_kn_body's and the dot kernels' decode's: on Zen 4 (64 of
 * V2-Lite's experts, the same rows each, weights from DRAM in 2 MiB pages, two threads, a C driver, medians of five
 * calls in turn with the same prefetches into L1) E4M3 weights took 0.76-0.79 x the time with one, two and four rows
 * (0.89 x with eight), BF16 0.91 and 0.97 x with one and two rows, FP32 0.86 and 0.90 x, [K, N] FP32 weights 0.98 and
 * 0.90 x, packed FP32 weights 0.78 and 0.81 x, under dot products E4M3 0.77 x and BF16 0.90 x with one row; top-6
 * routing of 16 tokens 0.91 x, of 256 tokens the same time. (The prefetches had gone into L1 since a measurement on a
 * Xeon, early on, found that faster for E4M3; not measured there again.) Capped at AVX2 (the same driver, medians of
 * five to nine calls in turn, one and two rows) E4M3 took 0.88-1.04 x the time, BF16 0.87-0.92 x, FP32 0.83-0.92 x
 * and packed FP32 0.85 x with one row.
 * On AVX-512, E4M3 weights prefetch the rows of the driver's next call instead, when it has one (ck_prefetch_next:
 * those 16 rows front to back, spread over this call, so they come in as one stream): on Zen 4 (the benchmark, two
 * threads, builds in turn, two sets of runs) weight-only FP8 at T = 16 took 0.89 and 0.93 x the time on V2-Lite's
 * experts (medians of 7.41 and 7.1 ms against 8.34 and 7.6) and 0.88 and 0.90 x on V3's (15.07 and 14.99 ms against
 * 17.15 and 16.63). BF16 rows prefetched that way took the same time (medians of 12.5 and 12.4 ms), so BF16 and FP32
 * keep the prefetch above.
 * For up to 12 rows (CK_DECODE_NK_M) this beats or ties packing, because the weights stream in while the FMAs run
 * instead of in a pass of their own. Since the packed path's tiles prefetch the next span, on an Ice Lake with 64 of
 * V2-Lite's experts on two threads (medians of three calls, in turn), the packed path took 1.14 and 1.10 x this
 * kernel's time on FP32 with 9 and 10 rows and 0.97 x with 12, 0.97-1.05 x on BF16 and E4M3 with 9 to 12 rows, and
 * with 13 to 16 rows 1.00-1.01 x on FP32, 0.89-0.94 x on BF16 and 0.83-0.97 x on E4M3: hence 12 (it had been 16).
 * Before that, on an Emerald Rapids, whole calls on 16 of V2-Lite's FP32 experts, one thread, took
 * 0.7-0.8 x the time of the pack and tiles with 9 to 17 rows per expert (the best of six runs each). Past that the
 * tiles' FMA rate wins: there it took 0.9-0.97 x with 24 to 56 rows, but on an Ice Lake (1.25 MiB of L2), with 64
 * of V2-Lite's experts streamed from DRAM on two threads, the packed path took 0.89 x (FP32), 0.87 x (BF16) and
 * 0.68 x (E4M3) this kernel's time with 20 rows and 0.73-0.85 x (FP32) with 32 to 64, while with 9 to 16 rows this
 * kernel took 0.86-0.96 x the packed time on FP32, 0.90-1.02 x on BF16 (E4M3: 1.23-1.32 x). With the limit at 16
 * instead of 64, the benchmark's V2-Lite forward at T = 256 (about 24 rows per expert) ran there in 0.78-0.80 x the
 * time with BF16 weights and 0.63-0.69 x with E4M3 ones (FP8 x FP8 and weight-only). Scaled problems run their
 * 128-long blocks here too (a call per block cost about a sixth of the FP8 decode), with the blocks' partial sums
 * (for m = 0 in the scratch half of out) folded into the outputs.
 * With a few dozen rows (measured while the limit was 64) what holds this kernel back is its FMA rate, not the bytes:
 * timed in alternation with gemm_tile in a C driver (one thread, FP32, 128 of V2-Lite's weight rows in L2), it ran at
 * 0.53 x the tile's rate with 24 rows and 0.59 x with 48 (m = 8: 0.41); with two threads and 24 rows per expert, whole
 * calls on 8 of V2-Lite's experts (92 MB of weights) ran at the same GFLOP/s as on all 64 (738 MB, from DRAM). In a
 * driver that re-created this loop (0.56 x), transposing each block one ahead into L1 (0.60 x) or a 128-long chunk
 * first and then its FMAs (0.61 x) gained little; walking 128 columns chunk by chunk, so that x's chunk stays in L1,
 * was slower with the weights in L2 (0.47 x against 0.51) and took twice the time with them in DRAM. The problem turned
 * around, x's rows in the lanes and each weight broadcast to them (no transposes; 12 weight rows x 32 rows of x per
 * tile, each chain in a register for the whole reduction; BF16 and E4M3 weights decoded into a stack buffer a 128-long
 * block at a time), did not land either: with the weights in L2 and one thread it ran 1.30-1.35 x as fast as this path
 * with 32 to 64 rows (1.05 x with 24, 0.92 x with 12), but whole calls at T = 256 (two threads, weights from DRAM) only
 * 1.04 x on V2-Lite's and V3's FP32 experts, 0.92-0.96 x on BF16 and 0.78-0.85 x on E4M3 ones. In a standalone driver
 * its FMA rate with the weights streaming from DRAM fell from 0.8 of the probe with one core to 0.56-0.61 with both
 * cores streaming; and with 24 rows a quarter of its lanes are padding. */
CK_INLINE void decode_nk_groups(size_t kc, const void *w, const ck_dtype t, size_t ldw, int cols, int next,
                                const float *x, size_t ldx, int rows, float *out, const float *sa, size_t sa_rs,
                                const float *sb, size_t sb_ls, const int m, const int ng) {
    const size_t span = sb ? CK_SCALE_BLOCK : kc, ld = CK_DECODE_NK_W, size = ck_dtype_size(t), gw = CK_VW * ldw * size;
    float *acc = sb ? out + CK_DECODE_NK_M * ld : out; /* m = 0: the chains between blocks */
    const bool to_next = t == CK_DTYPE_E4M3FN && next > 0; /* the next call's rows (ck_prefetch_next) */
    const int prefetch = to_next ? PF_NONE : t == CK_DTYPE_E4M3FN || (m != 0 && m <= 2) ? PF_L2 : PF_NONE;
    /* one group's chains of two scale blocks in turn (see decode_nk_body) */
    const bool pairs = sb && m != 0 && m <= NK_PAIR_M && ng == 1 && cols == CK_VW;
    for (size_t l0 = 0; l0 < kc; l0 += span) {
        /* (inside the block loop: as a loop of its own before it, the same vector instructions took 1.15 x the time
         * in L1 with one row on Zen 4) */
        if (pairs && kc - l0 >= 2 * span) {
            vf32 a[2][NK_PAIR_M];
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int r = 0; r < m; r++) a[h][r] = v_setf(0.0f);
            for (size_t l = l0; l < l0 + span; l += CK_VW)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    vf32 col[CK_VW];
                    if (to_next) ck_prefetch_next(w, size, ldw * size, l + h * span, CK_VW, kc, ld, next);
                    load_block_t(w, t, ldw, l + h * span, kc, prefetch, CK_VW, col);
                    nk_fma(a[h], col, CK_VW, x + ck_decode_x_index(0, l + h * span, ldx), m);
                }
#pragma unroll
            for (int h = 0; h < 2; h++) nk_store(a[h], out, ld, sa, sa_rs, sb, sb_ls, l0 / CK_SCALE_BLOCK + h, m);
            l0 += span;
            continue;
        }
        const size_t end = kc - l0 < span ? kc : l0 + span;
        vf32 a[NK_GROUPS][NK_REG_M];
#pragma unroll
        for (int g = 0; g < ng; g++)
#pragma unroll
            for (int r = 0; r < m; r++) a[g][r] = v_setf(0.0f);
        if (!m) /* the chains from +0 */
            for (int r = 0; r < rows; r++) v_store_u32(acc + r * ld, v_as_u32(v_setf(0.0f)));
        size_t l = l0;
        if (NK_STAGED && ng > 1) /* staged (see decode_nk_body): a block of x's columns at a time, its weights */
            for (; l + CK_DECODE_XB <= end; l += CK_DECODE_XB) { /* decoded into buf, then the FMAs */
                float buf[CK_DECODE_XB][CK_DECODE_NK_W]; /* buf[j][g*CK_VW + c] = W(g*CK_VW + c, l + j) */
#pragma unroll
                for (int b = 0; b < CK_DECODE_XB; b += CK_VW)
#pragma unroll
                    for (int g = 0; g < ng; g++) {
                        vf32 col[CK_VW];
                        load_block_t((const uint8_t *)w + g * gw, t, ldw, l + b, kc, prefetch, (size_t)(ng * CK_VW),
                                     col);
#pragma unroll
                        for (int j = 0; j < CK_VW; j++) v_store_u32(&buf[b + j][g * CK_VW], v_as_u32(col[j]));
                    }
                const float *xb = x + ck_decode_x_index(0, l, ldx);
#pragma unroll
                for (int j = 0; j < CK_DECODE_XB; j++)
#pragma unroll
                    for (int g = 0; g < ng; g++) {
                        const vf32 wv = v_as_f32(v_load_u32(&buf[j][g * CK_VW]));
                        nk_fma(a[g], &wv, 1, xb + j, m);
                    }
            }
        if (cols == ng * CK_VW)
            for (; l + CK_VW <= end; l += CK_VW) {
                const float *xb = x + ck_decode_x_index(0, l, ldx);
                if (to_next) ck_prefetch_next(w, size, ldw * size, l, CK_VW, kc, ld, next);
#pragma unroll
                for (int g = 0; g < ng; g++) {
                    vf32 col[CK_VW]; /* col[j] lane c = W(g*CK_VW + c, l + j) */
                    load_block_t((const uint8_t *)w + g * gw, t, ldw, l, kc, prefetch, (size_t)(ng * CK_VW), col);
                    if (m) nk_fma(a[g], col, CK_VW, xb, m);
                    else nk_rows(acc, ld, col, CK_VW, xb, rows);
                }
            }
        for (; l < end; l++) { /* ragged columns and the tail: one column of W at a time */
            const float *xb = x + ck_decode_x_index(0, l, ldx);
#pragma unroll
            for (int g = 0; g < ng; g++) {
                const vf32 wv = load_f32_part((const uint8_t *)w + g * gw, t, l, ldw, cols - g * CK_VW);
                if (m) nk_fma(a[g], &wv, 1, xb, m);
                else nk_rows(acc, ld, &wv, 1, xb, rows);
            }
        }
        const size_t b = l0 / CK_SCALE_BLOCK;
        if (m)
#pragma unroll
            for (int g = 0; g < ng; g++) nk_store(a[g], out + g * CK_VW, ld, sa, sa_rs, sb, sb_ls, b, m);
        else if (sb)
            for (int r = 0; r < rows; r++) {
                vf32 p = v_as_f32(v_load_u32(acc + r * ld));
                fold_block(&p, out + r * ld, ld, sa ? sa + (size_t)r * sa_rs : NULL, 0, b, v_setf(sb[b * sb_ls]), 1);
                v_store_u32(out + r * ld, v_as_u32(p));
            }
    }
}

/* A call's up to CK_DECODE_NK_W columns, NK_GROUPS groups of CK_VW: 16 weight rows read at a time on either ISA. With
 * one or two rows of x, a group's chains alone wait on the FMA latency: a block is CK_VW dependent FMAs per chain, and
 * AVX2's blocks of 8 carry so little decode work that with one row BF16, E4M3 and FP32 weights all ran at about 2.2
 * weights per cycle in L1 (a C driver, one thread). There the two groups' blocks take turns, so two sets of chains
 * are in flight: whole calls (64 of V2-Lite's experts, one or two rows each, two threads, --isa avx2 against the
 * kernel that ran the groups one after the other) took 0.78-0.79 x the time with BF16 weights and one row, 0.96-0.98 x
 * with two, E4M3 0.85-0.88 x and 0.90-0.95 x. FP32 weights, already streaming at the read bandwidth, took up to
 * 1.19 x, so they keep one group at a time, as do more rows and ragged calls. On AVX-512 (one group of 16) a second
 * group slowed every type, in L1 too: 32 weight rows a power of two apart crowd a few L1 sets. With the second group a
 * line behind (no crowding) E4M3 with one row took 62-68 cycles a block in L1 against one group's 66 (a C driver, one
 * thread, an Ice Lake): the block's decode takes as long as its chain, keeping port 5 busy 48 cycles (llvm-mca).
 * That and how the rows stream hold weight-only FP8 decode at about 1.2 x BF16 decode's speed instead of 2 x. A GFNI
 * decode (vgf2p8affineqb forms binary32's top two bytes of 64 codes at a time: 38 cycles a block without the FMAs)
 * with two groups took 45 cycles a block in L1, but with E4M3 rows from DRAM (two threads, 1 GiB, G weights/s) 15.7
 * against this kernel's 19.9. V2-Lite's E4M3 rows are 2 KiB, two to a 4 KiB page, where the L2 streamer follows one
 * stream: reading rows 4 KiB apart (even rows, then odd) took plain reads of 16 rows from 22.7 to 33.6 GB/s, but this
 * kernel from 19.9 to 18.1 and the GFNI pair only to 21.5; whole calls with this kernel reading that way were slower.
 * On AVX2 (NK_STAGED) the pair runs staged: a block of x's columns (16) at a time, its two groups' blocks decoded into
 * a 1 KiB buffer, then the FMAs from it, so the decode and the chains no longer compete for 16 registers. On a Zen 3
 * (64 of V2-Lite's experts, two threads, call by call in alternation with the fused loop in one process) whole calls
 * took 0.96 x (E4M3) and 0.92 x (BF16) the time with one row, 0.81 x and 0.86 x with two; staged pairs of three rows
 * took 0.87 x with E4M3 but 1.15 x with BF16, and four rows 0.98 x and 1.06 x, so the pair stays at two rows.
 * With scaled weights (E4M3 and its 128 x 128 scales), one or two rows and one full group (AVX-512's calls, AVX2's
 * groups of a ragged call), two scale blocks' chains take turns instead: each block's chain starts from +0 and is
 * folded into out in block order as before, so no sum changes, and the second block's chains are in flight while the
 * first's wait on the FMA latency. On Zen 4 (a C driver, one thread, K = 2048, 32 weight rows in L1 and L2) E4M3 with
 * one row took 18.2 ns a block against 22.6 (0.80 x), with two rows 20.1 against 23.3 (0.86 x); with 64 of V2-Lite's
 * experts from DRAM one thread took 0.90 x the time with one row, two threads 0.85-1.06 x over four runs (median
 * about 0.98 x: there the reads hold it back). With the pairs, the decode's instructions count: AVX512_VBMI's table
 * decode (v_load_e4m3_t, the avx512vbmi level against avx512, in one process) took 0.87 x the time in L1 with one row,
 * 0.92 x with two and 0.86 x with four, and from DRAM (64 experts, two threads) 0.89-0.96 x with one row and 0.95 x
 * with two, 12 and 24 rows (the pack) the same time within the noise. A rebias by OR into weights scaled by 2^-8
 * against x scaled by 2^8 (as in the strips kernel; one ternary-logic instruction instead of a mask and an add) took
 * 0.88 x in L1 before the pairs but 0.98-1.01 x from DRAM, and would need a scaled copy of x per call. */
CK_INLINE void decode_nk_body(size_t kc, const void *w, const ck_dtype t, size_t ldw, int cols, int next,
                              const float *x, size_t ldx, int rows, float *out, const float *sa, size_t sa_rs,
                              const float *sb, size_t sb_ls, const int m) {
    if (NK_GROUPS > 1 && t != CK_DTYPE_F32 && m != 0 && m <= NK_PAIR_M && cols == CK_DECODE_NK_W) {
        decode_nk_groups(kc, w, t, ldw, cols, 0, x, ldx, rows, out, sa, sa_rs, sb, sb_ls, m, NK_GROUPS);
        return;
    }
    for (int g = 0; g * CK_VW < cols; g++) /* AVX-512's one group takes next (AVX2 was not measured with it) */
        decode_nk_groups(kc, (const uint8_t *)w + (size_t)g * CK_VW * ldw * ck_dtype_size(t), t, ldw,
                         cols - g * CK_VW < CK_VW ? cols - g * CK_VW : CK_VW, NK_GROUPS == 1 ? next : 0, x, ldx, rows,
                         out + g * CK_VW, sa, sa_rs, sb, sb_ls, m, 1);
}

/* A pass of decode_kn_body: rows [l1, l2) of the 128-long block (or reduction) [l0, end). */
typedef struct {
    const float *x;
    size_t ldx;
    float *out;
    const float *sa;
    size_t sa_rs;
    const float *sb;
    size_t sb_ls, sb_js, l0, l1, l2, end;
} kn_pass;

/* The pass's chains of nv vectors of columns from c0 (n valid lanes when nv is 1) whose weights start at wc: normal:
 * E4M3 codes known to be normal. Each FMA reads its x itself (v_fmaf_at): with one broadcast per row and step, V3's
 * [K, N] FP32 experts at T = 16 took 1.27 x the time (the benchmark, two threads, Zen 4, builds in turn: 30.7-30.9 ms
 * against 24.0-24.3). */
CK_INLINE void kn_chains(const kn_pass *ps, const void *wc, const ck_dtype t, size_t ldw, int c0, int n, bool normal,
                         const int m, const int nv) {
    const size_t size = ck_dtype_size(t);
    float *part = ps->out + CK_DECODE_M * CK_DECODE_KN_W; /* the scratch half of out: the chains between passes */
    float *dst = ps->l2 < ps->end ? part : ps->out;       /* the block's last pass stores the outputs */
    vf32 acc[2][CK_DECODE_M];
#pragma unroll
    for (int v = 0; v < nv; v++)
#pragma unroll
        for (int r = 0; r < m; r++)
            acc[v][r] = ps->l1 == ps->l0 ? v_setf(0.0f)
                                         : v_as_f32(v_load_u32(part + r * CK_DECODE_KN_W + c0 + v * CK_VW));
    for (size_t l = ps->l1; l < ps->l2; l++) {
        vf32 wv[2];
#pragma unroll
        for (int v = 0; v < nv; v++) {
            const uint8_t *wp = (const uint8_t *)wc + (size_t)v * CK_VW * size;
            if (normal) wv[v] = v_e4m3_normal_to_f32(v_load_u8_top(wp + l * ldw));
            else if (n == CK_VW) wv[v] = load_f32_of(wp, t, l * ldw);
            else wv[v] = load_f32_part(wp, t, l * ldw, 1, n); /* a ragged last strip */
        }
#pragma unroll
        for (int r = 0; r < m; r++) {
#pragma unroll
            for (int v = 0; v < nv; v++) acc[v][r] = v_fmaf_at(&ps->x[r * ps->ldx + l], wv[v], acc[v][r]);
        }
    }
#pragma unroll
    for (int v = 0; v < nv; v++) {
        const int c = c0 + v * CK_VW;
        if (ps->l2 == ps->end && ps->sb) {
            const size_t b = ps->l0 / CK_SCALE_BLOCK;
            fold_block(acc[v], ps->out + c, CK_DECODE_KN_W, ps->sa, ps->sa_rs, b,
                       v_setf(ps->sb[b * ps->sb_ls + (size_t)(c / CK_SCALE_BLOCK) * ps->sb_js]), m);
        }
#pragma unroll
        for (int r = 0; r < m; r++) v_store_u32(dst + r * CK_DECODE_KN_W + c, v_as_u32(acc[v][r]));
    }
}

/* m rows of x against `cols` (<= CK_DECODE_KN_W) columns of [K, N] weights in strips of CK_PACKED_COLUMNS columns
 * ss elements apart, W(c, l) = w[(c / CK_PACKED_COLUMNS)*ss + l*ldw + c % CK_PACKED_COLUMNS] (unpacked: ss =
 * CK_PACKED_COLUMNS, W(c, l) = w[l*ldw + c]), over the whole reduction (see ck_gemm_kernels.decode_kn). Each lane
 * is already one output column, so the weights go from memory straight into the chains: a pass takes KN_ROWS rows,
 * two vectors of columns at a time (kn_chains; one at a ragged end) across all of cols, and carries the chains to the
 * next pass in part (a 128-long block's partial sums when scaled).
 * Reading whole rows (up to 2048 columns) lets the hardware prefetchers stream them: in a C driver, calls of 128
 * columns (runs of 512 bytes, 8 KiB apart) streamed V3's FP32 experts at about 60 % of this speed. Each 64
 * bytes of a pass's columns also prefetch the same bytes of the next pass's rows into L2 (see decode_nk_groups),
 * spread out over the pass
 * (prefetching whole rows at the start of a pass was slower than none), and E4M3 strips whose 64 columns hold
 * only normal codes in the pass decode in four integer instructions (now a byte shuffle and three): with one thread
 * the two took E4M3 from 3.3 to 5.3 G weights/s (FP32, the prefetch only: 10.8 to 12.8 GB/s). Packed weights'
 * strips (rows of CK_PACKED_COLUMNS) that the strips kernel leaves here (FP32, and BF16 and E4M3 past one row on AVX2
 * and past 6 on AVX-512) take passes of KN_STRIP_BYTES of each strip instead (4 rows of FP32, 8 of BF16, 16 of E4M3):
 * on V2-Lite's experts (one row of x, two threads, weights from DRAM, calls of 8 strips, medians of five calls in
 * turn with the [N, K] kernel), FP32 took 1.14 x that kernel's time with passes of 8 rows and 1.05 x with 4; E4M3
 * 1.01-1.20 x with 8 and 1.03-1.05 x with 16, but 1.27 x with 4; BF16 0.96-0.98 x with 8.
 * Two vectors at a time rather than one put twice the chains in flight: one vector's m chains, 16 rows long in an E4M3
 * pass, waited on the FMA latency. 64 of V2-Lite's experts with the same rows each, two threads, weights from DRAM,
 * packed (medians of five calls, in turn with one vector at a time): on AVX2 BF16 took 0.68-0.84 x the time with 2
 * to 4 rows (0.97 x with one, which the strips kernel takes), E4M3 0.53-0.96 x with 3, 4 and 6, FP32 0.80-0.93 x
 * with 1, 2 and 4, all three 0.58-0.82 x with 5, and with 7 and 8 (whose pairs of chains overflow AVX2's 16
 * registers) no slower within the noise; on AVX-512 FP32 0.83-1.01 x with 1 to 8 rows, and 16 of V3's [K, N] experts
 * took the same time or less within the noise. With these passes, 7 and 8 rows of BF16 and E4M3 strips on AVX-512 took
 * 0.82-0.96 x the time of the strips kernel's taking each strip against 6 rows and then again against the rest
 * (decoding it twice), and 0.87-1.03 x that of its taking each strip in halves of 32 columns against all the rows; on
 * AVX2, E4M3 with two rows 0.90 x the halves' time (and in L2, one thread, 1.08 x their rate). */
enum { KN_ROWS = 8, KN_STRIP_BYTES = 1024 };
_Static_assert(KN_STRIP_BYTES % (CK_PACKED_COLUMNS * 4) == 0, "a pass over a strip is whole rows of every type");
_Static_assert(CK_PACKED_COLUMNS % (2 * CK_VW) == 0, "a pair of vectors lies within one strip");

CK_INLINE void decode_kn_body(size_t kc, const void *w, const ck_dtype t, size_t ldw, size_t ss, int cols,
                              const float *x, size_t ldx, float *out, const float *sa, size_t sa_rs, const float *sb,
                              size_t sb_ls, size_t sb_js, const int m) {
    const size_t span = sb ? CK_SCALE_BLOCK : kc, size = ck_dtype_size(t);
    const size_t kr = ldw == CK_PACKED_COLUMNS ? KN_STRIP_BYTES / (CK_PACKED_COLUMNS * size) : KN_ROWS; /* per pass */
    kn_pass ps = {x, ldx, out, sa, sa_rs, sb, sb_ls, sb_js, 0, 0, 0, 0};
    for (ps.l0 = 0; ps.l0 < kc; ps.l0 += span) {
        ps.end = kc - ps.l0 < span ? kc : ps.l0 + span;
        for (ps.l1 = ps.l0; ps.l1 < ps.end; ps.l1 += kr) {
            ps.l2 = ps.end - ps.l1 < kr ? ps.end : ps.l1 + kr;
            bool normal = false; /* E4M3: the pass's codes in this strip's 64 columns are all normal */
            for (int c0 = 0, nv; c0 < cols; c0 += nv * CK_VW) {
                nv = c0 % (2 * CK_VW) == 0 && c0 + 2 * CK_VW <= cols ? 2 : 1; /* pairs: twice the chains in flight */
                const int n = cols - c0 < CK_VW ? cols - c0 : CK_VW;
                const size_t at = (size_t)c0 / CK_PACKED_COLUMNS * ss + (size_t)c0 % CK_PACKED_COLUMNS;
                const void *wc = (const uint8_t *)w + at * size; /* W(c0, 0) */
                for (size_t b = 0; b < (size_t)nv * CK_VW * size; b += CK_VW * size)
                    if (((size_t)c0 * size + b) % 64 == 0) /* these 64 bytes of the next pass's rows (possibly past
                                                             the weights) */
                        for (size_t l = ps.l2; l < ps.l2 + kr; l++)
                            __builtin_prefetch((const void *)((uintptr_t)wc + b + l * ldw * size), 0, 2);
                if (t == CK_DTYPE_E4M3FN && c0 % 64 == 0)
                    normal = c0 + 64 <= cols && v_e4m3_normal64((const uint8_t *)wc + ps.l1 * ldw, ldw, ps.l2 - ps.l1);
                if (nv == 2) kn_chains(&ps, wc, t, ldw, c0, n, normal, m, 2);
                else kn_chains(&ps, wc, t, ldw, c0, n, normal, m, 1);
            }
        }
    }
}

/* BF16 and E4M3 packed weights' strips (ldw == CK_PACKED_COLUMNS, see decode_kn_body) against few rows: each
 * strip's rows lie back to back, so a strip is read front to back as one stream, ns of them side by side, and every
 * chain stays in a register for the whole reduction (or the 128-long block, when scaled): nothing but the weights
 * moves. ns = group_strips(t, m), as many strips as STRIP_ACC accumulators hold, up to STRIP_NS; 0 leaves the rows to
 * decode_kn_body's passes (FP32, and more rows than a strip's chains hold: past 6 on AVX-512, past one on AVX2; see
 * there for the ways of taking those here that lost to the passes). Each strip's row STRIP_AHEAD rows on is
 * prefetched into L1 as a row is read. E4M3 groups of whole strips decode a strip row at a time (v_e4m3_row64, on
 * AVX-512 two and a half instructions per 16 codes): exact for normal codes only, scaled by 2^-8 against x scaled by
 * 2^8 (x_scaled: exact for x below 2^120 in magnitude, else, or for a NaN x, the chunk takes the exact decode), into
 * a row order of the columns that the chains keep until they are stored. Each STRIP_CHECK rows are checked for NaN,
 * zero and subnormal codes first; a chunk holding one goes row by row, and its rows holding one take the exact
 * decode, permuted to match. (The benchmark's bell-shaped weights, quantized in 128 x 128 blocks, hold a zero or
 * subnormal code in 8e-5 of their weights: 28 % of four strips' 16-row chunks hold one, 2 % of their rows.) A ragged
 * last strip is read lane by lane.
 * Measured (C drivers, medians of seven calls or more, runs in turn): on 64 of V2-Lite's experts with the same rows
 * each, two threads, weights from DRAM, E4M3 took 0.47-0.57 x the passes' time with one row, 0.67-0.71 x with two,
 * 0.44-0.78 x with three and 0.64-0.88 x with six; BF16 0.71-0.93 x, 0.81-0.93 x, 0.74-0.84 x and 0.63-0.88 x; FP32
 * 1.03-1.08 x with one row and 1.2 x with three, so FP32 keeps the passes. On AVX2 (capped there, one row) E4M3 took
 * 0.46-0.50 x and BF16 0.59-0.65 x. One thread, E4M3 weights in L2, best of rounds: one, two and three rows 21.7,
 * 17.0 and 12.3 G weights/s with this decode, 19.1, 15.3 and 10.6 with the BF16-lane decode before it (three
 * instructions per 16 codes, x unscaled), 16.5 with v_load_u8_top's four; on bell-shaped weights one and two rows
 * 18.6 and 15.3 G weights/s going row by row in chunks holding a special code, 13.5 and 12.6 taking the exact decode
 * for the whole chunk. Two strips at a time were slower than four (E4M3 1.12-1.16 x the time), six no faster, 16
 * accumulators (two strips with two rows, one with three) no faster than 24, checks of 8 rows no faster than 16; a
 * prefetch distance of 32 rows beat 8, 16 and 64 on E4M3 (8 rows: 1.47 x the time) and tied them on FP32 and BF16.
 * Each FMA reads its x itself (v_fmaf_at): with one broadcast per row and step, packed E4M3 experts at T = 16 took
 * 1.04 x the time with V2-Lite's (5.40 ms against 5.18-5.24) and 1.08 x with V3's (18.1-18.3 against 16.6-16.8; the
 * benchmark, two threads, builds in turn; BF16 the same time, bound by the reads). */
#if CK_VW == 16
enum { STRIP_ACC = 24 };
#else
enum { STRIP_ACC = 8 };
#endif
enum { STRIP_V = CK_PACKED_COLUMNS / CK_VW, STRIP_NS = 4, STRIP_AHEAD = 32, STRIP_CHECK = 16 };
#define group_strips(t, m)                                                                                   \
    ((t) == CK_DTYPE_F32 || (m) * STRIP_V > STRIP_ACC ? 0                                                    \
     : STRIP_ACC / ((m) * STRIP_V) < STRIP_NS        ? STRIP_ACC / ((m) * STRIP_V)                           \
                                                     : STRIP_NS)

/* The chains acc[(s*STRIP_V + v)*m + r] over l in [l1, l2) for ns strips whose row 0 is at ws[s], x[r*ldx + i]
 * the rows' element l1 + i; n: the columns to read from the first strip's on (a constant ns * CK_PACKED_COLUMNS
 * but in a ragged last strip); rowed: the chains hold their columns in v_e4m3_row64's row order, so rows decoded in
 * column order are put in it; fast: E4M3 codes known to be normal, decoded by v_e4m3_row64 (scaled by 2^-8), and
 * x scaled by 2^8 (x_scaled). */
CK_INLINE void strip_steps(vf32 *acc, const uint8_t *const *ws, const ck_dtype t, size_t l1, size_t l2, const float *x,
                           size_t ldx, const int m, const int ns, const int n, const bool rowed, const bool fast) {
    const size_t row = CK_PACKED_COLUMNS * ck_dtype_size(t);
    for (size_t l = l1; l < l2; l++) {
#pragma unroll
        for (int s = 0; s < ns; s++) {
            const uint8_t *p = ws[s] + l * row;
#pragma unroll
            for (size_t b = 0; b < row; b += 64) /* possibly past the weights */
                __builtin_prefetch((const void *)((uintptr_t)p + STRIP_AHEAD * row + b), 0, 3);
            vf32 wv[STRIP_V];
            if (fast) v_e4m3_row64(p, wv);
            else {
#pragma unroll
                for (int v = 0; v < STRIP_V; v++) {
                    const int left = n - (s * STRIP_V + v) * CK_VW; /* valid lanes */
                    if (left >= CK_VW) wv[v] = load_f32_of(p, t, (size_t)v * CK_VW);
                    else if (left > 0) wv[v] = load_f32_part(p, t, (size_t)v * CK_VW, 1, left);
                }
                if (rowed) v_row64_from_columns(wv);
            }
#pragma unroll
            for (int v = 0; v < STRIP_V; v++)
                if (n - (s * STRIP_V + v) * CK_VW > 0)
#pragma unroll
                    for (int r = 0; r < m; r++) {
                        vf32 *a = &acc[(s * STRIP_V + v) * m + r];
                        *a = v_fmaf_at(&x[(size_t)r * ldx + (l - l1)], wv[v], *a);
                    }
        }
    }
}

/* xs[r*STRIP_CHECK + i] = x[r*ldx + i] * 2^8 for r < m, i < len; whether all are exact (no x is a NaN or finite
 * and 2^120 or more in magnitude), so that each product with v_e4m3_row64's weights is the unscaled one. */
CK_INLINE bool x_scaled(const float *x, size_t ldx, const int m, size_t len, float *xs) {
    bool exact = true;
    for (int r = 0; r < m; r++)
        for (size_t i = 0; i < len; i++) {
            const float v = x[(size_t)r * ldx + i];
            xs[r * STRIP_CHECK + i] = v * 0x1p8f;
            exact &= xs[r * STRIP_CHECK + i] * 0x1p-8f == v;
        }
    return exact;
}

/* Whether rows l1 ..< l2 of the ns E4M3 strips at ws hold normal codes only. */
CK_INLINE bool strips_normal(const uint8_t *const *ws, const int ns, size_t l1, size_t l2) {
    bool normal = true;
#pragma unroll
    for (int s = 0; s < ns; s++)
        normal = normal && v_e4m3_normal64(ws[s] + l1 * CK_PACKED_COLUMNS, CK_PACKED_COLUMNS, l2 - l1);
    return normal;
}

/* The ns strips from column c0 (the call's columns c0 ..< c0 + n; n > (ns - 1) * CK_PACKED_COLUMNS) over the whole
 * reduction, into out (see ck_gemm_kernels.decode_kn). */
CK_INLINE void strip_group(size_t kc, const void *w, const ck_dtype t, size_t ss, size_t c0, const int n,
                           const float *x, size_t ldx, float *out, const float *sa, size_t sa_rs, const float *sb,
                           size_t sb_ls, size_t sb_js, const int m, const int ns) {
    const size_t span = sb ? CK_SCALE_BLOCK : kc;
    const bool rowed = t == CK_DTYPE_E4M3FN && n == ns * CK_PACKED_COLUMNS; /* the chains' columns in row order */
    const uint8_t *ws[STRIP_NS];
#pragma unroll
    for (int s = 0; s < ns; s++)
        ws[s] = (const uint8_t *)w + (c0 / CK_PACKED_COLUMNS + (size_t)s) * ss * ck_dtype_size(t);
    for (size_t l0 = 0; l0 < kc; l0 += span) {
        const size_t end = kc - l0 < span ? kc : l0 + span;
        vf32 acc[STRIP_NS * STRIP_V * CK_DECODE_M];
#pragma unroll
        for (int i = 0; i < ns * STRIP_V * m; i++) acc[i] = v_setf(0.0f);
        if (!rowed) strip_steps(acc, ws, t, l0, end, x + l0, ldx, m, ns, n, false, false);
        else
            for (size_t l1 = l0; l1 < end; l1 += STRIP_CHECK) {
                const size_t l2 = end - l1 < STRIP_CHECK ? end : l1 + STRIP_CHECK;
                float xs[CK_DECODE_M * STRIP_CHECK];
                const bool scaled = x_scaled(x + l1, ldx, m, l2 - l1, xs);
                const bool normal = scaled && strips_normal(ws, ns, l1, l2);
                for (size_t l = l1, to; l < l2; l = to) { /* a NaN, zero or subnormal code: row by row */
                    to = normal || !scaled ? l2 : l + 1;
                    if (normal || (scaled && strips_normal(ws, ns, l, to)))
                        strip_steps(acc, ws, t, l, to, xs + (l - l1), STRIP_CHECK, m, ns, n, true, true);
                    else strip_steps(acc, ws, t, l, to, x + l, ldx, m, ns, n, true, false);
                }
            }
        if (rowed)
#pragma unroll
            for (int s = 0; s < ns; s++)
#pragma unroll
                for (int r = 0; r < m; r++) {
                    vf32 v[STRIP_V];
#pragma unroll
                    for (int i = 0; i < STRIP_V; i++) v[i] = acc[(s * STRIP_V + i) * m + r];
                    v_row64_to_columns(v);
#pragma unroll
                    for (int i = 0; i < STRIP_V; i++) acc[(s * STRIP_V + i) * m + r] = v[i];
                }
        const size_t b = l0 / CK_SCALE_BLOCK;
#pragma unroll
        for (int i = 0; i < ns * STRIP_V; i++) {
            if (i * CK_VW >= n) continue;
            vf32 *a = acc + i * m;
            float *o = out + c0 + (size_t)i * CK_VW;
            if (sb) {
                const float sbc = sb[b * sb_ls + (c0 + (size_t)i * CK_VW) / CK_SCALE_BLOCK * sb_js];
                fold_block(a, o, CK_DECODE_KN_W, sa, sa_rs, b, v_setf(sbc), m);
            }
#pragma unroll
            for (int r = 0; r < m; r++) v_store_u32(o + (size_t)r * CK_DECODE_KN_W, v_as_u32(a[r]));
        }
    }
}

/* cols columns of packed strips: groups of ns strips, then the rest a strip at a time. */
CK_INLINE void decode_strips_body(size_t kc, const void *w, const ck_dtype t, size_t ss, int cols, const float *x,
                                  size_t ldx, float *out, const float *sa, size_t sa_rs, const float *sb, size_t sb_ls,
                                  size_t sb_js, const int m, const int ns) {
    const size_t group = (size_t)ns * CK_PACKED_COLUMNS;
    size_t c0 = 0;
    for (; c0 + group <= (size_t)cols; c0 += group)
        strip_group(kc, w, t, ss, c0, (int)group, x, ldx, out, sa, sa_rs, sb, sb_ls, sb_js, m, ns);
    for (; c0 < (size_t)cols; c0 += CK_PACKED_COLUMNS) {
        const int n = (int)((size_t)cols - c0 < CK_PACKED_COLUMNS ? (size_t)cols - c0 : CK_PACKED_COLUMNS);
        strip_group(kc, w, t, ss, c0, n, x, ldx, out, sa, sa_rs, sb, sb_ls, sb_js, m, 1);
    }
}

/* The decode entries: one instantiation per weight type and row count up to CK_DECODE_M, and decode_nk's up to
 * NK_REG_M (past it, decode_nk runs its rows in a loop). */
#define CK_DECODE_TYPES(CALL)                                                                                \
    switch (t) {                                                                                             \
    case CK_DTYPE_F32: CALL(CK_DTYPE_F32) break;                                                             \
    case CK_DTYPE_BF16: CALL(CK_DTYPE_BF16) break;                                                           \
    default: CALL(CK_DTYPE_E4M3FN) break;                                                                    \
    }
#define CK_DECODE_ARGS                                                                                       \
    size_t kc, const void *w, ck_dtype t, size_t ldw, size_t ss, int cols, int next, const float *x, size_t ldx, \
        int rows, float *out, const float *sa, size_t sa_rs, const float *sb, size_t sb_ls, size_t sb_js

static void CK_SIMD(gemm_decode_nk)(CK_DECODE_ARGS) {
    (void)sb_js, (void)ss; /* the call's columns lie within one 128-wide block of the grid, and one strip */
#define CASE(T, R) case R: decode_nk_body(kc, w, T, ldw, cols, next, x, ldx, rows, out, sa, sa_rs, sb, sb_ls, R); return;
#define CALL(T)                                                                                              \
    switch (rows) { CK_ROW_CASES(CASE, T) CK_NK_WIDE_CASES(CASE, T) }                                        \
    CK_NK_MORE_ROWS(T)
    CK_DECODE_TYPES(CALL)
#undef CALL
#undef CASE
}

static void CK_SIMD(gemm_decode_kn)(CK_DECODE_ARGS) {
    (void)next; /* [K, N] rows and packed strips stream on their own (see decode_kn_body) */
#define CASE(T, R)                                                                                           \
    case R:                                                                                                  \
        if (ldw == CK_PACKED_COLUMNS && group_strips(T, R))                                                  \
            decode_strips_body(kc, w, T, ss, cols, x, ldx, out, sa, sa_rs, sb, sb_ls, sb_js, R,               \
                               group_strips(T, R));                                                          \
        else decode_kn_body(kc, w, T, ldw, ss, cols, x, ldx, out, sa, sa_rs, sb, sb_ls, sb_js, R);           \
        break;
#define CALL(T) switch (rows) { CK_ROW_CASES(CASE, T) }
    CK_DECODE_TYPES(CALL)
#undef CALL
#undef CASE
}
#undef CK_DECODE_TYPES
#undef CK_DECODE_ARGS
#undef CK_ROW_CASES
#undef CK_NK_WIDE_CASES
#undef CK_NK_MORE_ROWS

const ck_gemm_kernels CK_SIMD(ck_gemm) = {
    .mr = CK_GEMM_MR, .nr = CK_GEMM_NR, .tile = CK_SIMD(gemm_tile), .tile_pack = CK_TILE_PACK,
    .pack = CK_SIMD(gemm_pack),
    .tile_t = CK_TILE_T, .tile_t_rows = TT_ROWS,
    .decode_nk_w = CK_DECODE_NK_W, .decode_kn_w = CK_DECODE_KN_W, .decode_nk_rows = NK_ROWS,
    .decode_nk = CK_SIMD(gemm_decode_nk),
    .decode_kn = CK_SIMD(gemm_decode_kn),
};
#undef CK_TILE_PACK

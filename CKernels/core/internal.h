/*
 * Internal interfaces shared by the C layers: error reporting, argument checks, the executor and the
 * kernel tables. Nothing here is public API.
 */
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include "../include/CKernels.h"

#include <stdbool.h>

/* ---- errors and argument checks (core/status.c) ---- */
/* Records `argument` and a printf-style reason for ck_last_error_*, then returns `status`. */
ck_status ck_fail(ck_status status, const char *argument, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
/* Checks a row-major [rows, cols] tensor of `elem_size`-byte elements with row stride ld: non-NULL unless
 * empty, ld >= cols, and the byte extent fits in the address space. */
ck_status ck_check_matrix(const void *ptr, const char *name, size_t rows, size_t cols, size_t ld,
                          size_t elem_size);
/* Tells stderr that environment variable `name` = `value` is ignored, and what it accepts. */
void ck_warn_env(const char *name, const char *value, const char *expected);
static inline size_t ck_div_up(size_t a, size_t b) { return a / b + (a % b != 0); }
/* Orders this thread's streaming stores before its later stores (a task's, before the task counts as done). */
static inline void ck_store_fence(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#endif
}
/* Whether a one-pass call that reads `in` bytes and writes `out` should stream its output: past
 * ck_stream_threshold(), the call's own traffic evicts the output's first lines before it returns anyway. */
static inline bool ck_stream_pass(size_t in, size_t out) {
    size_t bytes;
    return __builtin_add_overflow(in, out, &bytes) || bytes > ck_stream_threshold();
}
/* Bytes per element: f32 4, bf16 2, e4m3fn 1. */
static inline size_t ck_dtype_size(ck_dtype t) { return t == CK_DTYPE_F32 ? 4 : t == CK_DTYPE_BF16 ? 2 : 1; }

/* ---- executor (core/parallel.c) ----
 * A region runs fn(ctx, tid, nthreads) once on each of nthreads participants (tid 0 is the caller). The
 * runtime may give fewer participants than asked (nested or concurrent calls run with 1). */
typedef void (*ck_region_fn)(void *ctx, int tid, int nthreads);
#define CK_MAX_THREADS 1024
#define CK_STRING(x) CK_STRING_(x) /* a macro's value as a string literal */
#define CK_STRING_(x) #x
void ck_parallel_region(ck_region_fn fn, void *ctx, int max_threads);
/* Runs task(ctx, i, tid, next) for i in [0, ntasks), claimed dynamically by at most max_threads participants
 * tid < max_threads (one thread per tid at a time, so per-tid scratch needs no lock); tasks must write
 * disjoint outputs. A task may claim its participant's next task early (ck_next_task), so as to prefetch for it;
 * otherwise the next is claimed when the task returns, which balances the participants best. */
typedef struct ck_task_next ck_task_next;
typedef void (*ck_task_fn)(void *ctx, size_t task, int tid, ck_task_next *next);
/* The task the participant runs after the current one, claimed by the first call (later calls return the same);
 * the list's task count when none is left. */
size_t ck_next_task(ck_task_next *next);
void ck_parallel_for(size_t ntasks, ck_task_fn task, void *ctx, int max_threads);
/* How many tasks to cut `work` units of work into, each at least `grain` units (1 for small work). */
size_t ck_task_count(size_t work, size_t grain);
/* The most participants worth waking for `work` units: one per `grain` (so small problems run on the caller). */
int ck_participants(size_t work, size_t grain);

/* ---- format kernels (ref/, x86_*) ----
 * Contract of every entry:
 *   - no allocation, no threads, pointers valid for the stated lengths, aligned to their element type only;
 *   - results are bit-identical across ISAs (the scalar reference defines them);
 *   - "groups" split a row segment of n elements into ceil(n/group) runs, the last one partial;
 *   - `stream` (kernels writing f32 or bf16): write y with streaming stores where a vector's elements start at a
 *     multiple of their size (ordinary stores elsewhere, and always in the scalar reference); the caller fences
 *     them (ck_store_fence) before its results count as written. */
typedef struct ck_formats_kernels {
    void (*f32_to_bf16)(const float *x, uint16_t *y, size_t n, bool stream);
    void (*bf16_to_f32)(const uint16_t *x, float *y, size_t n, bool stream);
    void (*to_fp8)(const void *x, ck_dtype xt, uint8_t *y, size_t n, ck_fp8_format f, ck_overflow o);
    void (*from_fp8)(const uint8_t *x, ck_fp8_format f, void *y, ck_dtype yt, size_t n, bool stream);
    /* amax[g] = max over group g of |x|'s f32 bit pattern (NaN sorts above inf). `next` (may be NULL): the
     * same span of the row scanned next, prefetched while this one is. */
    void (*range_groups)(const void *x, ck_dtype xt, size_t n, size_t group, uint32_t *amax, const void *next);
    /* amax[c] = max over rows r < rows of |x[r*ldx + c]|'s bit pattern, for c < cols. */
    void (*range_cols)(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, uint32_t *amax);
    /* From n group amaxes: s[i] = the scale to quantize with, rcp[i] = 1 / s[i], and for CK_SCALE_UE8M0 the
     * stored exponent e8[i] (see ck_formats.h; s is then 2^(e8 - 127), or NaN / inf for non-finite groups). */
    void (*scales)(const uint32_t *amax_bits, size_t n, ck_fp8_format f, ck_scale_format sf, float *s, float *rcp,
                   uint8_t *e8);
    /* q[i] = fp8(x[i] / s[g]) (CK_SCALING_DIVIDE) or fp8(x[i] * rcp[g]) (CK_SCALING_RECIPROCAL), g = i / group,
     * for i < n, with s and rcp from `scales` for this group's amax (so finite groups cannot overflow).
     * `next` (may be NULL): the same span of the row processed next, prefetched while this one is encoded. */
    void (*quant_groups)(const void *x, ck_dtype xt, size_t n, size_t group, const float *s, const float *rcp,
                         ck_scaling sc, ck_fp8_format f, uint8_t *q, const void *next);
    /* q[c*ldq + r] = fp8 of x[r*ldx + c] scaled by s[c] / rcp[c] as above, for r < rows, c < cols. */
    void (*quant_cols_t)(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, const float *s,
                         const float *rcp, ck_scaling sc, ck_fp8_format f, uint8_t *q, size_t ldq);
    /* y[i] = decode(q[i]) * s[i/group], for i < n. */
    void (*dequant_groups)(const uint8_t *q, ck_fp8_format f, size_t n, size_t group, const float *s, void *y,
                           ck_dtype yt, bool stream);
    /* y[i] = x[i] as a GEMM output (ck_output_bits: each NaN as CK_OUTPUT_NAN), rounded to yt, for i < n. */
    void (*outputs)(const float *x, void *y, ck_dtype yt, size_t n, bool stream);
} ck_formats_kernels;

/* ---- GEMM microkernels (ref/gemm_ref.c, simd/gemm_simd.h) ----
 * One canonical order, identical on every ISA (see ck_gemm.h).
 * tile: rows (<= mr) x nr outputs out[r*nr + c] over a B panel pb[l*ldb + c] (l < kc; ldb = nr when packed here,
 *   CK_PACKED_COLUMNS on packed weights) and A(r, l) = a[r*rsa + l*csa]:
 *   sa == NULL: out = the fma chain over l of A(r, l) * pb[l*ldb + c], continuing from out (first == 0) or
 *               from +0 (first != 0), so a long reduction can be cut into chunks without changing a bit;
 *   sa != NULL: p = that chain from +0, then out = fma(p * sa[r], sb[c], first ? +0 : out) (a scaled block:
 *               sa per row of A, sb per column of B; sb holds nr values, whatever cols);
 *   pf (may be NULL): lines to prefetch into L2 meanwhile, one per step of l for the first pf->n (<= kc) steps (the
 *   dot tiles below: one per pair).
 * pack: B(l, c) = src[l*ls + c*cs] (elements of type t, decoded exactly to f32), l < kc, c < cols, as
 *   ceil(cols/nr) panels: panel s at dst + s*kc*nr holds dst[l*nr + c'] = B(l, s*nr + c') (+0 past cols);
 *   `prefetch`: the kernel prefetches src ahead of its reads (otherwise the caller did).
 * tile_pack (NULL in the scalar and AVX2 tables): the tile with sa == NULL (pf as there), and meanwhile part
 *   pp->part of pp->parts of the pack of one full panel of FP32 [N, K] weights, pp->dst[l*nr + c] =
 *   pp->src[c*pp->ld + l], l < pp->kc (a positive multiple of 16), c < nr (pack's panel of B(l, c) = src[l + c*ld],
 *   cols = nr): the next panel's transposes run between the FMAs of the tiles before it. The parts 0 ..< parts
 *   together write the panel once; pp->dst must not overlap pb or out.
 * tile_t (NULL in the scalar table): the tile's chains from +0 over l < kc, transposed, for rows (<= tile_t_rows) rows
 *   of A given transposed, A(i, l) = xt[l*ldt + i] (ldt >= rows rounded up to 16, finite values past rows), against
 *   cols columns of B(l, j) = w[j*ldw + l] (FP32 read in place, l contiguous): out[i*ldo + j] = the chain over l of
 *   A(i, l) * B(l, j), i < rows, j < cols. The weights are broadcast and x read as vectors: no weight is packed.
 * Prefetches are hints: they change no bit, and the scalar reference ignores them.
 * decode_nk, decode_kn: the same chains for rows rows of x (decode_nk: <= CK_DECODE_NK_M, decode_kn:
 *   <= CK_DECODE_M; the driver gives decode_nk at most decode_nk_rows, where it beats the other paths) against
 *   cols columns of weights, over the whole reduction (kc > 0): out[r*width + c] over
 *   l < kc of x(r, l) * W(c, l). decode_nk reads x blocked by CK_DECODE_XB columns, each block's rows
 *   together, x(r, l) = x[(l / CK_DECODE_XB)*ldx + r*CK_DECODE_XB + l % CK_DECODE_XB] (ck_decode_x_index),
 *   and W(c, l) = w[c*ldw + l] ([N, K] weights, cols <= width = decode_nk_w <= CK_PACKED_COLUMNS, so ss is
 *   not needed); decode_kn reads x(r, l) = x[r*ldx + l] and W(c, l) = w[(c / S)*ss + l*ldw + c % S], S =
 *   CK_PACKED_COLUMNS ([K, N] weights with ss = S, or CK_WEIGHTS_PACKED strips with ldw = S, ss = S*K;
 *   cols <= width = decode_kn_w); weights of type t, decoded. sb == NULL: the chain from +0. sb != NULL: l is cut into CK_SCALE_BLOCK blocks b, each block's
 *   chain p runs from +0 and then out = fma(p * sa(r, b), sb(b, c), b ? out : +0), sa(r, b) = sa[r*sa_rs + b]
 *   (1 when sa is NULL), sb(b, c) = sb[b*sb_ls + (c / CK_SCALE_BLOCK)*sb_js]: the call's first column starts a
 *   128-wide block of the grid (or all its columns lie within one). Weights past cols are never read; as
 *   scratch decode_nk may use out[CK_DECODE_NK_M*width ..< 2*CK_DECODE_NK_M*width], decode_kn
 *   out[CK_DECODE_M*width ..< 2*CK_DECODE_M*width]. next: the columns of the driver's next call (0: none), which
 *   decode_nk's caller gives when they are the weight rows right after this call's width rows,
 *   W(width + c, l) = w[(width + c)*ldw + l] for c < next; decode_nk prefetches them (a hint, see ck_prefetch_next),
 *   decode_kn ignores next.
 * No allocation, no threads; beta and the output type are the driver's. */
#define CK_DECODE_M 8
#define CK_DECODE_NK_M 16
#define CK_DECODE_XB 16 /* the column blocks of decode_nk's x */
/* Where decode_nk's x(r, l) lies (see above). */
static inline size_t ck_decode_x_index(size_t r, size_t l, size_t ldx) {
    return l / CK_DECODE_XB * ldx + r * CK_DECODE_XB + l % CK_DECODE_XB;
}
#define CK_SCALE_BLOCK 128 /* the FP8 scale block along the reduction */
/* The decode kernels' prefetch distance along the rows, in elements (16 blocks of AVX-512, 32 of AVX2; see
 * load_block_t), and where it leads: in a walk that reads len (> 0) elements of each of a group of rows (ld bytes
 * apart, elements of `size` bytes) and then the same of the rows `next` on, and so on, the element CK_DECODE_AHEAD
 * past element l of w's row (past the end of the rows: the same place in the rows next on, or further when len is
 * shorter). An integer: the address may lie past the weights, which a prefetch may (it never faults) and a pointer
 * may not. */
#define CK_DECODE_AHEAD 256
static inline uintptr_t ck_decode_ahead(const void *w, size_t size, size_t ld, size_t l, size_t len, size_t next) {
    const size_t at = l + CK_DECODE_AHEAD;
    return (uintptr_t)w + (at < len ? at * size : at / len * next * ld + at % len * size);
}
/* In such a walk, where element l starts a line (l * size a multiple of 64): the line ck_decode_ahead leads to in
 * each of `rows` rows, prefetched into L2 (l2) or L1. */
static inline __attribute__((always_inline)) void ck_prefetch_ahead(const void *w, size_t size, size_t ld, size_t l,
                                                                    size_t len, size_t next, int rows, bool l2) {
    if (l * size % 64) return;
    const uintptr_t ahead = ck_decode_ahead(w, size, ld, l, len, next);
    for (int c = 0; c < rows; c++) {
        if (l2) __builtin_prefetch((const void *)(ahead + (size_t)c * ld), 0, 2);
        else __builtin_prefetch((const void *)(ahead + (size_t)c * ld), 0, 3);
    }
}
/* The next call's rows, prefetched by a decode kernel that reads `rows` weight rows from w (ld bytes apart, elements of
 * `size` bytes, each over the whole reduction of kc elements) and whose caller's next call reads the `next` rows after
 * them: at the step that reads elements [l, l + step) of each of its rows, as many lines of those next rows as the
 * step reads go into L2, in address order, so that the next call's rows arrive as one stream over this call. */
static inline __attribute__((always_inline)) void ck_prefetch_next(const void *w, size_t size, size_t ld, size_t l,
                                                                   size_t step, size_t kc, size_t rows, int next) {
    const size_t per_row = (kc * size + 63) / 64, per = rows * step * size / 64, q0 = l / step * per;
    const size_t end = q0 + per < (size_t)next * per_row ? q0 + per : (size_t)next * per_row;
    for (size_t q = q0; q < end; q++) /* as integers: a line may lie past the weights' last row */
        __builtin_prefetch((const void *)((uintptr_t)w + (rows + q / per_row) * ld + q % per_row * 64), 0, 2);
}
typedef void (*ck_decode_fn)(size_t kc, const void *w, ck_dtype t, size_t ldw, size_t ss, int cols, int next,
                             const float *x, size_t ldx, int rows, float *out, const float *sa, size_t sa_rs,
                             const float *sb, size_t sb_ls, size_t sb_js);
/* Lines for a tile to prefetch: n of them from line `at` on, in runs of per_row lines whose starts are stride bytes
 * apart: line q at row + (q / per_row)*stride + (q % per_row)*64. */
typedef struct ck_prefetch {
    const char *row;
    size_t stride, per_row, at, n;
} ck_prefetch;
/* A tile's walk over its lines to prefetch: one line per step l while l < n. */
typedef struct {
    size_t n, q, per_row, stride;
    uintptr_t run; /* an integer: the lines may lie past the operand */
} ck_prefetch_walk;
static inline __attribute__((always_inline)) ck_prefetch_walk ck_prefetch_start(const ck_prefetch *pf) {
    if (!pf) return (ck_prefetch_walk){0, 0, 1, 0, 0};
    return (ck_prefetch_walk){pf->n, pf->at % pf->per_row, pf->per_row, pf->stride,
                              (uintptr_t)pf->row + pf->at / pf->per_row * pf->stride};
}
static inline __attribute__((always_inline)) void ck_prefetch_step(ck_prefetch_walk *w, size_t l) {
    if (l < w->n) {
        __builtin_prefetch((const void *)(w->run + w->q * 64), 0, 2);
        if (++w->q == w->per_row) w->q = 0, w->run += w->stride;
    }
}
/* A part of a panel's pack for ck_gemm_kernels.tile_pack. */
typedef struct ck_pieces {
    const float *src;
    size_t ld, kc;
    float *dst;
    size_t part, parts;
} ck_pieces;
typedef struct ck_gemm_kernels {
    int mr, nr;
    void (*tile)(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, size_t ldb, float *out, int rows,
                 const float *sa, const float *sb, int first, const ck_prefetch *pf);
    void (*tile_pack)(size_t kc, const float *a, size_t rsa, size_t csa, const float *pb, size_t ldb, float *out,
                      int rows, int first, const ck_prefetch *pf, const ck_pieces *pp);
    void (*pack)(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, float *dst, bool prefetch);
    void (*tile_t)(size_t kc, const float *w, size_t ldw, int cols, const float *xt, size_t ldt, int rows, float *out,
                   size_t ldo);
    int tile_t_rows;
    int decode_nk_w, decode_kn_w, decode_nk_rows;
    ck_decode_fn decode_nk, decode_kn;
} ck_gemm_kernels;

/* ---- BF16 dot-product kernels (x86_avx512/gemm_dot_avx512bf16.c, and with AVX512_VBMI's E4M3 decode
 * gemm_dot_avx512bf16vbmi.c: the same bits), for ck_set_bf16_dot_products ----
 * A uint32_t holds a pair of BF16 values, the even reduction index in its low half; E4M3 elements become BF16
 * exactly. The tiles have the shape of the AVX-512 table's (CK_DOT_MR x CK_DOT_NR): the driver lays its blocks out by
 * the active gemm table and takes these kernels only when that table has the same shape.
 * tile: rows (<= 6) x 64 outputs out[r*64 + c] over kp pairs, A(r, p) = a[r*rsa + p], B(p, c) = pb[p*64 + c]: for
 *   each pair p in order, s = vdpbf16ps(s, A(r, p), B(p, c)), which is (DAZ: subnormal inputs read as 0, FTZ: a
 *   subnormal result becomes 0 of its sign) s = ftz(fma(daz(A.hi), daz(B.hi), daz(s))), then the same with the low
 *   halves. sa == NULL: s runs from out (first == 0) or +0 and is stored; sa != NULL: s from +0, then
 *   out = fma(s * sa[r], sb[c], first ? +0 : out), as ck_gemm_kernels.tile. pf as for that tile.
 * pack: B(l, c) = src[l*ls + c*cs] (BF16 or E4M3), l < kc, c < cols, as ceil(cols/64) panels of ceil(kc/2) pairs:
 *   panel s at dst + s*ceil(kc/2)*64 holds dst[p*64 + c'] = B(2p, s*64 + c') | B(2p + 1, s*64 + c') << 16, 0 past
 *   kc and cols.
 * rows: rows of A(i, l) = src[i*ld + l] (BF16 or E4M3), l < kc, as pairs: dst[i*ldd + p] = A(i, 2p) |
 *   A(i, 2p + 1) << 16, 0 past kc.
 * decode: the tile's chains for rows (<= CK_DOT_DECODE_NK_M) rows of x as pairs (x[r*ldx + p], as rows writes them)
 *   against cols (<= CK_DOT_DECODE_W) rows of [N, K] weights W(c, l) = w[c*ldw + l] (BF16 or E4M3) over the whole
 *   reduction (kc > 0), into out[r*CK_DOT_DECODE_W + c]: sb == NULL: one chain; sb != NULL: per 128-wide block b, the chain from +0 folded
 *   as out = fma(s * sa(r, b), sb[b*sb_ls], b ? out : +0), sa(r, b) = sa[r*sa_rs + b] (1 when sa is NULL). Weights
 *   past cols are never read. next: as for ck_gemm_kernels.decode_nk, with width CK_DOT_DECODE_W.
 * decode_kn: the same for rows (<= CK_DOT_DECODE_KN_M) rows against cols (<= CK_DOT_DECODE_KN_W) columns of [K, N]
 *   weights or a packed strip, W(c, l) = w[l*ldw + c], into out[r*CK_DOT_DECODE_KN_W + c]; it ignores next. */
#define CK_DOT_MR 6
#define CK_DOT_NR 64
#define CK_DOT_DECODE_W 16
#define CK_DOT_DECODE_KN_W 64
#define CK_DOT_DECODE_KN_M 12
#define CK_DOT_DECODE_NK_M 12
typedef struct ck_dot_kernels {
    void (*tile)(size_t kp, const uint32_t *a, size_t rsa, const uint32_t *pb, float *out, int rows, const float *sa,
                 const float *sb, int first, const ck_prefetch *pf);
    void (*pack)(const void *src, ck_dtype t, size_t ls, size_t cs, size_t kc, int cols, uint32_t *dst);
    void (*rows)(const void *src, ck_dtype t, size_t ld, size_t rows, size_t kc, uint32_t *dst, size_t ldd);
    void (*decode)(size_t kc, const void *w, ck_dtype t, size_t ldw, int cols, int next, const uint32_t *x, size_t ldx,
                   int rows, float *out, const float *sa, size_t sa_rs, const float *sb, size_t sb_ls);
    void (*decode_kn)(size_t kc, const void *w, ck_dtype t, size_t ldw, int cols, int next, const uint32_t *x,
                      size_t ldx, int rows, float *out, const float *sa, size_t sa_rs, const float *sb, size_t sb_ls);
} ck_dot_kernels;
extern const ck_dot_kernels ck_dot_avx512bf16, ck_dot_avx512bf16vbmi;
/* The dot-product kernels when the calling thread asked for them and the active ISA has them, else NULL. */
const ck_dot_kernels *ck_dot_dispatch(void);

/* The one list of ISA variants: dispatch, tests and benchmarks learn about variants from here.
 * X(level, formats table, gemm table, dot table (a pointer, NULL where the level has none), probe table) */
extern const ck_formats_kernels ck_formats_scalar, ck_formats_avx2, ck_formats_avx512;
extern const ck_gemm_kernels ck_gemm_scalar, ck_gemm_avx2, ck_gemm_avx512, ck_gemm_avx512vbmi;

typedef struct ck_probe_kernels {
    double (*fma_f32)(uint64_t iterations);  /* one thread; returns flops */
    double (*dot_bf16)(uint64_t iterations); /* one thread; NULL if unsupported */
} ck_probe_kernels;
extern const ck_probe_kernels ck_probe_scalar, ck_probe_avx2, ck_probe_avx512, ck_probe_avx512bf16;

#if defined(__x86_64__)
#define CK_ISA_VARIANTS(X)                                                                                  \
    X(CK_ISA_SCALAR, ck_formats_scalar, ck_gemm_scalar, NULL, ck_probe_scalar)                              \
    X(CK_ISA_AVX2, ck_formats_avx2, ck_gemm_avx2, NULL, ck_probe_avx2)                                      \
    X(CK_ISA_AVX512, ck_formats_avx512, ck_gemm_avx512, NULL, ck_probe_avx512)                              \
    X(CK_ISA_AVX512VBMI, ck_formats_avx512, ck_gemm_avx512vbmi, NULL, ck_probe_avx512)                      \
    X(CK_ISA_AVX512BF16, ck_formats_avx512, ck_gemm_avx512, &ck_dot_avx512bf16, ck_probe_avx512bf16)        \
    X(CK_ISA_AVX512BF16VBMI, ck_formats_avx512, ck_gemm_avx512vbmi, &ck_dot_avx512bf16vbmi, ck_probe_avx512bf16)
#else
#define CK_ISA_VARIANTS(X) X(CK_ISA_SCALAR, ck_formats_scalar, ck_gemm_scalar, NULL, ck_probe_scalar)
#endif

const ck_formats_kernels *ck_formats_dispatch(void);
const ck_gemm_kernels *ck_gemm_dispatch(void);
const ck_probe_kernels *ck_probe_dispatch(void);

#endif

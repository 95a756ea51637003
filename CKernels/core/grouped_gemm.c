/*
 * Grouped expert GEMMs (ck_gemm.h): argument checks, then one task list over (expert, M-block, N-block) for all
 * experts, so a hot expert and many cold ones balance across threads in one fork-join. Each expert is a problem C[i, j]
 * = sum over l of A(i, l) * B(l, j) (rows x cols, reduction red), computed BLIS-style: the task packs B into nr-wide
 * f32 panels (a chunk or a span of the reduction at a time, see run_block) and copies A to f32 per chunk, or a few-row
 * expert's A whole once per thread (BF16 and FP8 are decoded exactly there, so the tiles only ever see f32), then runs
 * the dispatched outer-product tiles, carrying each output's fma chain from chunk to chunk. A scaled problem's chunk is
 * the FP8 scale block, so that it applies a_s * b_s to each chunk's partial sums; others' is a span. Decode-sized
 * experts run a decode kernel over the weights in place instead, and slightly larger ones with FP32 weights whose
 * reduction is contiguous the transposed tiles (see transposed). Nothing about the blocking or the path changes an
 * output's order, so the bits do not depend on M, threads or ISA. Under BF16 dot products (ck_set_bf16_dot_products)
 * the m-grouped problems on BF16 and E4M3 operands run the dot kernels instead (ck_dot_kernels: pairs instead of f32,
 * the instruction's order): then the bits do not depend on M or threads. */
#include "internal.h"
#include "formats_element.h"
#include "../include/ck_gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* KC: the FP8 scale block, the reduction chunk of scaled problems (see chunk_of); SPAN: the reduction prefetched at
 * once, and packed at once where B's reduction is not contiguous (see run_block), the chunk of other problems; PB: the
 * packed B panel's floats, NB columns per task x SPAN; problems with at most FEW_ROWS rows, which reuse each packed
 * weight only a few times, take NB_FEW columns per task, for more tasks (and decode_nk's problems take NB_FEW columns
 * too); a task's rows: MB_TILES tiles (see row_blocks); decode problems with [K, N] weights: up to NB_KN columns per
 * task (see kn_task_cols), packed weights' KN_STRIPS strips per decode_kn call (a pass over 8 FP32 strips and the next
 * pass's lines, prefetched meanwhile, take 16 KiB; over 22, 44 KiB): calls over all 22 of a V2-Lite expert's
 * strips took 1.08-1.13 x the time of calls of 8 with FP32 weights, 1.01-1.12 x with BF16 and 1.07-1.09 x with E4M3
 * (two threads, one row, weights from DRAM, medians of five calls in turn with the [N, K] kernel; measured with
 * decode_kn's passes, before BF16 and E4M3 strips against few rows took its strips kernel, which reads a call's strips
 * a group at a time); the transposed problems: NB_T columns per task, a multiple of every group width of the transposed
 * tiles (12, 8, 6, 4 and 3 columns); FUSED_TILES: the tiles of a strip that pack the next strip's panel (see fused). */
enum { KC = CK_SCALE_BLOCK, SPAN = 2 * KC, NB = 512, PB = NB * SPAN, FEW_ROWS = 64, NB_FEW = 128, NB_KN = 2048,
       MB_TILES = 64, MAX_MR = 8, MAX_NR = 64, KN_STRIPS = 8, NB_T = 120, MAX_BLOCK_ROWS = MB_TILES * MAX_MR * 5 / 4,
       FUSED_TILES = 4 };
/* The most floats of x a participant keeps decoded for its next task of the same expert (see whole_a and
 * m_problem): 1 MiB, half of a 2 MiB L2. */
enum { X_FLOATS = 1 << 18 };
/* Multiply-adds per participant: a call of up to this many runs on the calling thread. 64 experts of one row and
 * 16 x 16 weights (16K) took 8.7 us there and 12.3 us on two threads, the best of 2000 back-to-back calls each
 * (workers still spinning); 8 of 64 x 64 (32K) took 6.3 and 5.4 us, 8 of 128 x 128 (128K) 14.3 and 12.2 us. */
#define GEMM_GRAIN ((size_t)1 << 14)

/* Element `i` of an array of type t; NULL stays NULL (an empty operand may be NULL). */
static void *element(const void *p, size_t i, ck_dtype t) { return p ? (char *)p + i * ck_dtype_size(t) : NULL; }

/* A matrix operand: element (r, c) at data[r*rs + c*cs] (in elements of `type`); rs or cs is 1. Packed weights
 * (CK_WEIGHTS_PACKED) are B in strips of CK_PACKED_COLUMNS columns, ss elements apart: element (r, c) at
 * data[(c / CK_PACKED_COLUMNS)*ss + r*rs + c % CK_PACKED_COLUMNS] (rs = CK_PACKED_COLUMNS, cs = 1); ss is 0
 * otherwise. */
typedef struct {
    const void *data;
    ck_dtype type;
    size_t rs, cs, ss;
} operand;

/* The elements from one strip of CK_PACKED_COLUMNS columns to the next: ss, or CK_PACKED_COLUMNS*cs unpacked. */
static size_t strip_stride(const operand *o) { return o->ss ? o->ss : CK_PACKED_COLUMNS * o->cs; }

/* Element (r, c) of o, in elements: one formula for both kinds. */
static size_t offset(const operand *o, size_t r, size_t c) {
    return c / CK_PACKED_COLUMNS * strip_stride(o) + r * o->rs + c % CK_PACKED_COLUMNS * o->cs;
}

typedef struct {
    operand a, b;                 /* A(i, l), B(l, j) */
    const float *sa;              /* FP8 A: a_s(i, lb) = sa[i*sa_rs + lb]; NULL: 1 */
    size_t sa_rs;
    const float *sb;              /* FP8 B: b_s(lb, j) = sb[lb*sb_ls + (j >> sb_shift)*sb_js]; NULL: unscaled */
    size_t sb_ls, sb_js;
    unsigned sb_shift;            /* 7: 128 x 128 weight blocks; 0: a scale per column */
    void *c;                      /* C(i, j) at c[i*rsc + j*csc] */
    size_t rsc, csc;
    size_t rows, cols, red;
    bool decode;                  /* an m-grouped expert with few rows (red > 0): the decode kernels (see m_problem) */
    bool transposed;              /* the transposed tiles (see transposed; run_problems sets it) */
    const ck_dot_kernels *dot;    /* BF16 / E4M3 x and weights under ck_set_bf16_dot_products: these kernels (see
                                     m_problem); NULL: the FMA kernels */
    size_t nb;                    /* columns per task (run_problems sets it) */
} problem;

_Static_assert(NB % KC == 0 && NB_FEW % KC == 0 && NB_FEW <= NB && NB_KN % KC == 0 && SPAN % KC == 0 &&
                   FEW_ROWS <= MB_TILES && KC % CK_PACKED_COLUMNS == 0 && CK_PACKED_COLUMNS % MAX_NR == 0,
               "task columns cover whole scale blocks, so whole strips of packed weights, and fit the panel, pack "
               "spans whole chunks, few-row problems are one row block (whole_a's view starts at row 0), panels lie "
               "within a strip");

/* A decode problem for decode_kn: weight columns contiguous, B(l, j) = b[l*rs + j] ([K, N] weights, and [N, 1]
 * ones, which are the same matrix), and at most CK_DECODE_M rows (an [N, 1] expert of more takes decode_nk); not a
 * dot problem's (run_decode_block picks its dot kernel). */
static bool decode_kn(const problem *p) { return p->decode && !p->dot && p->b.cs == 1 && p->rows <= CK_DECODE_M; }

/* Columns per task of the decode problems with [K, N] weights: whole rows up to NB_KN, which the hardware
 * prefetchers stream (see decode_kn_body), unless that would leave threads idle; then whole scale blocks, shared
 * out evenly. */
static size_t kn_task_cols(const problem *pr, size_t groups, size_t threads) {
    size_t cols = 0;
    for (size_t g = 0; g < groups; g++)
        if (decode_kn(&pr[g]) && pr[g].rows) cols += pr[g].cols;
    const size_t per = ck_div_up(ck_div_up(cols, threads), KC) * KC;
    return per == 0 ? KC : per < NB_KN ? per : NB_KN;
}

/* Columns per task of each problem. */
static void set_task_cols(problem *pr, size_t groups, size_t threads) {
    const size_t kn = kn_task_cols(pr, groups, threads);
    for (size_t g = 0; g < groups; g++)
        pr[g].nb = decode_kn(&pr[g]) ? kn : pr[g].transposed ? NB_T : pr[g].rows <= FEW_ROWS ? NB_FEW : NB;
}

/* One participant's buffers: packed B panels, the block's accumulators, a decoded A chunk (for a decode problem,
 * and a packed one with whole_a, all of x; for a transposed one, x transposed; kept for the participant's next task
 * if that is the same problem's: x_of, with x_ld). */
typedef struct {
    float *pb, *acc, *a;
    const problem *x_of;
    size_t x_ld;
} scratch;

typedef struct {
    const ck_gemm_kernels *k;
    const ck_formats_kernels *f;
    const problem *problems;
    const size_t *first_task; /* [groups + 1]: tasks of problem g are first_task[g] ..< first_task[g + 1] */
    size_t groups;
    float beta;
    ck_dtype ctype;
    scratch *scratch; /* one per participant */
    bool stream;      /* the packed path's contiguous output runs (beta 0) pass ck_stream_threshold() */
} gemm_job;

static size_t block_rows(const ck_gemm_kernels *k) { return MB_TILES * (size_t)k->mr; }

/* The most rows a block holds: mb plus a remainder of up to a quarter block (see row_blocks). */
static size_t max_block_rows(size_t mb) { return mb + mb / 4; }

/* A problem's row blocks of mb rows; a remainder that fits within max_block_rows joins the last full block
 * instead of re-packing all of the expert's weights for a few rows. */
static size_t row_blocks(size_t rows, size_t mb) {
    const size_t full = rows / mb, rest = rows % mb;
    return full && mb + rest <= max_block_rows(mb) ? full : full + (rest != 0);
}

/* A scaled problem's scales for the 128-block of the reduction starting at l0: sa[r] = a_s of rows i0 + r
 * (1 without FP8 activations), and sb[c] = b_s of columns j0 + c for c < cols, then 1 up to width. */
static void row_scales(const problem *p, size_t l0, size_t i0, size_t rows, float *sa) {
    for (size_t r = 0; r < rows; r++) sa[r] = p->sa ? p->sa[(i0 + r) * p->sa_rs + l0 / KC] : 1.0f;
}

static void col_scales(const problem *p, size_t l0, size_t j0, size_t cols, size_t width, float *sb) {
    for (size_t c = 0; c < width; c++) sb[c] = c < cols ? p->sb[l0 / KC * p->sb_ls + ((j0 + c) >> p->sb_shift) * p->sb_js] : 1.0f;
}

/* The stride (floats) of lines of len floats copied for a kernel: whole 64-byte lines and one more, an odd number of
 * them, so that consecutive lines start in different L1 sets until all 64 are used (lines a multiple of 4 KiB apart
 * would all fall into the same sets). */
static size_t padded_ld(size_t len) { return (ck_div_up(len, 32) * 2 + 1) * 16; }

/* A's block as the tiles read it: the tile whose first row is i at p + i*ts, element (r, l) of the tile at
 * r*rs + l*cs. */
typedef struct {
    const float *p;
    size_t ts, rs, cs;
} view;

/* A block's mb rows in n tiles of at most the kernels' mr rows: tile t holds rows tile_first(t) ..< tile_first(t + 1),
 * and its accumulators lie in the block's slot t (mr rows). Where A's rows are a view's rows (A's rows contiguous: x
 * in the m-grouped calls) the tiles are as even as can be, the first mb % n of them a row longer than the rest;
 * otherwise (a_view's micro-panels, mr rows each) they take mr rows, the last the rest. A tile of one or two rows
 * streams the B panel from L2 for a few FMAs per step: 64 of V2-Lite's experts with the same rows each (two threads,
 * weights from DRAM, the benchmark's T = 256 case with its routing replaced) ran at 60.7 % of the FMA peak with 19
 * rows (6, 6, 6 and 1) and 69.1 % as 5, 5, 5 and 4. */
typedef struct {
    size_t mb, n, base, extra;
} tiling;

static tiling tiles_of(size_t mb, size_t mr, bool even) {
    const size_t n = ck_div_up(mb, mr);
    return even && n ? (tiling){mb, n, mb / n, mb % n} : (tiling){mb, n, mr, 0};
}

static size_t tile_first(const tiling *tl, size_t t) {
    const size_t i = t * tl->base + (t < tl->extra ? t : tl->extra);
    return i < tl->mb ? i : tl->mb;
}

static size_t tile_of_row(const tiling *tl, size_t i) {
    const size_t longer = tl->extra * (tl->base + 1); /* the rows of the longer tiles */
    return i < longer ? i / (tl->base + 1) : tl->extra + (i - longer) / tl->base;
}

/* One line of a transposed A (A(i, l) for i < len at fixed l) into the micro-panels of a_view: row i at
 * buf + i / mr * mr * kc + l * mr + i % mr. mr is a constant where the caller switches on it, so that each
 * tile's piece is a fixed-size copy. */
static inline __attribute__((always_inline)) void line_to_panels(const float *src, size_t len, size_t l, size_t kc,
                                                               const size_t mr, float *buf) {
    size_t i = 0;
    for (; i + mr <= len; i += mr) memcpy(buf + i * kc + l * mr, src + i, mr * sizeof(float));
    if (i < len) memcpy(buf + i * kc + l * mr, src + i, (len - i) * sizeof(float));
}

/* A's block [i0, i0 + mb) x [l0, l0 + kc) decoded exactly to f32 into buf, for tiles of mr rows. A whose rows are
 * contiguous (x in the m-grouped calls) is copied row by row, ld (>= kc) floats apart: copying f32 too keeps the
 * tile's rows a few hundred bytes apart, where rows of x whose stride is a multiple of 4 KiB would all fall into
 * the same L1 sets and evict the B panel. A transposed A (the k-grouped calls' x, A(i, l) = x(l, i)) is read a
 * line of i at a time and laid out in micro-panels, each tile's mr x kc values in one contiguous run (kc steps of
 * mr), with room after them for one decoded line. With its lines 384 floats apart instead, each tile's 128 lines
 * fell into 8 of L1's 64 sets; padded apart (1600 bytes), the tile ran at 0.93 x the rate it has on the panels. */
static view a_view(const ck_formats_kernels *f, const operand *o, size_t i0, size_t mb, size_t l0, size_t kc,
                   size_t ld, size_t mr, float *buf) {
    const size_t size = ck_dtype_size(o->type);
    const char *base = element(o->data, i0 * o->rs + l0 * o->cs, o->type);
    const bool rows = o->cs == 1;
    const size_t lines = rows ? mb : kc, len = rows ? kc : mb, step = (rows ? o->rs : o->cs) * size;
    float *line_buf = rows ? NULL : buf + ck_div_up(mb, mr) * mr * kc; /* a transposed A's decoded line */
    for (size_t i = 0; i < lines; i++) {
        const char *line = base + i * step;
        float *dst = rows ? buf + i * ld : line_buf;
        const float *src = dst;
        if (o->type == CK_DTYPE_F32 && !rows) src = (const float *)line; /* into the panels straight from x */
        else if (o->type == CK_DTYPE_F32) memcpy(dst, line, len * sizeof(float));
        else if (o->type == CK_DTYPE_BF16) f->bf16_to_f32((const uint16_t *)line, dst, len, false);
        else f->from_fp8((const uint8_t *)line, CK_FP8_E4M3FN, dst, CK_DTYPE_F32, len, false);
        if (!rows) switch (mr) {
            case 4: line_to_panels(src, len, i, kc, 4, buf); break;
            case 6: line_to_panels(src, len, i, kc, 6, buf); break;
            default: line_to_panels(src, len, i, kc, mr, buf); break;
            }
    }
    return rows ? (view){buf, ld, ld, 1} : (view){buf, kc, 1, mr};
}

/* Stores v[q] for q < n as C elements at + q*stride: C = v (beta 0, C never read) or fma(beta, C, v), rounded
 * once to C's type, NaN as CK_OUTPUT_NAN; contiguous runs with beta 0 go through the vector kernel (outputs), with
 * streaming stores if `stream` for the whole 64-byte lines in the middle (a line written only in part would leave
 * the write-combining buffer as partial writes; gemm_task fences them). */
static void store_run(const gemm_job *job, void *c, size_t at, size_t stride, const float *v, size_t n, bool stream) {
    const ck_dtype t = job->ctype;
    const float beta = job->beta;
    if (beta == 0.0f && stride == 1) {
        const size_t size = ck_dtype_size(t), line = 64 / size;
        char *y = (char *)c + at * size;
        size_t head = stream ? (64 - (uintptr_t)y % 64) % 64 / size : n;
        if (head > n) head = n;
        const size_t whole = (n - head) / line * line;
        if (head) job->f->outputs(v, y, t, head, false);
        if (whole) job->f->outputs(v + head, y + head * size, t, whole, true);
        if (head + whole < n) job->f->outputs(v + head + whole, y + (head + whole) * size, t, n - head - whole, false);
        return;
    }
    for (size_t q = 0; q < n; q++) {
        const size_t i = at + q * stride;
        ck_store_bits(c, t, i, ck_output_bits(beta == 0.0f ? v[q] : fmaf(beta, ck_bits_f32(ck_load_bits(c, t, i)), v[q])));
    }
}

/* Stores rows [r0, r1) (r0 a tile's first) x strips [s0, s1) of the block's tiles tl (tile (t, st) at
 * acc + (t*strips + st)*mr*nr), of the block's columns j0 ..< j0 + nb. C's rows are runs where C is row-major, each
 * row's piece gathered into one; where C's columns are contiguous (k-grouped [N, K] outputs) each column is gathered
 * into a line and stored as a run. An empty reduction with beta 1 leaves C. */
static void write_part(const gemm_job *job, const problem *p, float *acc, const tiling *tl, size_t i0, size_t j0,
                       size_t nb, size_t r0, size_t r1, size_t s0, size_t s1) {
    if (p->red == 0 && job->beta == 1.0f) return;
    const size_t mr = (size_t)job->k->mr, nr = (size_t)job->k->nr, strips = ck_div_up(nb, nr);
    if (p->csc == 1 || p->rsc != 1)
        for (size_t i = r0; i < r1; i++) {
            float line[NB];
            const size_t t = tile_of_row(tl, i);
            const float *row = acc + (t * strips * mr + i - tile_first(tl, t)) * nr; /* row i in its tile of strip 0 */
            const size_t j = s0 * nr, n = (s1 * nr < nb ? s1 * nr : nb) - j;
            for (size_t st = s0; st < s1; st++) memcpy(line + (st - s0) * nr, row + st * mr * nr, nr * sizeof(float));
            store_run(job, p->c, (i0 + i) * p->rsc + (j0 + j) * p->csc, p->csc, line, n, job->stream);
        }
    else
        for (size_t j = s0 * nr; j < nb && j < s1 * nr; j++) {
            float line[MAX_BLOCK_ROWS];
            const float *col = acc + j / nr * mr * nr + j % nr; /* column j in the block's first tile */
            for (size_t t = tile_of_row(tl, r0); t < tl->n && tile_first(tl, t) < r1; t++) { /* tile t's rows */
                const size_t first = tile_first(tl, t), end = tile_first(tl, t + 1) < r1 ? tile_first(tl, t + 1) : r1;
                for (size_t i = first; i < end; i++) line[i - r0] = col[(t * strips * mr + i - first) * nr];
            }
            store_run(job, p->c, i0 + r0 + (j0 + j) * p->csc, 1, line, r1 - r0, job->stream);
        }
}

/* Columns [j, j + n) of every row of p's C from out (rows ld apart): the decode and transposed blocks' pieces of
 * rows, never streamed. */
static void store_rows(const gemm_job *job, const problem *p, size_t j, float *out, size_t ld, size_t n) {
    for (size_t r = 0; r < p->rows; r++) store_run(job, p->c, r * p->rsc + j * p->csc, p->csc, out + r * ld, n, false);
}

/* The length of the span that starts at p0 of a reduction of red. */
static size_t span_at(size_t red, size_t p0) { return red - p0 < SPAN ? red - p0 : SPAN; }

/* The lines of B's rows [l0, l0 + kp) x columns [j0, j0 + nb), as runs along whichever of B's axes is contiguous,
 * for the tiles to prefetch (n: all of them). */
static ck_prefetch span_lines(const operand *b, size_t l0, size_t kp, size_t j0, size_t nb) {
    const size_t size = ck_dtype_size(b->type); /* runs: B's columns, B's rows, or packed weights' strips */
    const size_t len = (b->rs == 1 ? kp : b->ss ? kp * b->rs : nb) * size;
    const size_t stride = (b->rs == 1 ? b->cs : b->ss ? b->ss : b->rs) * size;
    const size_t runs = b->rs == 1 ? nb : b->ss ? ck_div_up(nb, CK_PACKED_COLUMNS) : kp;
    const char *row = element(b->data, offset(b, l0, j0), b->type);
    /* a run that starts inside a line, or runs that do not all start where the first does, touch one line more */
    const size_t per_row = ck_div_up(len + ((uintptr_t)row % 64 || stride % 64 ? 63 : 0), 64);
    return (ck_prefetch){row, stride, per_row, 0, runs * per_row};
}

/* The floats of `rows` rows of x padded_ld(red) apart: what a participant keeps of a problem's x (decode_x, whole_a),
 * at most X_FLOATS. */
static size_t x_floats(size_t rows, size_t red) { return rows * padded_ld(red); }

/* A transposed problem's x (decode_x): its rows padded to whole AVX-512 vectors, each l's row values ldt apart. */
static size_t xt_ld(size_t rows) { return ck_div_up(rows, 16) * 16; }
static size_t xt_floats(const problem *p) { return xt_ld(p->rows) * p->red; }

/* Row r of a problem's x (A's rows contiguous) as f32: FP32 read in place, other types decoded exactly into line
 * (room for red floats). */
static const float *x_row(const ck_formats_kernels *f, const problem *p, size_t r, float *line) {
    if (p->a.type == CK_DTYPE_F32) return (const float *)p->a.data + r * p->a.rs;
    return a_view(f, &p->a, r, 1, 0, p->red, p->red, 1, line).p;
}

/* A decode problem's x, or a whole_a problem's, or a transposed one's, decoded exactly to f32 into buf (room for
 * rows + 1 lines of padded_ld(red); for a transposed problem xt_floats and one line), laid out as its kernels read
 * it (ck_gemm_kernels.decode_nk, decode_kn, tile, tile_t); returns the ldx to pass. decode_nk's x is blocked, so
 * that the kernel finds every row's value at a constant offset: each row is decoded into the last line of buf
 * (FP32 read in place) and cut into blocks of CK_DECODE_XB; the others' rows lie padded_ld(red) apart. A dot
 * problem's rows are pairs (ck_dot_kernels.rows). */
static size_t decode_x(const ck_formats_kernels *f, const problem *p, float *buf) {
    const size_t rows = p->rows, red = p->red, ld = rows * CK_DECODE_XB;
    if (p->transposed) { /* A transposed, ldt = xt_ld(rows) apart (ck_gemm_kernels.tile_t), +0 past rows: each row
                            decoded into the line past them, then stored down a column */
        const size_t ldt = xt_ld(rows);
        float *line = buf + red * ldt;
        for (size_t r = 0; r < ldt; r++) {
            const float *src = r < rows ? x_row(f, p, r, line) : NULL;
            for (size_t l = 0; l < red; l++) buf[l * ldt + r] = src ? src[l] : 0.0f;
        }
        return ldt;
    }
    if (p->dot) { /* the dot kernels' pairs */
        const size_t pairs_ld = padded_ld(ck_div_up(red, 2));
        p->dot->rows(p->a.data, p->a.type, p->a.rs, rows, red, (uint32_t *)buf, pairs_ld);
        return pairs_ld;
    }
    if (!p->decode || decode_kn(p)) return a_view(f, &p->a, 0, rows, 0, red, padded_ld(red), 1, buf).rs;
    float *line = buf + rows * padded_ld(red);
    for (size_t r = 0; r < rows; r++) {
        const float *src = x_row(f, p, r, line);
        for (size_t l = 0; l < red; l += CK_DECODE_XB)
            memcpy(buf + ck_decode_x_index(r, l, ld), src + l,
                   (red - l < CK_DECODE_XB ? red - l : CK_DECODE_XB) * sizeof(float));
    }
    return ld;
}

/* Makes the participant's buffer hold p's x (decode_x) unless it already does: its next task of the same problem
 * reuses it. */
static void keep_x(const gemm_job *job, const problem *p, scratch *s) {
    if (s->x_of == p) return;
    s->x_ld = decode_x(job->f, p, s->a);
    s->x_of = p;
}

/* Whether a packed (not a transposed) problem's A is decoded whole, once per participant, rather than a chunk per task:
 * A's rows contiguous (x in the m-grouped calls, and the FP8 k-grouped calls' transposed x) in a problem of at most
 * FEW_ROWS rows (so one row block) whose rows fit X_FLOATS. Its tasks (NB_FEW columns each) would otherwise copy the
 * same rows again and again: 64 of V2-Lite's experts on two threads, in turn with the per-task copies (medians of seven
 * to nine calls), took 0.91-0.99 x the time with 17 to 40 rows of FP32 weights, 0.92 x with BF16, 0.97 x with E4M3;
 * under dot products (x kept as pairs), 64 experts of 24 rows, two threads, best of 20 calls, 0.93-0.97 x with BF16
 * weights and 0.90-0.97 x with E4M3 ones. */
static bool whole_a(const problem *p) {
    return !p->decode && !p->transposed && p->a.cs == 1 && p->rows <= FEW_ROWS && p->red &&
           x_floats(p->rows, p->red) <= X_FLOATS;
}

/* Whether p runs the transposed tiles (ck_gemm_kernels.tile_t), which read the weights in place instead of packing
 * them: unscaled FP32 weights whose reduction is contiguous ([N, K] in the forward calls) against rows of x that are
 * contiguous (decode_x transposes them), more than the decode kernels take (m_problem) and at most tile_t_rows, whose
 * transpose takes at most X_FLOATS. A problem of so few rows reuses each packed weight only a few times, so the
 * packing cost nearly half as much time as the tiles. The decode kernels come first: 64 of V2-Lite's experts with the
 * same rows each (Zen 4, two threads, weights from DRAM, the benchmark's T = 256 case with its routing replaced) took
 * 0.58, 0.65 and 0.69 x the transposed tiles' time in decode_nk with 9, 11 and 12 rows, and capped at AVX2 0.91, 0.99
 * and 0.75 x. */
static bool transposed(const ck_gemm_kernels *k, const problem *p) {
    return k->tile_t && !p->decode && !p->dot && !p->sa && !p->sb && p->b.type == CK_DTYPE_F32 && p->b.rs == 1 &&
           !p->b.ss && p->a.cs == 1 && p->red && p->rows <= (size_t)k->tile_t_rows && xt_floats(p) <= X_FLOATS;
}

/* B's rows [l, l + len) x columns [j, j + cols) packed into dst: the dot kernels' pairs or the tiles' f32 panels
 * (ck_dot_kernels.pack, ck_gemm_kernels.pack; `prefetch` as for the latter). */
static void pack_b(const ck_gemm_kernels *k, const problem *p, size_t l, size_t len, size_t j, int cols, float *dst,
                   bool prefetch) {
    const void *src = element(p->b.data, offset(&p->b, l, j), p->b.type);
    if (p->dot) p->dot->pack(src, p->b.type, p->b.rs, p->b.cs, len, cols, (uint32_t *)dst);
    else k->pack(src, p->b.type, p->b.rs, p->b.cs, len, cols, dst, prefetch);
}

/* Task t's block: its problem's rows [i0, i0 + rows) x columns [j0, j0 + cols). */
typedef struct {
    const problem *p;
    size_t i0, rows, j0, cols;
} block;

static block task_block(const gemm_job *job, size_t t) {
    size_t lo = 0, hi = job->groups; /* the problem whose task range holds t */
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        if (job->first_task[mid] <= t) lo = mid;
        else hi = mid;
    }
    const problem *p = &job->problems[lo];
    const size_t mb = block_rows(job->k), nb = p->nb, local = t - job->first_task[lo];
    const size_t col_blocks = ck_div_up(p->cols, nb), bi = local / col_blocks, i0 = bi * mb;
    const size_t j0 = local % col_blocks * nb, cols = p->cols - j0 < nb ? p->cols - j0 : nb;
    const size_t rows = bi + 1 == row_blocks(p->rows, mb) ? p->rows - i0 : mb; /* the last block takes the rest */
    return (block){p, i0, rows, j0, cols};
}

/* The lines of the first span of B that the participant's next task packs (claimed now), if it is a packed block. */
static ck_prefetch next_task_lines(const gemm_job *job, ck_task_next *after) {
    const size_t t = ck_next_task(after);
    if (t == job->first_task[job->groups]) return (ck_prefetch){0};
    const block b = task_block(job, t);
    if (b.p->decode || b.p->transposed || b.p->red == 0) return (ck_prefetch){0};
    return span_lines(&b.p->b, 0, span_at(b.p->red, 0), b.j0, b.cols);
}

/* The reduction of a tile call: the scale block (KC) where scales apply to its partial sums, and for the dot kernels
 * (whose chunks were not measured longer); else a span, so that each tile's accumulators go through memory half as
 * often. Against chunks of KC (Zen 4, two threads, weights in 2 MiB pages, C driver, medians of six calls in turn): 64
 * of V2-Lite's experts with top-6 routing of 256 tokens took 0.98 x the time (4 KiB pages 0.97 x), of 4096 tokens 0.99
 * x forward ([N, K] weights), 0.98 x with [K, N] weights, 1.00 x k-grouped; 16 of V3's experts, 4096 tokens, 0.98 x;
 * on AVX2 256 tokens the same time. */
static size_t chunk_of(const problem *p) { return p->sa || p->sb || p->dot ? KC : SPAN; }

/* Whether a block of mb rows whose B is packed a strip at a time (run_block's per_strip: [N, K] weights, transposed in
 * registers) packs each strip's panel after its first in the tiles of the strip before (ck_gemm_kernels.tile_pack), the
 * first FUSED_TILES tiles a part each, where that panel is a full strip whose span is a multiple of 16 long: unscaled
 * FP32 weights outside the dot kernels (span-long chunks), where the kernels have tile_pack, in blocks of FUSED_TILES
 * full tiles to FEW_ROWS rows. The transposes' shuffles then issue between the FMAs instead of in a pass of their own.
 * With the next strip's rows in L2 or L3, a strip's pack and four tiles took 0.87 x the time (one thread). From DRAM
 * (64 of V2-Lite's experts, Zen 4, two threads, weights in 2 MiB pages, C driver, medians of six calls in turn, best of
 * five to nine each): 24 rows each 0.95 x, 40 rows 0.97 x, 64 rows 0.96 x, top-6 routing of 256 tokens 0.97-0.98 x, 16
 * of V3's experts of 24 rows 0.96 x. With fewer rows the weights stream at nearly the read bandwidth, and the pieces'
 * loads, spread thin, wait on memory where the pack's many loads overlap (18 rows 1.13 x, 21 rows 1.10 x); with more,
 * the pack is a small share and the fused calls lost a little (96 rows 1.01 x, V3's too; 4096 tokens 1.01 x). */
static bool fused(const ck_gemm_kernels *k, const problem *p, size_t mb) {
    return k->tile_pack && p->b.type == CK_DTYPE_F32 && chunk_of(p) == SPAN && mb >= FUSED_TILES * (size_t)k->mr &&
           mb <= FEW_ROWS;
}

/* A packed problem's block, run through the tiles a chunk (chunk_of) of the reduction at a time. Where B's reduction is
 * contiguous ([N, K] weights), each strip's chunk is packed just before its tiles, so that the panel the pack writes is
 * still in cache for them (or, see fused, by the tiles of the strip before); otherwise B is packed a span (SPAN) of all
 * strips at a time, so that the pack reads whole runs along B's rows. Against packing [N, K] weights a span at a time
 * too (64 of V2-Lite's experts from DRAM, two threads, medians of 4 to 8 calls in turn, on a Xeon with AVX512_BF16):
 * FP32 experts of 24 rows took 0.95 x the time, 384 rows 0.97 x, BF16 ones 0.90 x at both; on AVX2 0.92 x and 0.95 x;
 * 16 of V3's experts of 96 rows 0.92 x, 1536 rows 0.96 x. [K, N] weights packed per strip took 1.10 x the time at 24
 * rows (at 384, 0.94-1.16 x: noise). The tiles prefetch the next span's lines into L2, spread evenly over their calls,
 * so that the weights stream in while the FMAs run and the next pack reads them from L2; in the last span, the first
 * span of the participant's next task (claimed early, see next_task_lines). The pack prefetches for itself the first
 * span too, in case no tile did (the dot pack and the tiles' pieces leave it to the hardware prefetchers). Against
 * leaving the first span to the pack (64 of V2-Lite's experts from DRAM, top-6 routing of 256 tokens, two threads on
 * Zen 4, medians of six calls in turn, best of nine each), that took 0.96 x the time with the weights in 2 MiB pages,
 * 0.99 x in 4 KiB pages; 4096 tokens the same time. A tile prefetches at most a line per step; lines past that (a
 * quarter of an FP32 span with 13 to 18 rows) are left to the pack, as two per step, or the pack's own prefetches for
 * such spans, measured slower. 64 of V2-Lite's experts on two threads, in turn with the kernels that packed few-row
 * experts 1024 of the reduction at a time with the pack's prefetches alone (medians of three runs): FP32 experts of 17,
 * 24 and 40 rows took 0.90-0.93 x the time, BF16 ones of 24 rows 0.93 x, E4M3 the same; 384 rows, and V3's experts of
 * 96 rows, the same within the noise. */
static void run_block(const gemm_job *job, const problem *p, scratch *s, size_t i0, size_t mb, size_t j0,
                      size_t nb, ck_task_next *after) {
    const ck_gemm_kernels *k = job->k;
    const ck_dot_kernels *dot = p->dot;
    const size_t mr = (size_t)k->mr, nr = (size_t)k->nr, strips = ck_div_up(nb, nr);
    const tiling tl = tiles_of(mb, mr, p->a.cs == 1);
    const size_t tiles = tl.n;
    /* packed FP32 weights are the tiles' panels as they stand; other packed weights are packed a strip at a time */
    const bool direct = !dot && p->b.ss && p->b.type == CK_DTYPE_F32;
    const size_t ldb = direct ? CK_PACKED_COLUMNS : nr, piece = p->b.ss ? CK_PACKED_COLUMNS : nb;
    /* B's reduction contiguous: each chunk of a strip is packed just before its tiles or by the tiles before (blocks
       transposed in registers), otherwise a span of all strips at once (whole runs along B's rows) */
    const bool per_strip = !direct && p->b.rs == 1;
    if (p->red == 0) memset(s->acc, 0, tiles * strips * mr * nr * sizeof(float));
    /* A reduction of one chunk (the k-grouped calls over few tokens) stores its sums as they complete, while they
       are in cache (a block's accumulators, 384 x 512 floats, outgrow Zen 3's 512 KiB of L2): with B packed a span at
       a time and C's rows contiguous, the tiles run a row of tiles at a time and store its rows whole, otherwise a
       strip at a time, each strip stored as its tiles finish it. Other blocks are stored at their end: strips stored
       as they finish in the forward calls, 384 rows per expert, took 1.01-1.08 x the time on Zen 3. Against storing
       every block at its end a strip of a row at a time (64 of V2-Lite's wgrads over 24 tokens each, two threads on
       Zen 3, medians of 3 to 6 calls in turn): [K, N] outputs took 0.78 x the time, [N, K] ones 0.34-0.61 x (with
       the vector outputs kernel and whole rows per store_run call, both part of the gain). */
    const size_t chunk = chunk_of(p);
    const bool early = p->red && p->red <= chunk, by_rows = early && !per_strip && p->csc == 1;
    /* FP32 panels packed a strip at a time: each strip's tiles pack the next full strip's panel (of this chunk, or
       strip 0 of the next span) on the way, into the other half of pb (see fused) */
    const bool fuse = per_strip && fused(k, p, mb);
    size_t half = 0;      /* the half of pb that holds the strip's panel */
    bool ready = false;   /* whether that panel is packed already */
    ck_pieces next_panel; /* the panel the strip's tiles pack, when they pack one */
    const bool whole = whole_a(p);
    if (whole) keep_x(job, p, s);
    else s->x_of = NULL; /* the block's A chunks take the buffer */
    for (size_t p0 = 0; p0 < p->red; p0 += SPAN) {
        const size_t kp = span_at(p->red, p0), next = p0 + kp, pairs = ck_div_up(kp, 2);
        for (size_t j = 0; !direct && !per_strip && j < nb; j += piece)
            pack_b(k, p, p0, kp, j0 + j, (int)(nb - j < piece ? nb - j : piece), s->pb + j * (dot ? pairs : kp),
                   p0 == 0);
        ck_prefetch pf = next < p->red ? span_lines(&p->b, next, span_at(p->red, next), j0, nb)
                                        : next_task_lines(job, after);
        const size_t lines = pf.n;
        size_t calls = ck_div_up(kp, chunk) * strips * tiles; /* the tile calls left in this span */
        for (size_t l0 = p0; l0 < p0 + kp; l0 += chunk) {
            const size_t kc = p0 + kp - l0 < chunk ? p0 + kp - l0 : chunk, kcp = ck_div_up(kc, 2), lda = padded_ld(kcp);
            const view a = whole ? (view){s->a + l0, s->x_ld, s->x_ld, 1}
                           : dot ? (view){NULL, 0, 0, 0}
                                 : a_view(job->f, &p->a, i0, mb, l0, kc, kc, mr, s->a);
            /* the dot tiles' rows of A as pairs: kept whole, or copied as a_view copies f32 (rows of x 4 KiB apart
             * would crowd L1's sets) */
            uint32_t *ap = !dot ? NULL : whole ? (uint32_t *)s->a + l0 / 2 : (uint32_t *)s->a;
            const size_t ldap = whole ? s->x_ld : lda;
            if (dot && !whole)
                dot->rows(element(p->a.data, i0 * p->a.rs + l0, p->a.type), p->a.type, p->a.rs, mb, kc, ap, lda);
            float sa[MAX_MR], sb[MAX_NR];
            for (size_t q = 0; q < strips * tiles; q++) {
                const size_t st = by_rows ? q % strips : q / tiles, t = by_rows ? q / strips : q % tiles;
                const size_t j = st * nr, cols = nb - j < nr ? nb - j : nr; /* the strip's */
                const size_t i = tile_first(&tl, t), rows = tile_first(&tl, t + 1) - i; /* the tile's */
                float *strip_pb = s->pb + half * nr * SPAN; /* per_strip: the strip's panel */
                if (per_strip && t == 0) {
                    if (!ready) pack_b(k, p, l0, kc, j0 + j, (int)cols, strip_pb, p0 == 0);
                    /* the next strip: this chunk's, or the first of the next span */
                    const size_t nl = st + 1 < strips ? l0 : l0 + kc, nj = st + 1 < strips ? j + nr : 0;
                    const size_t nkc = nl < p->red ? span_at(p->red, nl) : 0;
                    ready = fuse && nkc && nkc % 16 == 0 && nb - nj >= nr;
                    if (ready)
                        next_panel = (ck_pieces){(const float *)p->b.data + offset(&p->b, nl, j0 + nj), p->b.cs, nkc,
                                                 s->pb + (half ^ 1) * nr * SPAN, 0, FUSED_TILES};
                }
                const float *pb = direct      ? (const float *)p->b.data + offset(&p->b, l0, j0 + j)
                                  : per_strip ? strip_pb
                                              : s->pb + st * kp * nr + (l0 - p0) * nr;
                const uint32_t *pairs_b = per_strip ? (const uint32_t *)strip_pb
                                                    : (const uint32_t *)s->pb + (st * pairs + (l0 - p0) / 2) * nr;
                if (p->sb && (by_rows || t == 0)) col_scales(p, l0, j0 + j, cols, nr, sb);
                if (p->sb) row_scales(p, l0, i0 + i, rows, sa);
                const size_t share = ck_div_up(lines - pf.at, calls--), steps = dot ? kcp : kc;
                pf.n = share < steps ? share : steps;
                float *out = s->acc + (t * strips + st) * mr * nr;
                if (dot)
                    dot->tile(kcp, ap + i * ldap, ldap, pairs_b, out, (int)rows, p->sb ? sa : NULL, sb, l0 == 0,
                              pf.n ? &pf : NULL);
                else if (ready && t < FUSED_TILES) {
                    next_panel.part = t;
                    k->tile_pack(kc, a.p + i * a.ts, a.rs, a.cs, pb, ldb, out, (int)rows, l0 == 0, pf.n ? &pf : NULL,
                                 &next_panel);
                } else
                    k->tile(kc, a.p + i * a.ts, a.rs, a.cs, pb, ldb, out, (int)rows, p->sb ? sa : NULL, sb, l0 == 0,
                            pf.n ? &pf : NULL);
                if (per_strip && t + 1 == tiles) half ^= ready; /* the next strip reads the panel packed meanwhile */
                pf.at += pf.n;
                if (by_rows && st + 1 == strips) write_part(job, p, s->acc, &tl, i0, j0, nb, i, i + rows, 0, strips);
                else if (early && !by_rows && t + 1 == tiles)
                    write_part(job, p, s->acc, &tl, i0, j0, nb, 0, mb, st, st + 1);
            }
        }
    }
    if (!early) write_part(job, p, s->acc, &tl, i0, j0, nb, 0, mb, 0, strips);
}

/* A decode problem's columns [j0, j0 + nb): x's rows decoded once, then each group of the kernel's width of
 * columns (of packed weights, at most KN_STRIPS strips) runs its whole reduction (its 128-long scaled blocks inside
 * the kernel), its weights streamed once from memory. */
static void run_decode_block(const gemm_job *job, const problem *p, scratch *s, size_t j0, size_t nb) {
    const ck_gemm_kernels *k = job->k;
    const bool kn = decode_kn(p);
    /* the dot kernels: [N, K] weights' (rows contiguous, and any [K, 1]), or the others' */
    const bool dot_kn = p->dot && p->b.rs != 1;
    /* the kernel's width: out's row stride */
    const size_t w = p->dot ? (dot_kn ? CK_DOT_DECODE_KN_W : CK_DOT_DECODE_W)
                            : (size_t)(kn ? k->decode_kn_w : k->decode_nk_w);
    const size_t per_call = p->b.ss && w > KN_STRIPS * CK_PACKED_COLUMNS ? KN_STRIPS * CK_PACKED_COLUMNS : w;
    keep_x(job, p, s);
    for (size_t g = j0; g < j0 + nb; g += per_call) {
        const int cols = (int)(j0 + nb - g < per_call ? j0 + nb - g : per_call);
        /* the task's next call's columns: for [N, K] weights, the rows after this call's (see ck_prefetch_next) */
        const size_t left = j0 + nb - g - (size_t)cols;
        const int next = (int)(left < per_call ? left : per_call);
        /* the weight scales of the grid's block that holds column g (a call starts a block or lies within one) */
        const float *sb = p->sb ? p->sb + (g >> p->sb_shift) * p->sb_js : NULL;
        if (p->dot)
            (dot_kn ? p->dot->decode_kn : p->dot->decode)(p->red, element(p->b.data, offset(&p->b, 0, g), p->b.type),
                                                          p->b.type, dot_kn ? p->b.rs : p->b.cs, cols, next,
                                                          (const uint32_t *)s->a, s->x_ld, (int)p->rows, s->acc, p->sa,
                                                          p->sa_rs, sb, p->sb_ls);
        else (kn ? k->decode_kn : k->decode_nk)(p->red, element(p->b.data, offset(&p->b, 0, g), p->b.type), p->b.type,
                                           kn ? p->b.rs : p->b.cs, strip_stride(&p->b), cols, next, s->a, s->x_ld,
                                           (int)p->rows, s->acc, p->sa, p->sa_rs, sb, p->sb_ls, p->sb_js);
        store_rows(job, p, g, s->acc, w, (size_t)cols);
    }
}

/* A transposed problem's columns [j0, j0 + nb): x transposed once per participant (keep_x), then the transposed tiles
 * over the whole reduction, the weights read in place. */
static void run_transposed_block(const gemm_job *job, const problem *p, scratch *s, size_t j0, size_t nb) {
    keep_x(job, p, s);
    job->k->tile_t(p->red, element(p->b.data, offset(&p->b, 0, j0), p->b.type), p->b.cs, (int)nb, s->a, s->x_ld,
                   (int)p->rows, s->acc, nb);
    store_rows(job, p, j0, s->acc, nb, nb);
}

static void gemm_task(void *arg, size_t t, int tid, ck_task_next *next) {
    const gemm_job *job = arg;
    const block b = task_block(job, t);
    scratch *s = &job->scratch[tid];
    if (b.p->decode) run_decode_block(job, b.p, s, b.j0, b.cols);
    else if (b.p->transposed) run_transposed_block(job, b.p, s, b.j0, b.cols);
    else run_block(job, b.p, s, b.i0, b.rows, b.j0, b.cols, next);
    if (job->stream) ck_store_fence();
}

/* An array for `groups` problems (NULL when out of memory; run_problems frees it). */
static problem *new_problems(size_t groups) { return calloc(groups ? groups : 1, sizeof(problem)); }

/* Runs every problem as one task list, then frees `problems`; problems with no rows or columns have no tasks. */
static ck_status run_problems(problem *problems, size_t groups, float beta, ck_dtype ctype) {
    /* per participant (floats): packed B, the block's accumulators, A's chunk (a decode problem's whole x, and a
     * line to decode its rows in; a whole_a problem's x; a transposed problem's x transposed, and that line) */
    const ck_gemm_kernels *k = ck_gemm_dispatch();
    /* the dot kernels fill tiles of their own shape: if the ISA cap came down since the call began (another thread),
     * this table's tiles differ and the FMA kernels take the problems; decode problems of more rows than their
     * decode_kn takes (CK_DOT_DECODE_KN_M > CK_DECODE_M, with [K, N] or packed weights) go to their tiles */
    for (size_t g = 0; g < groups && (k->mr != CK_DOT_MR || k->nr != CK_DOT_NR); g++) {
        problem *p = &problems[g];
        if (p->dot && p->decode && p->b.rs != 1 && p->rows > CK_DECODE_M) p->decode = false;
        p->dot = NULL;
    }
    size_t work = 0; /* multiply-adds (an empty reduction counts one per output), saturating; rows x cols cannot
                        overflow: the checks bounded the output's extent */
    for (size_t g = 0; g < groups; g++) {
        size_t w;
        const problem *p = &problems[g];
        if (__builtin_mul_overflow(p->rows * p->cols, p->red ? p->red : 1, &w) || __builtin_add_overflow(work, w, &work))
            work = SIZE_MAX;
    }
    const int most = ck_participants(work, GEMM_GRAIN), all = ck_num_threads();
    const size_t mb = block_rows(k), pb = PB, threads = (size_t)(most < all ? most : all);
    const size_t kn_out = 2 * CK_DECODE_M * (size_t)k->decode_kn_w;    /* decode_kn's outputs and scratch */
    const size_t nk_out = 2 * CK_DECODE_NK_M * (size_t)k->decode_nk_w; /* decode_nk's */
    const size_t out = kn_out > nk_out ? kn_out : nk_out;
    const size_t acc = max_block_rows(mb) * NB > out ? max_block_rows(mb) * NB : out;
    for (size_t g = 0; g < groups; g++) { /* the path this table runs: [N, K] experts of more rows than its decode_nk
                                             takes go to the tiles, the transposed ones where it has them */
        problem *p = &problems[g];
        if (!p->dot && p->decode && p->b.rs == 1 && p->rows > (size_t)k->decode_nk_rows) p->decode = false;
        p->transposed = transposed(k, p);
    }
    set_task_cols(problems, groups, threads);
    size_t *first = malloc((groups + 1) * sizeof(size_t));
    if (first == NULL) {
        free(problems);
        return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate the task list");
    }
    const size_t panel_rows = ck_div_up(max_block_rows(mb), (size_t)k->mr) * (size_t)k->mr;
    size_t a = panel_rows * SPAN + panel_rows, outputs = 0; /* a_view's micro-panels and line */
    first[0] = 0;
    for (size_t g = 0; g < groups; g++) {
        const problem *p = &problems[g];
        first[g + 1] = first[g] + row_blocks(p->rows, mb) * ck_div_up(p->cols, p->nb);
        if ((p->decode || whole_a(p)) && x_floats(p->rows + 1, p->red) > a) a = x_floats(p->rows + 1, p->red);
        if (p->transposed && xt_floats(p) + p->red > a) a = xt_floats(p) + p->red; /* and decode_x's line */
        if (!p->decode && !p->transposed && (p->csc == 1 || p->rsc == 1))
            outputs += p->rows * p->cols; /* what write_part can stream */
    }
    const size_t ntasks = first[groups], per = (pb + acc + a + 15) / 16 * 16; /* whole lines: blocks stay aligned */
    const size_t participants = ntasks < threads ? (ntasks ? ntasks : 1) : threads;
    scratch *sc = malloc(participants * sizeof(scratch));
    size_t bytes;
    float *pool = __builtin_mul_overflow(participants * sizeof(float), per, &bytes) ? NULL : aligned_alloc(64, bytes);
    if (sc == NULL || pool == NULL) {
        free(pool);
        free(sc);
        free(first);
        free(problems);
        return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate the GEMM's buffers");
    }
    for (size_t i = 0; i < participants; i++) {
        float *base = pool + i * per;
        sc[i] = (scratch){base, base + pb, base + pb + acc, NULL, 0};
    }
    const bool stream = beta == 0.0f && outputs > ck_stream_threshold() / ck_dtype_size(ctype);
    gemm_job job = {k, ck_formats_dispatch(), problems, first, groups, beta, ctype, sc, stream};
    ck_parallel_for(ntasks, gemm_task, &job, (int)participants);
    free(pool);
    free(sc);
    free(first);
    free(problems);
    return CK_OK;
}

/* ---- argument checks ---- */
static ck_status check_groups(const int64_t *sizes, size_t groups, size_t total, const char *name, bool exact) {
    if (groups > 0 && sizes == NULL) return ck_fail(CK_ERR_NULL_POINTER, name, "%s is NULL", name);
    size_t sum = 0;
    for (size_t g = 0; g < groups; g++) {
        if (sizes[g] < 0) return ck_fail(CK_ERR_INVALID_SHAPE, name, "%s[%zu] = %lld is negative", name, g, (long long)sizes[g]);
        if ((uint64_t)sizes[g] > total || __builtin_add_overflow(sum, (size_t)sizes[g], &sum) || sum > total)
            return ck_fail(CK_ERR_INVALID_SHAPE, name, "%s add up to more than %zu", name, total);
    }
    if (exact && sum != total) return ck_fail(CK_ERR_INVALID_SHAPE, name, "%s add up to %zu, not %zu", name, sum, total);
    return CK_OK;
}

/* A layout of unpacked weights (or, with `packed`, also of packed ones). */
static ck_status check_layout(ck_weight_layout layout, const char *name, bool packed) {
    if (layout == CK_WEIGHTS_NK || layout == CK_WEIGHTS_KN || (packed && layout == CK_WEIGHTS_PACKED)) return CK_OK;
    return ck_fail(CK_ERR_INVALID_VALUE, name, "%s must be CK_WEIGHTS_NK%s CK_WEIGHTS_KN%s", name, packed ? "," : " or",
                   packed ? " or CK_WEIGHTS_PACKED" : "");
}

static ck_status check_beta(float beta) {
    if (!isfinite(beta)) return ck_fail(CK_ERR_INVALID_VALUE, "beta", "beta must be finite");
    return CK_OK;
}

static ck_status check_type(ck_dtype t, const char *name, bool fp8) {
    if (t == CK_DTYPE_F32 || t == CK_DTYPE_BF16 || (fp8 && t == CK_DTYPE_E4M3FN)) return CK_OK;
    return ck_fail(CK_ERR_INVALID_VALUE, name, "%s must be CK_DTYPE_F32, CK_DTYPE_BF16%s", name,
                   fp8 ? " or CK_DTYPE_E4M3FN" : "");
}

/* Scales are given exactly for FP8 operands: `count` (> 0) floats, or none. */
static ck_status check_scales(const float *scales, const char *name, ck_dtype t, size_t count) {
    if (t != CK_DTYPE_E4M3FN) {
        if (scales != NULL) return ck_fail(CK_ERR_INVALID_VALUE, name, "%s must be NULL for a non-FP8 operand", name);
        return CK_OK;
    }
    return ck_check_matrix(scales, name, 1, count, count, sizeof(float));
}

/* The weights of `groups` experts, each [rows, cols] and `stride` elements apart. */
static ck_status check_experts(const void *w, ck_dtype t, const char *name, size_t groups, size_t rows, size_t cols,
                               size_t stride) {
    if (groups == 0 || rows == 0 || cols == 0) return CK_OK;
    size_t elems;
    if (__builtin_mul_overflow(rows, cols, &elems))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, name, "%s: one expert (%zu x %zu) overflows", name, rows, cols);
    if (stride < elems)
        return ck_fail(CK_ERR_INVALID_STRIDE, name, "%s: expert stride %zu is smaller than one expert (%zu x %zu)", name,
                       stride, rows, cols);
    return ck_check_matrix(w, name, groups, elems, stride, ck_dtype_size(t));
}

/* ---- public entry points ---- */
/* The grid of 128 x 128 scale blocks of a [rows, cols] weight, as its element count. */
static size_t scale_grid(size_t rows, size_t cols) { return ck_div_up(rows, KC) * ck_div_up(cols, KC); }

/* An m-grouped call's operands, as its entry point received them (the masked layout's x and y rows are
 * packed: ldx = k, ldy = n). */
typedef struct {
    const void *x;
    ck_dtype xt;
    const float *xs;
    size_t ldx;
    const void *w;
    ck_dtype wt;
    const float *ws;
    ck_weight_layout layout;
    size_t w_stride, n, k;
    void *y;
    ck_dtype yt;
    size_t ldy;
    const ck_dot_kernels *dot; /* ck_dot_dispatch() */
} m_call;

/* Checks what the m-grouped entry points share: types, layout, beta, the experts' weights and their scales, and
 * x and y as `rows` rows of the call's strides. */
static ck_status check_m_grouped(const m_call *c, size_t rows, size_t groups, float beta) {
    const size_t n = c->n, k = c->k;
    ck_status s;
    if ((s = check_type(c->xt, "x_type", true)) || (s = check_type(c->wt, "w_type", true)) ||
        (s = check_type(c->yt, "y_type", false)) || (s = check_layout(c->layout, "layout", true)) ||
        (s = check_beta(beta)))
        return s;
    if (c->xt == CK_DTYPE_E4M3FN && c->wt != CK_DTYPE_E4M3FN)
        return ck_fail(CK_ERR_INVALID_VALUE, "w_type", "FP8 activations need FP8 weights (w_type CK_DTYPE_E4M3FN)");
    const bool kn = c->layout == CK_WEIGHTS_KN;
    size_t wr = kn ? k : n, wc = kn ? n : k; /* an expert's weights as a matrix: packed, n rounded up to strips */
    if (c->layout == CK_WEIGHTS_PACKED && __builtin_mul_overflow(ck_div_up(n, CK_PACKED_COLUMNS), CK_PACKED_COLUMNS, &wr))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "n", "packed weights of n = %zu rows overflow", n);
    if ((s = check_experts(c->w, c->wt, "w", groups, wr, wc, c->w_stride))) return s;
    size_t w_count, x_count, one; /* the grid fits whenever one expert's elements do */
    if (__builtin_mul_overflow(wr, wc, &one) || __builtin_mul_overflow(groups, scale_grid(kn ? k : n, kn ? n : k), &w_count) ||
        __builtin_mul_overflow(rows, ck_div_up(k, KC), &x_count))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "w_scales", "the scale arrays' sizes overflow");
    if ((s = check_scales(c->ws, "w_scales", c->wt, w_count)) || (s = check_scales(c->xs, "x_scales", c->xt, x_count)) ||
        (s = ck_check_matrix(c->x, "x", rows, k, c->ldx, ck_dtype_size(c->xt))) ||
        (s = ck_check_matrix(c->y, "y", rows, n, c->ldy, ck_dtype_size(c->yt))))
        return s;
    return CK_OK;
}

/* Rows [row, row + rows) of the call's x (and their scales), all of expert g, times its weights (and theirs), into
 * the same rows of y. Experts with few rows run the decode kernels, which stream the weights once with no
 * packing: up to CK_DECODE_M rows, and up to CK_DECODE_NK_M with [N, K] weights, whose transposed blocks then
 * serve every row (see decode_nk_body for where the limit comes from), as long as x, read again for every 16
 * columns, takes at most X_FLOATS. Their chains are the tiles' chains, so the bits are the same. Under BF16 dot
 * products the dot decode kernels take up to CK_DOT_DECODE_KN_M rows of [K, N] and packed weights, CK_DOT_MR of
 * [N, K] ones, and up to CK_DECODE_NK_M of those under the same X_FLOATS limit (run_decode_block picks
 * ck_dot_kernels.decode for weights whose rows are contiguous, [N, K] and [K, 1], and decode_kn for the others).
 * run_problems gives FP32 [N, K] experts past CK_DECODE_M rows to the transposed tiles where it can (see
 * transposed). */
static problem m_problem(const m_call *c, size_t row, size_t rows, size_t g) {
    const bool nk = c->layout != CK_WEIGHTS_KN, packed = c->layout == CK_WEIGHTS_PACKED; /* packed: W [N, K] */
    const size_t n = c->n, k = c->k, grid = scale_grid(nk ? n : k, nk ? k : n), P = CK_PACKED_COLUMNS;
    const void *w = element(c->w, g * c->w_stride, c->wt);
    const ck_dot_kernels *dot = c->xt != CK_DTYPE_F32 && c->wt != CK_DTYPE_F32 ? c->dot : NULL; /* BF16, E4M3 */
    return (problem){.a = {element(c->x, row * c->ldx, c->xt), c->xt, c->ldx, 1, 0},
                     .b = packed ? (operand){w, c->wt, P, 1, P * k} : (operand){w, c->wt, nk ? 1 : n, nk ? k : 1, 0},
                     .sa = c->xs ? c->xs + row * ck_div_up(k, KC) : NULL,
                     .sa_rs = ck_div_up(k, KC),
                     .sb = c->ws ? c->ws + g * grid : NULL,
                     .sb_ls = nk ? 1 : ck_div_up(n, KC),
                     .sb_js = nk ? ck_div_up(k, KC) : 1,
                     .sb_shift = 7,
                     .c = element(c->y, row * c->ldy, c->yt),
                     .rsc = c->ldy,
                     .csc = 1,
                     .rows = rows,
                     .cols = n,
                     .red = k,
                     .dot = dot,
                     .decode = k > 0 && ((!dot && rows <= CK_DECODE_M) ||
                                         (dot && rows <= (c->layout == CK_WEIGHTS_NK ? CK_DOT_MR : CK_DOT_DECODE_KN_M)) ||
                                         (c->layout == CK_WEIGHTS_NK &&
                                          rows <= (dot ? CK_DOT_DECODE_NK_M : CK_DECODE_NK_M) &&
                                          x_floats(rows, k) <= X_FLOATS))};
}

/* Rows [row, row + rows) of y as padding: each an empty sum, written as write_part writes those. */
static problem padding_problem(const m_call *c, size_t row, size_t rows) {
    return (problem){.c = element(c->y, row * c->ldy, c->yt), .rsc = c->ldy, .csc = 1, .rows = rows, .cols = c->n};
}

ck_status ck_gemm_m_grouped(const void *x, ck_dtype x_type, const float *x_scales, size_t m, size_t k, size_t ldx,
                            const int64_t *group_sizes, size_t groups, const void *w, ck_dtype w_type,
                            const float *w_scales, ck_weight_layout layout, size_t n, size_t w_stride, float beta,
                            void *y, ck_dtype y_type, size_t ldy) {
    const m_call c = {x, x_type, x_scales, ldx, w, w_type, w_scales, layout, w_stride, n, k, y, y_type, ldy,
                      ck_dot_dispatch()};
    ck_status s;
    if ((s = check_m_grouped(&c, m, groups, beta)) || (s = check_groups(group_sizes, groups, m, "group_sizes", true)))
        return s;
    if (m == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(groups);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate %zu problems", groups);
    for (size_t g = 0, row = 0; g < groups; row += (size_t)group_sizes[g], g++)
        pr[g] = m_problem(&c, row, (size_t)group_sizes[g], g);
    return run_problems(pr, groups, beta, y_type);
}

ck_status ck_gemm_m_grouped_masked(const void *x, ck_dtype x_type, const float *x_scales, size_t max_m, size_t k,
                                   const int64_t *valid_m, size_t groups, const void *w, ck_dtype w_type,
                                   const float *w_scales, ck_weight_layout layout, size_t n, size_t w_stride,
                                   float beta, void *y, ck_dtype y_type) {
    ck_status s;
    size_t rows;
    if (__builtin_mul_overflow(groups, max_m, &rows)) return ck_fail(CK_ERR_SIZE_OVERFLOW, "max_m", "groups x max_m overflows");
    const m_call c = {x, x_type, x_scales, k, w, w_type, w_scales, layout, w_stride, n, k, y, y_type, n,
                      ck_dot_dispatch()};
    if ((s = check_m_grouped(&c, rows, groups, beta))) return s;
    if (groups > 0 && valid_m == NULL) return ck_fail(CK_ERR_NULL_POINTER, "valid_m", "valid_m is NULL");
    for (size_t g = 0; g < groups; g++)
        if (valid_m[g] < 0 || (uint64_t)valid_m[g] > max_m)
            return ck_fail(CK_ERR_INVALID_SHAPE, "valid_m", "valid_m[%zu] = %lld is outside 0...%zu", g, (long long)valid_m[g], max_m);
    if (rows == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(groups);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate %zu problems", groups);
    for (size_t g = 0; g < groups; g++) pr[g] = m_problem(&c, g * max_m, (size_t)valid_m[g], g);
    return run_problems(pr, groups, beta, y_type);
}

ck_status ck_gemm_m_grouped_contiguous(const void *x, ck_dtype x_type, const float *x_scales, size_t m, size_t k,
                                       size_t ldx, const int32_t *m_indices, size_t groups, const void *w,
                                       ck_dtype w_type, const float *w_scales, ck_weight_layout layout, size_t n,
                                       size_t w_stride, float beta, void *y, ck_dtype y_type, size_t ldy) {
    const m_call c = {x, x_type, x_scales, ldx, w, w_type, w_scales, layout, w_stride, n, k, y, y_type, ldy,
                      ck_dot_dispatch()};
    ck_status s;
    if ((s = check_m_grouped(&c, m, groups, beta))) return s;
    if (m > 0 && m_indices == NULL) return ck_fail(CK_ERR_NULL_POINTER, "m_indices", "m_indices is NULL");
    size_t runs = 0; /* of rows with one expert, or of padding */
    for (size_t i = 0; i < m; i++) {
        const int32_t e = m_indices[i];
        if (e < -1 || (e >= 0 && (size_t)e >= groups))
            return ck_fail(CK_ERR_INVALID_VALUE, "m_indices", "m_indices[%zu] = %d is neither -1 nor an expert below %zu",
                           i, (int)e, groups);
        runs += i == 0 || e != m_indices[i - 1];
    }
    if (m == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(runs);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "m_indices", "cannot allocate %zu problems", runs);
    for (size_t i = 0, r = 0; i < m; r++) {
        size_t end = i + 1;
        while (end < m && m_indices[end] == m_indices[i]) end++;
        pr[r] = m_indices[i] < 0 ? padding_problem(&c, i, end - i) : m_problem(&c, i, end - i, (size_t)m_indices[i]);
        i = end;
    }
    return run_problems(pr, runs, beta, y_type);
}

/* Expert g's k-grouped problem over its tokens: C = dW[g] as [K, N] (stored transposed for [N, K]),
 * A(i, l) = the token l of feature i, B(l, j) = the token l of output feature j. */
static problem k_problem(operand a, operand b, size_t k, size_t n, size_t tokens, void *dw, ck_weight_layout layout) {
    return (problem){.a = a,
                     .b = b,
                     .c = dw,
                     .rsc = layout == CK_WEIGHTS_KN ? n : 1,
                     .csc = layout == CK_WEIGHTS_KN ? 1 : k,
                     .rows = k,
                     .cols = n,
                     .red = tokens};
}

ck_status ck_gemm_k_grouped(const void *x, ck_dtype x_type, size_t m, size_t k, size_t ldx,
                            const int64_t *group_sizes, size_t groups, const void *dy, ck_dtype dy_type, size_t n,
                            size_t lddy, float beta, void *dw, ck_dtype dw_type, ck_weight_layout layout,
                            size_t dw_stride) {
    ck_status s;
    if ((s = check_type(x_type, "x_type", false)) || (s = check_type(dy_type, "dy_type", false)) ||
        (s = check_type(dw_type, "dw_type", false)) || (s = check_layout(layout, "layout", false)) || (s = check_beta(beta)) ||
        (s = check_groups(group_sizes, groups, m, "group_sizes", true)) ||
        (s = ck_check_matrix(x, "x", m, k, ldx, ck_dtype_size(x_type))) ||
        (s = ck_check_matrix(dy, "dy", m, n, lddy, ck_dtype_size(dy_type))) ||
        (s = check_experts(dw, dw_type, "dw", groups, layout == CK_WEIGHTS_KN ? k : n, layout == CK_WEIGHTS_KN ? n : k,
                           dw_stride)))
        return s;
    if (k == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(groups);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate %zu problems", groups);
    size_t row = 0;
    for (size_t g = 0; g < groups; g++) {
        const size_t tokens = (size_t)group_sizes[g];
        pr[g] = k_problem((operand){element(x, row * ldx, x_type), x_type, 1, ldx, 0},
                          (operand){element(dy, row * lddy, dy_type), dy_type, lddy, 1, 0}, k, n, tokens,
                          element(dw, g * dw_stride, dw_type), layout);
        row += tokens;
    }
    return run_problems(pr, groups, beta, dw_type);
}

ck_status ck_gemm_k_grouped_fp8(const uint8_t *xt, const float *x_scales, size_t m, size_t k, size_t ldxt,
                                const int64_t *group_sizes, size_t groups, const uint8_t *dyt, const float *dy_scales,
                                size_t n, size_t lddyt, float beta, void *dw, ck_dtype dw_type,
                                ck_weight_layout layout, size_t dw_stride) {
    ck_status s;
    if ((s = check_type(dw_type, "dw_type", false)) || (s = check_layout(layout, "layout", false)) || (s = check_beta(beta)) ||
        (s = check_groups(group_sizes, groups, m, "group_sizes", true)) ||
        (s = ck_check_matrix(xt, "xt", k, m, ldxt, 1)) || (s = ck_check_matrix(dyt, "dyt", n, m, lddyt, 1)) ||
        (s = check_experts(dw, dw_type, "dw", groups, layout == CK_WEIGHTS_KN ? k : n, layout == CK_WEIGHTS_KN ? n : k,
                           dw_stride)))
        return s;
    size_t blocks = 0, x_count, dy_count; /* S: the experts' token blocks */
    for (size_t g = 0; g < groups; g++) blocks += ck_div_up((size_t)group_sizes[g], KC);
    if (__builtin_mul_overflow(k, blocks, &x_count))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "x_scales", "x_scales' size (k x blocks) overflows");
    if (__builtin_mul_overflow(n, blocks, &dy_count))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "dy_scales", "dy_scales' size (n x blocks) overflows");
    if ((x_count && (s = check_scales(x_scales, "x_scales", CK_DTYPE_E4M3FN, x_count))) ||
        (dy_count && (s = check_scales(dy_scales, "dy_scales", CK_DTYPE_E4M3FN, dy_count))))
        return s;
    if (k == 0 || n == 0) return CK_OK;
    problem *pr = new_problems(groups);
    if (pr == NULL) return ck_fail(CK_ERR_OUT_OF_MEMORY, "groups", "cannot allocate %zu problems", groups);
    for (size_t g = 0, row = 0, b = 0; g < groups; g++) {
        const size_t tokens = (size_t)group_sizes[g];
        pr[g] = k_problem((operand){element(xt, row, CK_DTYPE_E4M3FN), CK_DTYPE_E4M3FN, ldxt, 1, 0},
                          (operand){element(dyt, row, CK_DTYPE_E4M3FN), CK_DTYPE_E4M3FN, 1, lddyt, 0},
                          k, n, tokens, element(dw, g * dw_stride, dw_type), layout);
        if (tokens) {
            pr[g].sa = x_scales + b, pr[g].sa_rs = blocks;
            pr[g].sb = dy_scales + b, pr[g].sb_ls = 1, pr[g].sb_js = blocks, pr[g].sb_shift = 0;
        }
        row += tokens;
        b += ck_div_up(tokens, KC);
    }
    return run_problems(pr, groups, beta, dw_type);
}

/* ---- packed weights (CK_WEIGHTS_PACKED) ---- */
ck_status ck_gemm_packed_size(size_t n, size_t k, size_t *elements) {
    if (elements == NULL) return ck_fail(CK_ERR_NULL_POINTER, "elements", "elements is NULL");
    size_t rows, count;
    if (__builtin_mul_overflow(ck_div_up(n, CK_PACKED_COLUMNS), CK_PACKED_COLUMNS, &rows) ||
        __builtin_mul_overflow(rows, k, &count))
        return ck_fail(CK_ERR_SIZE_OVERFLOW, "n", "packed weights of %zu x %zu overflow", n, k);
    *elements = count;
    return CK_OK;
}

/* One strip: dst[l*P + c] = W(c, l) = src[c*cs + l*ls] for c < cols, +0 past them, l < k; 64 x 64 blocks at a
 * time, so that the source lines a block touches stay in L1 whichever of its axes is contiguous. `size` is a
 * constant where pack_task switches on it. */
static inline __attribute__((always_inline)) void pack_strip(const char *src, size_t ls, size_t cs, size_t cols,
                                                             size_t k, char *dst, const size_t size) {
    const size_t P = CK_PACKED_COLUMNS;
    for (size_t l0 = 0; l0 < k; l0 += P)
        for (size_t c = 0; c < P; c++)
            for (size_t l = l0; l < (k - l0 < P ? k : l0 + P); l++) {
                char *d = dst + (l * P + c) * size;
                if (c < cols) memcpy(d, src + (c * cs + l * ls) * size, size);
                else memset(d, 0, size);
            }
}

typedef struct {
    const char *w;
    char *packed;
    size_t size, ls, cs, n, k, w_stride, packed_stride, strips;
} pack_job;

/* Task t: strip t % strips of expert t / strips. */
static void pack_task(void *arg, size_t t, int tid, ck_task_next *next) {
    (void)tid, (void)next;
    const pack_job *j = arg;
    const size_t g = t / j->strips, c0 = t % j->strips * CK_PACKED_COLUMNS, size = j->size;
    const size_t cols = j->n - c0 < CK_PACKED_COLUMNS ? j->n - c0 : CK_PACKED_COLUMNS;
    const char *src = j->w + (g * j->w_stride + c0 * j->cs) * size;
    char *dst = j->packed + (g * j->packed_stride + c0 * j->k) * size;
    switch (size) {
    case 1: pack_strip(src, j->ls, j->cs, cols, j->k, dst, 1); break;
    case 2: pack_strip(src, j->ls, j->cs, cols, j->k, dst, 2); break;
    default: pack_strip(src, j->ls, j->cs, cols, j->k, dst, 4); break;
    }
}

/* The bytes from the first element of `groups` experts of `elements`, `stride` apart, to the end of the last. */
static size_t experts_extent(size_t groups, size_t elements, size_t stride, size_t size) {
    return ((groups - 1) * stride + elements) * size; /* checked by check_experts */
}

ck_status ck_gemm_pack_weights(const void *w, ck_dtype type, ck_weight_layout layout, size_t groups, size_t n,
                               size_t k, size_t w_stride, void *packed, size_t packed_stride) {
    const bool kn = layout == CK_WEIGHTS_KN;
    size_t count;
    ck_status s;
    if ((s = check_type(type, "type", true)) || (s = check_layout(layout, "layout", false)) ||
        (s = check_experts(w, type, "w", groups, kn ? k : n, kn ? n : k, w_stride)) ||
        (s = ck_gemm_packed_size(n, k, &count)) ||
        (s = check_experts(packed, type, "packed", groups, count / (k ? k : 1), k, packed_stride)))
        return s;
    if (groups == 0 || n == 0 || k == 0) return CK_OK;
    const size_t size = ck_dtype_size(type);
    const uintptr_t w0 = (uintptr_t)w, p0 = (uintptr_t)packed;
    if (w0 < p0 + experts_extent(groups, count, packed_stride, size) && p0 < w0 + experts_extent(groups, n * k, w_stride, size))
        return ck_fail(CK_ERR_INVALID_VALUE, "packed", "packed overlaps w");
    pack_job job = {w, packed, size, kn ? n : 1, kn ? 1 : k, n, k, w_stride, packed_stride,
                    ck_div_up(n, CK_PACKED_COLUMNS)};
    ck_parallel_for(groups * job.strips, pack_task, &job, ck_participants(groups * count, GEMM_GRAIN));
    return CK_OK;
}

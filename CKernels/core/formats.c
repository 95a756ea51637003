/*
 * Public API of the format family (ck_formats.h): argument checks, then ISA-agnostic drivers that cut the
 * work into tasks over disjoint outputs and call the dispatched kernels. Scales are derived here, in scalar
 * code shared by every ISA, from the kernels' amax bit patterns.
 */
#include "formats_element.h"

#include <math.h>

/* Elements per task: large enough to amortise a task, small enough to balance 2...64 threads. */
#define CK_FORMATS_GRAIN ((size_t)1 << 16)
/* Scale groups handled per kernel call (bounded so scale scratch lives on the stack). */
#define CK_PIECE_GROUPS 256
/* Elements of one row handled per kernel call, so a row piece stays in L1 between its two passes. */
#define CK_PIECE_ELEMS 4096

/* Runs a format call's tasks over `elements` elements: one participant per CK_FORMATS_GRAIN of them at most, so
 * small calls run on the caller. */
static void run_format_tasks(size_t ntasks, ck_task_fn task, void *ctx, size_t elements) {
    ck_parallel_for(ntasks, task, ctx, ck_participants(elements, CK_FORMATS_GRAIN));
}

static ck_status check_dtype(ck_dtype t, const char *name) {
    if (t != CK_DTYPE_F32 && t != CK_DTYPE_BF16)
        return ck_fail(CK_ERR_INVALID_VALUE, name, "%s must be CK_DTYPE_F32 or CK_DTYPE_BF16, got %d", name, (int)t);
    return CK_OK;
}
static bool is_fp8_format(ck_fp8_format f) { return f == CK_FP8_E4M3FN || f == CK_FP8_E5M2; }
static ck_status check_format(ck_fp8_format f, const char *name) {
    if (!is_fp8_format(f))
        return ck_fail(CK_ERR_INVALID_VALUE, name, "%s must be CK_FP8_E4M3FN or CK_FP8_E5M2, got %d", name, (int)f);
    return CK_OK;
}
static ck_status check_scale_format(ck_scale_format f, const char *name) {
    if (f != CK_SCALE_F32 && f != CK_SCALE_UE8M0)
        return ck_fail(CK_ERR_INVALID_VALUE, name, "%s must be CK_SCALE_F32 or CK_SCALE_UE8M0, got %d", name, (int)f);
    return CK_OK;
}
static ck_status check_params(const ck_quant_params *p) {
    if (p == NULL) return ck_fail(CK_ERR_NULL_POINTER, "params", "params is NULL");
    ck_status s;
    if ((s = check_format(p->format, "params.format")) || (s = check_scale_format(p->scale_format, "params.scale_format")))
        return s;
    if (p->scaling != CK_SCALING_DIVIDE && p->scaling != CK_SCALING_RECIPROCAL)
        return ck_fail(CK_ERR_INVALID_VALUE, "params.scaling", "params.scaling must be CK_SCALING_DIVIDE or CK_SCALING_RECIPROCAL");
    return CK_OK;
}
static ck_status check_group(size_t group, const char *name) {
    if (group == 0) return ck_fail(CK_ERR_INVALID_SHAPE, name, "%s must be at least 1", name);
    return CK_OK;
}
static size_t scale_size(ck_scale_format f) { return f == CK_SCALE_F32 ? 4 : 1; }

/* ---- scales ---- */
float ck_ue8m0_to_f32(uint8_t e) {
    if (e == 0xFF) return NAN;
    return e == 0 ? 0x1p-127f : ck_bits_f32((uint32_t)e << 23);
}

float ck_quant_scale_f32(float amax, ck_fp8_format format) {
    if (!is_fp8_format(format)) return NAN;
    return ck_scale_f32(ck_f32_bits(amax) & 0x7FFFFFFFu, &ck_fp8_specs[format]);
}

uint8_t ck_quant_scale_ue8m0(float amax, ck_fp8_format format) {
    if (!is_fp8_format(format)) return 0xFF;
    return ck_scale_ue8m0(ck_f32_bits(amax) & 0x7FFFFFFFu, &ck_fp8_specs[format]);
}

/* Scales of n groups from their amaxes: the kernel computes them, this stores them at
 * scales[first + i * stride] in the caller's format. */
typedef struct {
    float s[CK_PIECE_GROUPS], rcp[CK_PIECE_GROUPS];
    uint8_t e8[CK_PIECE_GROUPS];
} scale_scratch;

static void make_scales(const ck_formats_kernels *k, const uint32_t *amax, size_t n, const ck_quant_params *p,
                        scale_scratch *out, void *scales, size_t first, size_t stride) {
    k->scales(amax, n, p->format, p->scale_format, out->s, out->rcp, out->e8);
    if (p->scale_format == CK_SCALE_F32)
        for (size_t i = 0; i < n; i++) ((float *)scales)[first + i * stride] = out->s[i];
    else
        for (size_t i = 0; i < n; i++) ((uint8_t *)scales)[first + i * stride] = out->e8[i];
}

static float get_scale(const void *scales, ck_scale_format sf, size_t index) {
    return sf == CK_SCALE_F32 ? ((const float *)scales)[index] : ck_ue8m0_to_f32(((const uint8_t *)scales)[index]);
}

/* ---- casts ---- */
typedef struct {
    const ck_formats_kernels *k;
    const void *x;
    void *y;
    size_t n;
    int op; /* 0 f32->bf16, 1 bf16->f32, 2 ->fp8, 3 fp8-> */
    ck_dtype t;
    ck_fp8_format format;
    ck_overflow overflow;
    bool stream; /* ck_stream_pass, for the outputs in f32 or bf16 */
} cast_job;

static void cast_task(void *arg, size_t task, int tid, ck_task_next *next) {
    (void)tid, (void)next;
    const cast_job *j = arg;
    const size_t start = task * CK_FORMATS_GRAIN, n = j->n - start < CK_FORMATS_GRAIN ? j->n - start : CK_FORMATS_GRAIN;
    switch (j->op) {
    case 0: j->k->f32_to_bf16((const float *)j->x + start, (uint16_t *)j->y + start, n, j->stream); break;
    case 1: j->k->bf16_to_f32((const uint16_t *)j->x + start, (float *)j->y + start, n, j->stream); break;
    case 2: j->k->to_fp8((const char *)j->x + start * ck_dtype_size(j->t), j->t, (uint8_t *)j->y + start, n, j->format, j->overflow); break;
    default:
        j->k->from_fp8((const uint8_t *)j->x + start, j->format, (char *)j->y + start * ck_dtype_size(j->t), j->t, n,
                       j->stream);
        break;
    }
    if (j->stream) ck_store_fence();
}

static ck_status run_cast(cast_job job, size_t in_size, size_t out_size) {
    ck_status s;
    if ((s = ck_check_matrix(job.x, "x", 1, job.n, job.n, in_size)) || (s = ck_check_matrix(job.y, "y", 1, job.n, job.n, out_size)))
        return s;
    job.k = ck_formats_dispatch();
    /* FP8 outputs keep ordinary stores: streaming the per-token quantizer's codes gained nothing (1.02 x, 0.99 x) */
    job.stream = out_size > 1 && ck_stream_pass(job.n * in_size, job.n * out_size);
    run_format_tasks(ck_task_count(job.n, CK_FORMATS_GRAIN), cast_task, &job, job.n);
    return CK_OK;
}

ck_status ck_cast_f32_to_bf16(const float *x, uint16_t *y, size_t n) {
    return run_cast((cast_job){.x = x, .y = y, .n = n, .op = 0}, 4, 2);
}

ck_status ck_cast_bf16_to_f32(const uint16_t *x, float *y, size_t n) {
    return run_cast((cast_job){.x = x, .y = y, .n = n, .op = 1}, 2, 4);
}

ck_status ck_cast_to_fp8(const void *x, ck_dtype x_type, uint8_t *y, size_t n, ck_fp8_format format,
                         ck_overflow overflow) {
    ck_status s;
    if ((s = check_dtype(x_type, "x_type")) || (s = check_format(format, "format"))) return s;
    if (overflow != CK_OVERFLOW_SATURATE && overflow != CK_OVERFLOW_NAN)
        return ck_fail(CK_ERR_INVALID_VALUE, "overflow", "overflow must be CK_OVERFLOW_SATURATE or CK_OVERFLOW_NAN");
    return run_cast((cast_job){.x = x, .y = y, .n = n, .op = 2, .t = x_type, .format = format, .overflow = overflow},
                    ck_dtype_size(x_type), 1);
}

ck_status ck_cast_from_fp8(const uint8_t *x, ck_fp8_format format, void *y, ck_dtype y_type, size_t n) {
    ck_status s;
    if ((s = check_format(format, "format")) || (s = check_dtype(y_type, "y_type"))) return s;
    return run_cast((cast_job){.x = x, .y = y, .n = n, .op = 3, .t = y_type, .format = format}, 1, ck_dtype_size(y_type));
}

/* ---- scaled rows: per token (row_block 1) and per block (row_block B) ----
 * Work unit: one row block x one piece of up to CK_PIECE_GROUPS column groups; a task takes a run of row
 * blocks of one column piece. */
typedef struct {
    const ck_formats_kernels *k;
    const void *x;
    ck_dtype xt;
    size_t rows, cols, ldx, group, row_block;
    ck_quant_params p;
    const uint8_t *qin; /* dequant source */
    uint8_t *q;
    size_t ldq;
    void *scales;
    size_t lds;
    void *y; /* dequant destination */
    ck_dtype yt;
    size_t ldy;
    size_t piece_groups, col_pieces, blocks_per_task;
    bool stream; /* dequant: ck_stream_pass */
} rows_job;

static void plan_rows(rows_job *j, size_t *ntasks) {
    const size_t groups = ck_div_up(j->cols, j->group), blocks = ck_div_up(j->rows, j->row_block);
    size_t piece = CK_PIECE_ELEMS / j->group;
    j->piece_groups = piece < 1 ? 1 : piece > CK_PIECE_GROUPS ? CK_PIECE_GROUPS : piece;
    j->col_pieces = ck_div_up(groups, j->piece_groups);
    const size_t piece_cols = j->piece_groups * j->group < j->cols ? j->piece_groups * j->group : j->cols;
    size_t unit; /* elements of one row block x piece; a product past SIZE_MAX (huge blocks) counts as large */
    if (__builtin_mul_overflow(j->row_block, piece_cols, &unit)) unit = SIZE_MAX;
    j->blocks_per_task = unit >= CK_FORMATS_GRAIN ? 1 : CK_FORMATS_GRAIN / unit;
    *ntasks = ck_div_up(blocks, j->blocks_per_task) * j->col_pieces;
}

/* What one task covers: column piece [c0, c0 + len) (scale groups g0 ..< g0 + ng) of row blocks b0 ..< b1. */
typedef struct {
    size_t g0, c0, len, ng, b0, b1;
} task_span;

static task_span span_of(const rows_job *j, size_t task) {
    task_span t;
    t.g0 = task % j->col_pieces * j->piece_groups;
    t.c0 = t.g0 * j->group;
    const size_t piece_cols = j->piece_groups * j->group;
    t.len = j->cols - t.c0 < piece_cols ? j->cols - t.c0 : piece_cols;
    t.ng = ck_div_up(t.len, j->group);
    const size_t nblocks = ck_div_up(j->rows, j->row_block);
    t.b0 = task / j->col_pieces * j->blocks_per_task;
    t.b1 = t.b0 + j->blocks_per_task < nblocks ? t.b0 + j->blocks_per_task : nblocks;
    return t;
}

static void quant_rows_task(void *arg, size_t task, int tid, ck_task_next *next) {
    (void)tid, (void)next;
    const rows_job *j = arg;
    const size_t es = ck_dtype_size(j->xt);
    const task_span t = span_of(j, task);
    const size_t g0 = t.g0, c0 = t.c0, len = t.len, ng = t.ng, b0 = t.b0, b1 = t.b1;
    uint32_t amax[CK_PIECE_GROUPS], row_max[CK_PIECE_GROUPS];
    scale_scratch sc;
    for (size_t b = b0; b < b1; b++) {
        const size_t r0 = b * j->row_block, r1 = r0 + j->row_block < j->rows ? r0 + j->row_block : j->rows;
        /* a block's rows, each prefetching the next (row blocks of one row: the quantizer prefetches) */
        for (size_t r = r0; r < r1; r++) {
            const char *row = (const char *)j->x + (r * j->ldx + c0) * es;
            j->k->range_groups(row, j->xt, len, j->group, r == r0 ? amax : row_max,
                               r + 1 < r1 ? row + j->ldx * es : NULL);
            if (r > r0)
                for (size_t g = 0; g < ng; g++) amax[g] = row_max[g] > amax[g] ? row_max[g] : amax[g];
        }
        make_scales(j->k, amax, ng, &j->p, &sc, j->scales, b * j->lds + g0, 1);
        for (size_t r = r0; r < r1; r++) {
            const char *row = (const char *)j->x + (r * j->ldx + c0) * es;
            const bool more = r + 1 < b1 * j->row_block && r + 1 < j->rows; /* within this task */
            j->k->quant_groups(row, j->xt, len, j->group, sc.s, sc.rcp, j->p.scaling, j->p.format,
                               j->q + r * j->ldq + c0, more ? row + j->ldx * es : NULL);
        }
    }
}

static void dequant_rows_task(void *arg, size_t task, int tid, ck_task_next *next) {
    (void)tid, (void)next;
    const rows_job *j = arg;
    const size_t es = ck_dtype_size(j->yt);
    const task_span t = span_of(j, task);
    const size_t g0 = t.g0, c0 = t.c0, len = t.len, ng = t.ng, b0 = t.b0, b1 = t.b1;
    float s[CK_PIECE_GROUPS];
    for (size_t b = b0; b < b1; b++) {
        for (size_t g = 0; g < ng; g++) s[g] = get_scale(j->scales, j->p.scale_format, b * j->lds + g0 + g);
        const size_t r0 = b * j->row_block, r1 = r0 + j->row_block < j->rows ? r0 + j->row_block : j->rows;
        for (size_t r = r0; r < r1; r++)
            j->k->dequant_groups(j->qin + r * j->ldq + c0, j->p.format, len, j->group, s, (char *)j->y + (r * j->ldy + c0) * es,
                                 j->yt, j->stream);
    }
    if (j->stream) ck_store_fence();
}

static ck_status quant_rows(rows_job j, const char *group_name) {
    ck_status s;
    if ((s = check_dtype(j.xt, "x_type")) || (s = check_params(&j.p)) || (s = check_group(j.group, group_name)) ||
        (s = ck_check_matrix(j.x, "x", j.rows, j.cols, j.ldx, ck_dtype_size(j.xt))) ||
        (s = ck_check_matrix(j.q, "q", j.rows, j.cols, j.ldq, 1)) ||
        (s = ck_check_matrix(j.scales, "scales", ck_div_up(j.rows, j.row_block), ck_div_up(j.cols, j.group), j.lds,
                             scale_size(j.p.scale_format))))
        return s;
    if (j.rows == 0 || j.cols == 0) return CK_OK;
    j.k = ck_formats_dispatch();
    size_t ntasks;
    plan_rows(&j, &ntasks);
    run_format_tasks(ntasks, quant_rows_task, &j, j.rows * j.cols);
    return CK_OK;
}

static ck_status dequant_rows(rows_job j, const char *group_name) {
    ck_status s;
    if ((s = check_format(j.p.format, "format")) || (s = check_scale_format(j.p.scale_format, "scale_format")) ||
        (s = check_dtype(j.yt, "y_type")) || (s = check_group(j.group, group_name)) ||
        (s = ck_check_matrix(j.qin, "q", j.rows, j.cols, j.ldq, 1)) ||
        (s = ck_check_matrix(j.scales, "scales", ck_div_up(j.rows, j.row_block), ck_div_up(j.cols, j.group), j.lds,
                             scale_size(j.p.scale_format))) ||
        (s = ck_check_matrix(j.y, "y", j.rows, j.cols, j.ldy, ck_dtype_size(j.yt))))
        return s;
    if (j.rows == 0 || j.cols == 0) return CK_OK;
    j.k = ck_formats_dispatch();
    j.stream = ck_stream_pass(j.rows * j.cols, j.rows * j.cols * ck_dtype_size(j.yt)); /* checked: no overflow */
    size_t ntasks;
    plan_rows(&j, &ntasks);
    run_format_tasks(ntasks, dequant_rows_task, &j, j.rows * j.cols);
    return CK_OK;
}

ck_status ck_quant_per_token(const void *x, ck_dtype x_type, size_t rows, size_t cols, size_t ldx, size_t group,
                             const ck_quant_params *params, uint8_t *q, size_t ldq, void *scales, size_t lds) {
    if (params == NULL) return ck_fail(CK_ERR_NULL_POINTER, "params", "params is NULL");
    return quant_rows((rows_job){.x = x, .xt = x_type, .rows = rows, .cols = cols, .ldx = ldx, .group = group,
                                 .row_block = 1, .p = *params, .q = q, .ldq = ldq, .scales = scales, .lds = lds},
                      "group");
}

ck_status ck_quant_per_block(const void *x, ck_dtype x_type, size_t rows, size_t cols, size_t ldx, size_t block,
                             const ck_quant_params *params, uint8_t *q, size_t ldq, void *scales, size_t lds) {
    if (params == NULL) return ck_fail(CK_ERR_NULL_POINTER, "params", "params is NULL");
    return quant_rows((rows_job){.x = x, .xt = x_type, .rows = rows, .cols = cols, .ldx = ldx, .group = block,
                                 .row_block = block ? block : 1, .p = *params, .q = q, .ldq = ldq, .scales = scales,
                                 .lds = lds},
                      "block");
}

ck_status ck_dequant_per_token(const uint8_t *q, ck_fp8_format format, size_t rows, size_t cols, size_t ldq,
                               size_t group, const void *scales, ck_scale_format scale_format, size_t lds,
                               void *y, ck_dtype y_type, size_t ldy) {
    return dequant_rows((rows_job){.qin = q, .p = {.format = format, .scale_format = scale_format}, .rows = rows,
                                   .cols = cols, .ldq = ldq, .group = group, .row_block = 1,
                                   .scales = (void *)scales, .lds = lds, .y = y, .yt = y_type, .ldy = ldy},
                        "group");
}

ck_status ck_dequant_per_block(const uint8_t *q, ck_fp8_format format, size_t rows, size_t cols, size_t ldq,
                               size_t block, const void *scales, ck_scale_format scale_format, size_t lds,
                               void *y, ck_dtype y_type, size_t ldy) {
    return dequant_rows((rows_job){.qin = q, .p = {.format = format, .scale_format = scale_format}, .rows = rows,
                                   .cols = cols, .ldq = ldq, .group = block, .row_block = block ? block : 1,
                                   .scales = (void *)scales, .lds = lds, .y = y, .yt = y_type, .ldy = ldy},
                        "block");
}

/* ---- per channel, transposed: task = one token group x one piece of channels ---- */
typedef struct {
    const ck_formats_kernels *k;
    const void *x;
    ck_dtype xt;
    size_t tokens, channels, ldx, group;
    ck_quant_params p;
    uint8_t *q;
    size_t ldq;
    void *scales;
    size_t lds, channel_pieces;
} channel_job;

static void quant_channels_task(void *arg, size_t task, int tid, ck_task_next *next) {
    (void)tid, (void)next;
    const channel_job *j = arg;
    const size_t tg = task / j->channel_pieces, c0 = task % j->channel_pieces * CK_PIECE_GROUPS;
    const size_t t0 = tg * j->group, nt = j->tokens - t0 < j->group ? j->tokens - t0 : j->group;
    const size_t nc = j->channels - c0 < CK_PIECE_GROUPS ? j->channels - c0 : CK_PIECE_GROUPS;
    const char *x = (const char *)j->x + (t0 * j->ldx + c0) * ck_dtype_size(j->xt);
    uint32_t amax[CK_PIECE_GROUPS];
    scale_scratch sc;
    j->k->range_cols(x, j->xt, nt, nc, j->ldx, amax);
    make_scales(j->k, amax, nc, &j->p, &sc, j->scales, c0 * j->lds + tg, j->lds);
    j->k->quant_cols_t(x, j->xt, nt, nc, j->ldx, sc.s, sc.rcp, j->p.scaling, j->p.format, j->q + c0 * j->ldq + t0, j->ldq);
}

ck_status ck_quant_per_channel_transposed(const void *x, ck_dtype x_type, size_t tokens, size_t channels,
                                          size_t ldx, size_t group, const ck_quant_params *params, uint8_t *q,
                                          size_t ldq, void *scales, size_t lds) {
    ck_status s;
    if ((s = check_dtype(x_type, "x_type")) || (s = check_params(params)) || (s = check_group(group, "group")) ||
        (s = ck_check_matrix(x, "x", tokens, channels, ldx, ck_dtype_size(x_type))) ||
        (s = ck_check_matrix(q, "q", channels, tokens, ldq, 1)) ||
        (s = ck_check_matrix(scales, "scales", channels, ck_div_up(tokens, group), lds, scale_size(params->scale_format))))
        return s;
    if (tokens == 0 || channels == 0) return CK_OK;
    channel_job j = {ck_formats_dispatch(), x, x_type, tokens, channels, ldx, group, *params, q, ldq, scales, lds,
                     ck_div_up(channels, CK_PIECE_GROUPS)};
    run_format_tasks(ck_div_up(tokens, group) * j.channel_pieces, quant_channels_task, &j, tokens * channels);
    return CK_OK;
}

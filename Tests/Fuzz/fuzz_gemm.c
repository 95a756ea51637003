/*
 * libFuzzer target for the grouped GEMMs (ck_gemm.h): every entry point, with operand types, layouts, group
 * sizes, strides, beta, scales and NULL pointers taken from the fuzzer's bytes, valid or not. Buffers are exactly
 * as long as the arguments claim. fz_check (fuzz_support.h) runs each call at every ISA and checks: the same
 * status everywhere; nothing written when rejected; otherwise the scalar run's bytes at every ISA wherever an
 * output is owed, and the rest untouched; under BF16 dot products (where the CPU has them), the same bytes on one
 * thread and on two, and at each dot-product level (avx512bf16, avx512bf16vbmi). Sizes stay small enough (at most
 * about 2M multiply-adds) for thousands of calls a second, but reach past the tile, decode and scale-block edges.
 */
#include "fuzz_support.h"

enum { M_GROUPED, MASKED, CONTIGUOUS, K_GROUPED, K_GROUPED_FP8, OPS };
enum { X, XS, SIZES, W, WS, Y, BUFFERS }; /* buffer roles (k-grouped: x, x_scales, sizes, dy, dy_scales, dw) */

typedef struct {
    int op;
    ck_dtype xt, wt, yt;
    ck_weight_layout layout;
    size_t m, k, n, groups, ldx, ldw, ldy, w_stride, max_m;
    float beta;
    int slot[BUFFERS];
} gemm_args;

static ck_status run(void *const *p, const void *ctx) {
    const gemm_args *a = ctx;
#define P(role) (p[a->slot[role]])
    switch (a->op) {
    case M_GROUPED:
        return ck_gemm_m_grouped(P(X), a->xt, P(XS), a->m, a->k, a->ldx, P(SIZES), a->groups, P(W), a->wt, P(WS),
                                 a->layout, a->n, a->w_stride, a->beta, P(Y), a->yt, a->ldy);
    case MASKED:
        return ck_gemm_m_grouped_masked(P(X), a->xt, P(XS), a->max_m, a->k, P(SIZES), a->groups, P(W), a->wt, P(WS),
                                        a->layout, a->n, a->w_stride, a->beta, P(Y), a->yt);
    case CONTIGUOUS:
        return ck_gemm_m_grouped_contiguous(P(X), a->xt, P(XS), a->m, a->k, a->ldx, P(SIZES), a->groups, P(W), a->wt,
                                            P(WS), a->layout, a->n, a->w_stride, a->beta, P(Y), a->yt, a->ldy);
    case K_GROUPED:
        return ck_gemm_k_grouped(P(X), a->xt, a->m, a->k, a->ldx, P(SIZES), a->groups, P(W), a->wt, a->n, a->ldw,
                                 a->beta, P(Y), a->yt, a->layout, a->w_stride);
    default:
        return ck_gemm_k_grouped_fp8(P(X), P(XS), a->m, a->k, a->ldx, P(SIZES), a->groups, P(W), P(WS), a->n, a->ldw,
                                     a->beta, P(Y), a->yt, a->layout, a->w_stride);
    }
#undef P
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = fz_start(data, size);
    static const ck_dtype types[4] = {CK_DTYPE_F32, CK_DTYPE_BF16, CK_DTYPE_E4M3FN, (ck_dtype)7};
    gemm_args a = {.op = (int)fz_below(&in, OPS)};
    /* flags: bits 0-2 all set: a NULL pointer (its role from the next byte); 3 nonzero betas; 4 sizes that add up; 5 streaming stores;
     * 6 FP8 weights for FP8 activations; 7 out-of-range types and layouts; 6 and 7 scales where none belong */
    const unsigned flags = fz_byte(&in);
    a.xt = types[fz_byte(&in) % (flags & 0x80 ? 4 : 3)];
    a.wt = a.xt == CK_DTYPE_E4M3FN && flags & 0x40 ? CK_DTYPE_E4M3FN : types[fz_byte(&in) % 3];
    a.yt = types[fz_byte(&in) % 2];
    a.layout = (ck_weight_layout)(fz_byte(&in) % (flags & 0x80 ? 4 : 3)); /* packed: m-grouped only; 3: out of range */
    a.groups = fz_below(&in, 9);
    a.k = fz_dim(&in, 20, 300);
    a.n = fz_dim(&in, 40, 200);
    static const float betas[6] = {0.0f, 0.0f, 1.0f, 0.5f, -2.0f, __builtin_nanf("")};
    a.beta = betas[fz_byte(&in) % (flags & 8 ? 6 : 2)];
    ck_set_stream_threshold(flags & 0x20 ? 0 : SIZE_MAX);

    /* group sizes (masked: valid_m; contiguous: built from them) and the rows they add up to */
    int64_t sizes[8];
    size_t total = 0;
    for (size_t g = 0; g < a.groups; g++) {
        const unsigned b = fz_byte(&in);
        sizes[g] = b == 255 ? -1 : (int64_t)fz_dim(&in, 6, 150);
        total += sizes[g] < 0 ? 0 : (size_t)sizes[g];
    }
    a.m = flags & 0x10 || a.groups == 0 ? total : fz_dim(&in, 6, 150);
    a.max_m = fz_dim(&in, 8, 80);
    const size_t rows = a.op == MASKED ? a.groups * a.max_m : a.m;
    if (rows * a.k * a.n > (2u << 20)) return 0; /* too slow to be worth it */
    const bool kgrouped = a.op == K_GROUPED || a.op == K_GROUPED_FP8;
    const size_t kb = fz_div_up(a.k, 128), nb = fz_div_up(a.n, 128);
    const unsigned null_role = (flags & 7) == 7 ? 1 + fz_byte(&in) % 6 : 0; /* that role's pointer is NULL */

    if (a.op == K_GROUPED && a.wt == CK_DTYPE_E4M3FN) a.wt = CK_DTYPE_BF16; /* dy's type: E4M3 only through _fp8 */
    fz_call c = {.fill_differs = a.beta == 0.0f, .dot_runs = true};
    for (int r = 0; r < BUFFERS; r++) a.slot[r] = -1;
    const size_t ysize = fz_dtype_size(a.yt);
    size_t x_count, xs_count = 0, w_count, ws_count = 0, y_count;
    ck_dtype xfill = a.xt, wfill = a.wt;
    if (!kgrouped) {
        a.ldx = a.op == MASKED ? a.k : fz_stride(&in, a.k);
        a.ldy = a.op == MASKED ? a.n : fz_stride(&in, a.n);
        const size_t expert = a.layout == CK_WEIGHTS_PACKED ? fz_div_up(a.n, 64) * 64 * a.k : a.n * a.k;
        a.w_stride = fz_stride(&in, expert);
        x_count = fz_span(rows, a.k, a.ldx);
        y_count = fz_span(rows, a.n, a.ldy);
        w_count = fz_span(a.groups, expert, a.w_stride);
        if (a.xt == CK_DTYPE_E4M3FN) xs_count = rows * kb;
        if (a.wt == CK_DTYPE_E4M3FN) ws_count = a.groups * kb * nb;
    } else {
        /* k-grouped: X is x (or xt [K, M]), W is dy (or dyt [N, M]), Y is dw */
        const bool fp8 = a.op == K_GROUPED_FP8;
        if (fp8) xfill = wfill = CK_DTYPE_E4M3FN;
        a.ldx = fz_stride(&in, fp8 ? a.m : a.k);
        a.ldw = fz_stride(&in, fp8 ? a.m : a.n);
        a.w_stride = fz_stride(&in, a.n * a.k);
        x_count = fp8 ? fz_span(a.k, a.m, a.ldx) : fz_span(a.m, a.k, a.ldx);
        w_count = fp8 ? fz_span(a.n, a.m, a.ldw) : fz_span(a.m, a.n, a.ldw);
        y_count = fz_span(a.groups, a.n * a.k, a.w_stride);
        if (fp8) {
            size_t blocks = 0;
            for (size_t g = 0; g < a.groups; g++) blocks += sizes[g] < 0 ? 0 : fz_div_up((size_t)sizes[g], 128);
            xs_count = a.k * blocks;
            ws_count = a.n * blocks;
        }
    }
    a.slot[X] = fz_add(&c, x_count, fz_dtype_size(xfill), false, null_role == 1);
    fz_fill(&in, fz_init(&c, a.slot[X]), xfill, x_count);
    a.slot[W] = fz_add(&c, w_count, fz_dtype_size(wfill), false, null_role == 2);
    fz_fill(&in, fz_init(&c, a.slot[W]), wfill, w_count);
    a.slot[Y] = fz_add(&c, y_count, ysize, true, null_role == 3);
    fz_fill(&in, fz_init(&c, a.slot[Y]), a.yt, y_count);
    /* scales where the types call for them, or (flag) where they do not */
    const bool stray = (flags & 0xC0) == 0xC0;
    a.slot[XS] = fz_add(&c, xs_count + stray, 4, false, null_role == 4 || (xs_count == 0 && !stray));
    fz_fill_scales(&in, fz_init(&c, a.slot[XS]), xs_count + stray);
    a.slot[WS] = fz_add(&c, ws_count, 4, false, null_role == 5 || ws_count == 0);
    fz_fill_scales(&in, fz_init(&c, a.slot[WS]), ws_count);

    if (a.op == CONTIGUOUS) { /* m_indices: the groups' runs in turn, with padding rows and a stray value now and then */
        a.slot[SIZES] = fz_add(&c, a.m, 4, false, null_role == 6);
        int32_t *idx = fz_init(&c, a.slot[SIZES]);
        size_t i = 0;
        for (size_t g = 0; g < a.groups; g++)
            for (int64_t r = 0; r < sizes[g] && i < a.m; r++) {
                if (fz_next(&in) % 8 == 0 && i + 1 < a.m) idx[i++] = -1;
                idx[i++] = (int32_t)g;
            }
        for (; i < a.m; i++) idx[i] = -1;
        if (a.m && fz_next(&in) % 64 == 0) idx[fz_next(&in) % a.m] = (int32_t)a.groups;
    } else {
        a.slot[SIZES] = fz_add(&c, a.groups, 8, false, null_role == 6);
        memcpy(fz_init(&c, a.slot[SIZES]), sizes, a.groups * 8);
    }

    /* the outputs owed if the call is accepted */
    if (a.op == MASKED)
        for (size_t g = 0; g < a.groups; g++)
            for (size_t r = 0; r < (size_t)(sizes[g] < 0 ? 0 : sizes[g]) && r < a.max_m; r++)
                fz_owe(&c, a.slot[Y], (g * a.max_m + r) * a.n, a.n, ysize);
    else if (kgrouped)
        for (size_t g = 0; g < a.groups; g++) fz_owe(&c, a.slot[Y], g * a.w_stride, a.n * a.k, ysize);
    else
        for (size_t r = 0; r < a.m; r++) fz_owe(&c, a.slot[Y], r * a.ldy, a.n, ysize);
    fz_check(&c, run, &a);
    return 0;
}

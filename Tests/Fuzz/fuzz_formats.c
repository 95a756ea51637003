/*
 * libFuzzer target for the format kernels (ck_formats.h): the casts, and the per-token, per-block and
 * transposed per-channel quantizers with the dequantizers, with shapes, strides, group sizes, fp8 and scale
 * formats, scaling, overflow modes and NULL pointers taken from the fuzzer's bytes, valid or not. Buffers are
 * exactly as long as the arguments claim; fz_check (fuzz_support.h) runs each call at every ISA and requires
 * the same status, nothing written when rejected, and otherwise the scalar run's bytes wherever an output is
 * owed (each run prefills those with a NaN of its own, so an unwritten one shows) and the rest untouched.
 */
#include "fuzz_support.h"

enum { CAST_TO_BF16, CAST_FROM_BF16, CAST_TO_FP8, CAST_FROM_FP8, QUANT_TOKEN, DEQUANT_TOKEN, QUANT_BLOCK,
       DEQUANT_BLOCK, QUANT_CHANNEL, OPS };
enum { IN, OUT, SCALES, BUFFERS }; /* quantizers: x in, q out, scales out; dequantizers: q in, y out, scales in */

typedef struct {
    int op;
    ck_dtype xt;
    ck_quant_params params;
    ck_overflow overflow;
    size_t rows, cols, ldx, ldq, lds, group;
    bool null_params;
    int slot[BUFFERS];
} format_args;

static ck_status run(void *const *p, const void *ctx) {
    const format_args *a = ctx;
    const ck_quant_params *params = a->null_params ? NULL : &a->params;
    void *in = p[a->slot[IN]], *out = p[a->slot[OUT]], *s = a->slot[SCALES] < 0 ? NULL : p[a->slot[SCALES]];
    const ck_fp8_format f = a->params.format;
    const ck_scale_format sf = a->params.scale_format;
    switch (a->op) {
    case CAST_TO_BF16: return ck_cast_f32_to_bf16(in, out, a->cols);
    case CAST_FROM_BF16: return ck_cast_bf16_to_f32(in, out, a->cols);
    case CAST_TO_FP8: return ck_cast_to_fp8(in, a->xt, out, a->cols, f, a->overflow);
    case CAST_FROM_FP8: return ck_cast_from_fp8(in, f, out, a->xt, a->cols);
    case QUANT_TOKEN:
        return ck_quant_per_token(in, a->xt, a->rows, a->cols, a->ldx, a->group, params, out, a->ldq, s, a->lds);
    case DEQUANT_TOKEN:
        return ck_dequant_per_token(in, f, a->rows, a->cols, a->ldq, a->group, s, sf, a->lds, out, a->xt, a->ldx);
    case QUANT_BLOCK:
        return ck_quant_per_block(in, a->xt, a->rows, a->cols, a->ldx, a->group, params, out, a->ldq, s, a->lds);
    case DEQUANT_BLOCK:
        return ck_dequant_per_block(in, f, a->rows, a->cols, a->ldq, a->group, s, sf, a->lds, out, a->xt, a->ldx);
    default:
        return ck_quant_per_channel_transposed(in, a->xt, a->rows, a->cols, a->ldx, a->group, params, out, a->ldq, s,
                                               a->lds);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = fz_start(data, size);
    format_args a = {.op = (int)fz_below(&in, OPS)};
    const unsigned flags = fz_byte(&in); /* bits 0-2 all set: a NULL pointer; bit 3: out-of-range enums */
    const unsigned enums = flags & 8 ? 3 : 2;
    static const ck_dtype types[3] = {CK_DTYPE_F32, CK_DTYPE_BF16, CK_DTYPE_E4M3FN};
    a.xt = types[fz_byte(&in) % enums];
    a.params = (ck_quant_params){(ck_fp8_format)(fz_byte(&in) % enums), (ck_scale_format)(fz_byte(&in) % enums),
                                 (ck_scaling)(fz_byte(&in) % enums)};
    a.overflow = (ck_overflow)(fz_byte(&in) % enums);
    const unsigned null_role = (flags & 7) == 7 ? 1 + fz_byte(&in) % 4 : 0; /* input, output, scales, params */
    a.null_params = null_role == 4;
    a.rows = fz_dim(&in, 5, 300);
    a.cols = fz_dim(&in, 40, 600);
    a.group = fz_byte(&in) % 8 == 0 ? fz_below(&in, 300) : (size_t[]){128, 32, 1, 7, 16, 128, 129}[fz_byte(&in) % 7];
    if (a.rows * a.cols > (1u << 17)) return 0;
    const bool quant = a.op == QUANT_TOKEN || a.op == QUANT_BLOCK || a.op == QUANT_CHANNEL;
    const bool dequant = a.op == DEQUANT_TOKEN || a.op == DEQUANT_BLOCK;
    const bool channel = a.op == QUANT_CHANNEL, block = a.op == QUANT_BLOCK || a.op == DEQUANT_BLOCK;
    /* x (or y) [rows, cols]; q [rows, cols] ([cols, rows] per channel); scales [grid rows, grid cols] */
    const size_t q_rows = channel ? a.cols : a.rows, q_cols = channel ? a.rows : a.cols;
    const size_t s_rows = block ? fz_div_up(a.rows, a.group) : q_rows, s_cols = fz_div_up(q_cols, a.group);
    a.ldx = fz_stride(&in, a.cols);
    a.ldq = fz_stride(&in, q_cols);
    a.lds = fz_stride(&in, s_cols);
    const size_t xsize = fz_dtype_size(a.xt);
    const size_t ssize = a.params.scale_format == CK_SCALE_UE8M0 ? 1 : 4;

    fz_call c = {.fill_differs = true};
    a.slot[SCALES] = -1;
    if (a.op <= CAST_FROM_FP8) { /* casts: n = cols elements */
        const ck_dtype from = a.op == CAST_TO_BF16 ? CK_DTYPE_F32 : a.op == CAST_FROM_BF16 ? CK_DTYPE_BF16
                            : a.op == CAST_TO_FP8 ? a.xt : CK_DTYPE_E4M3FN;
        const size_t to = fz_dtype_size(a.op == CAST_TO_BF16 ? CK_DTYPE_BF16 : a.op == CAST_FROM_BF16 ? CK_DTYPE_F32
                                        : a.op == CAST_TO_FP8 ? CK_DTYPE_E4M3FN : a.xt);
        a.slot[IN] = fz_add(&c, a.cols, fz_dtype_size(from), false, null_role == 1);
        fz_fill(&in, fz_init(&c, a.slot[IN]), from, a.cols);
        a.slot[OUT] = fz_add(&c, a.cols, to, true, null_role == 2);
        fz_owe(&c, a.slot[OUT], 0, a.cols, to);
    } else if (quant) {
        a.slot[IN] = fz_add(&c, fz_span(a.rows, a.cols, a.ldx), xsize, false, null_role == 1);
        fz_fill(&in, fz_init(&c, a.slot[IN]), a.xt, fz_span(a.rows, a.cols, a.ldx));
        a.slot[OUT] = fz_add(&c, fz_span(q_rows, q_cols, a.ldq), 1, true, null_role == 2);
        for (size_t r = 0; r < q_rows; r++) fz_owe(&c, a.slot[OUT], r * a.ldq, q_cols, 1);
        a.slot[SCALES] = fz_add(&c, fz_span(s_rows, s_cols, a.lds), ssize, true, null_role == 3);
        for (size_t r = 0; r < s_rows; r++) fz_owe(&c, a.slot[SCALES], r * a.lds, s_cols, ssize);
    } else if (dequant) {
        a.slot[IN] = fz_add(&c, fz_span(a.rows, a.cols, a.ldq), 1, false, null_role == 1);
        fz_fill(&in, fz_init(&c, a.slot[IN]), CK_DTYPE_E4M3FN, fz_span(a.rows, a.cols, a.ldq));
        a.slot[SCALES] = fz_add(&c, fz_span(s_rows, s_cols, a.lds), ssize, false, null_role == 3);
        if (ssize == 4) fz_fill_scales(&in, fz_init(&c, a.slot[SCALES]), fz_span(s_rows, s_cols, a.lds));
        else fz_fill(&in, fz_init(&c, a.slot[SCALES]), CK_DTYPE_E4M3FN, fz_span(s_rows, s_cols, a.lds));
        a.slot[OUT] = fz_add(&c, fz_span(a.rows, a.cols, a.ldx), xsize, true, null_role == 2);
        for (size_t r = 0; r < a.rows; r++) fz_owe(&c, a.slot[OUT], r * a.ldx, a.cols, xsize);
    }
    fz_check(&c, run, &a);
    return 0;
}

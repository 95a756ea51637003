/*
 * What the libFuzzer targets share: a reader that turns the fuzzer's bytes into call arguments, buffers of
 * exactly the size a call's arguments claim (so AddressSanitizer sees any access past them), their contents,
 * and the differential check every target makes.
 *
 * The check: a call runs once per ISA cap, scalar first (the reference) up to the highest, each time on fresh
 * copies of the same inputs and of its outputs' prefill. Caps above the detected ISA run at the detected one, as a
 * default call does, so on a CPU that lacks an ISA (Tests/Fuzz/run.sh cpus, under emulation) the check also shows
 * that no cap lets its instructions run. Every run must return the same status. A rejected call
 * must leave every output byte as it was. An accepted one must give the scalar run's bytes wherever the call
 * owes an output and leave the rest (gaps between rows, rows it must not touch) as it was. With fill_differs
 * set (the call never reads its outputs), each run prefills its outputs with a NaN pattern of its own, so an
 * output owed but not written shows up as a difference. With dot_runs, where the CPU has AVX512_BF16, two more runs
 * per dot-product level take BF16 dot products (ck_set_bf16_dot_products), whose bits are not the scalar run's: they
 * must agree with each other.
 */
#ifndef MOEKIT_FUZZ_SUPPORT_H
#define MOEKIT_FUZZ_SUPPORT_H

#include "CKernels.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fuzzer's bytes as arguments ---- */
typedef struct {
    const uint8_t *p;
    size_t n;
    uint64_t rng; /* the contents' generator, seeded from the bytes */
} fz_input;

/* The reader of one input, its generator seeded from all of its bytes. */
static inline fz_input fz_start(const uint8_t *data, size_t size) {
    fz_input in = {data, size, 0x9E3779B97F4A7C15ull ^ size};
    for (size_t i = 0; i < size; i++) in.rng = in.rng * 31 + data[i];
    in.rng |= 1; /* xorshift never leaves 0 */
    return in;
}

/* The next byte (0 once the input is used up). */
static inline unsigned fz_byte(fz_input *in) {
    if (in->n == 0) return 0;
    in->n--;
    return *in->p++;
}

/* A value below `range` (> 0) from the next one or two bytes. */
static inline size_t fz_below(fz_input *in, size_t range) {
    const size_t v = range <= 256 ? fz_byte(in) : fz_byte(in) << 8 | fz_byte(in);
    return v % range;
}

/* A dimension: mostly small, sometimes up to `large` (reaching past the kernels' tile and decode limits). */
static inline size_t fz_dim(fz_input *in, size_t small, size_t large) {
    return fz_byte(in) % 4 == 0 ? fz_below(in, large + 1) : fz_below(in, small + 1);
}

/* A row stride for rows of `len`: mostly len or a little more, sometimes one less (an invalid stride). */
static inline size_t fz_stride(fz_input *in, size_t len) {
    static const int extra[8] = {0, 0, 0, 1, 3, 16, 0, -1};
    const int e = extra[fz_byte(in) % 8];
    return e < 0 && len == 0 ? 0 : len + (size_t)(ptrdiff_t)e;
}

static inline uint64_t fz_next(fz_input *in) {
    in->rng ^= in->rng << 13;
    in->rng ^= in->rng >> 7;
    in->rng ^= in->rng << 17;
    return in->rng;
}

/* a / b rounded up (0 when b is 0: the call then rejects b) */
static inline size_t fz_div_up(size_t a, size_t b) { return b ? (a + b - 1) / b : 0; }

/* Elements of `rows` rows of `len` with stride ld (the last row only as long as it is). */
static inline size_t fz_span(size_t rows, size_t len, size_t ld) { return rows ? (rows - 1) * ld + len : 0; }

/* ---- contents ---- */
/* An f32 value: mostly modest, sometimes one of the values every kernel must get right. */
static inline float fz_float(fz_input *in) {
    static const uint32_t special[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00001u,
                                       0x00000001u, 0x807FFFFFu, 0x7F7FFFFFu, 0x43E00000u, 0x43E80000u, 0x3B800000u};
    const uint64_t r = fz_next(in);
    if (r % 32 == 0) {
        float f;
        memcpy(&f, &special[(r >> 8) % (sizeof special / sizeof special[0])], 4);
        return f;
    }
    const float v = (float)((int64_t)(r >> 40) - (1 << 23)) / (float)(1 << 22); /* [-2, 2) */
    return v * (float)(1u << (r >> 8) % 16) / 256.0f;                          /* times 2^-8 ... 2^7 */
}

/* Bytes per element of type t: fp8 codes, and any out-of-range type, take one (as fz_fill writes them). */
static inline size_t fz_dtype_size(ck_dtype t) { return t == CK_DTYPE_F32 ? 4 : t == CK_DTYPE_BF16 ? 2 : 1; }

/* `count` elements of type t (f32, bf16, or any byte: fp8 codes) from the generator. */
static inline void fz_fill(fz_input *in, void *p, ck_dtype t, size_t count) {
    for (size_t i = 0; i < count; i++) {
        if (t != CK_DTYPE_F32 && t != CK_DTYPE_BF16) {
            ((uint8_t *)p)[i] = (uint8_t)fz_next(in);
            continue;
        }
        const float f = fz_float(in);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        if (t == CK_DTYPE_F32) ((float *)p)[i] = f;
        else ((uint16_t *)p)[i] = (uint16_t)(bits >> 16);
    }
}

/* Scales: positive powers of two and other positive values, sometimes 0, NaN or inf. */
static inline void fz_fill_scales(fz_input *in, float *s, size_t count) {
    for (size_t i = 0; i < count; i++) {
        const uint64_t r = fz_next(in);
        const float special[] = {0.0f, __builtin_nanf(""), __builtin_inff()};
        s[i] = r % 64 == 0 ? special[(r >> 8) % 3] : (float)((r >> 16) % 1000 + 1) / (float)(1 << (r >> 32) % 12);
    }
}

/* ---- buffers ---- */
/* One buffer the call reads or writes: `bytes` long, in its own allocation so that ASan's redzones sit right
 * after it; NULL when null is set (a zero-size one may be NULL too). For outputs, owed[i] says whether the call
 * owes byte i (NULL for inputs). */
typedef struct {
    size_t bytes;
    bool output, null;
    uint8_t *init;  /* the contents every run starts from */
    uint8_t *owed;  /* outputs: 1 where the call owes the byte */
    uint8_t *first; /* outputs: the reference run's result */
} fz_buffer;

enum { FZ_MAX_BUFFERS = 8 };

typedef struct {
    fz_buffer b[FZ_MAX_BUFFERS];
    int count;
    bool fill_differs; /* outputs are never read: each run prefills them with its own NaN pattern */
    bool dot_runs;     /* a GEMM call: also run under BF16 dot products (fz_check) */
} fz_call;

/* Adds a buffer of `count` elements of `size` bytes, zeroed; returns its index. The caller fills what it wants
 * through fz_init(...); with fill_differs, each run overwrites an output's owed bytes with its own pattern. */
static inline int fz_add(fz_call *c, size_t count, size_t size, bool output, bool null) {
    fz_buffer *b = &c->b[c->count];
    b->bytes = count * size;
    b->output = output;
    b->null = null;
    b->init = calloc(b->bytes + 1, 1);
    b->owed = output ? calloc(b->bytes + 1, 1) : NULL;
    b->first = NULL;
    return c->count++;
}

static inline void *fz_init(fz_call *c, int i) { return c->b[i].init; }

/* Marks `count` elements of `size` bytes from element `at` of output i as owed. */
static inline void fz_owe(fz_call *c, int i, size_t at, size_t count, size_t size) {
    memset(c->b[i].owed + at * size, 1, count * size);
}

static inline void fz_release(fz_call *c) {
    for (int i = 0; i < c->count; i++) {
        free(c->b[i].init);
        free(c->b[i].owed);
        free(c->b[i].first);
    }
    c->count = 0;
}

static inline void fz_fail(const char *what, ck_isa cap, ck_status s, int buffer, size_t byte) {
    fprintf(stderr, "MoEKit fuzz: %s at ISA cap %s (active %s; buffer %d, byte %zu); the call returned %s%s%s\n", what,
            ck_isa_name(cap), ck_isa_name(ck_active_isa()), buffer, byte, ck_status_name(s), s == CK_OK ? "" : ": ",
            s == CK_OK ? "" : ck_last_error_message());
    abort();
}

/* With MOEKIT_FUZZ_EXPECT_ISA set (Tests/Fuzz/run.sh cpus), the ISA this CPU must be detected as. */
static inline void fz_expect_detected(void) {
    static bool checked = false;
    if (checked) return;
    checked = true;
    const char *expected = getenv("MOEKIT_FUZZ_EXPECT_ISA");
    const char *detected = ck_isa_name(ck_detected_isa());
    if (expected && strcmp(expected, detected) != 0) {
        fprintf(stderr, "MoEKit fuzz: this CPU (%s) was detected as %s, expected %s\n", ck_cpu_name(), detected, expected);
        abort();
    }
}

/* Runs `run` (which calls the API on the pointers it is given) at every ISA cap and checks the results as the
 * comment at the top says. Threads alternate between 1 and 2 from run to run. */
typedef ck_status (*fz_runner)(void *const *ptrs, const void *ctx);

/* One run at ISA cap `isa` on `threads` threads, with BF16 dot products on or off, on fresh copies of the inputs
 * and of the outputs' prefill (with fill_differs, the owed bytes filled with `pattern`, a NaN of the run's own).
 * Fails if a byte the call may not touch changed; returns the status, and in mem[i] each buffer afterwards. */
static inline ck_status fz_run(const fz_call *c, fz_runner run, const void *ctx, int isa, int threads, bool dot,
                               uint32_t pattern, uint8_t **mem) {
    void *ptrs[FZ_MAX_BUFFERS];
    uint8_t *start[FZ_MAX_BUFFERS]; /* a copy of what the call gets */
    for (int i = 0; i < c->count; i++) {
        const fz_buffer *b = &c->b[i];
        start[i] = malloc(b->bytes + 1);
        memcpy(start[i], b->init, b->bytes);
        if (b->output && c->fill_differs)
            for (size_t q = 0; q < b->bytes; q++)
                if (b->owed[q]) start[i][q] = ((const uint8_t *)&pattern)[q % 4];
        mem[i] = malloc(b->bytes ? b->bytes : 1);
        memcpy(mem[i], start[i], b->bytes);
        ptrs[i] = b->null || (b->bytes == 0 && isa % 2) ? NULL : mem[i];
    }
    ck_set_max_isa((ck_isa)isa);
    ck_set_num_threads(threads);
    ck_set_bf16_dot_products(dot);
    const ck_status s = run(ptrs, ctx);
    ck_set_bf16_dot_products(false);
    for (int i = 0; i < c->count; i++) {
        const fz_buffer *b = &c->b[i];
        for (size_t q = 0; q < b->bytes; q++)
            if (!(b->output && b->owed[q] && s == CK_OK) && mem[i][q] != start[i][q])
                fz_fail(b->output ? "a byte the call does not owe changed" : "an input changed", (ck_isa)isa, s, i, q);
        free(start[i]);
    }
    return s;
}

/* The check; then, where the CPU has AVX512_BF16, the call under BF16 dot products (ck_set_bf16_dot_products) at
 * each dot-product level it runs (avx512bf16, and avx512bf16vbmi with AVX512_VBMI) on one thread and on two, each with
 * its own prefill: the scalar run's status, and the same bytes in all wherever an output is owed (their order is not
 * the scalar one, so that is what can be compared). */
static inline void fz_check(fz_call *c, fz_runner run, const void *ctx) {
    fz_expect_detected();
    ck_status first = CK_OK;
    for (int isa = CK_ISA_SCALAR; isa < CK_ISA_COUNT; isa++) {
        uint8_t *mem[FZ_MAX_BUFFERS];
        const ck_status s = fz_run(c, run, ctx, isa, 1 + isa % 2, false, 0x7FA00000u + (uint32_t)isa * 0x1111u, mem);
        if (isa == CK_ISA_SCALAR) first = s;
        else if (s != first) fz_fail("status differs from the scalar run's", (ck_isa)isa, s, -1, 0);
        for (int i = 0; i < c->count; i++) {
            fz_buffer *b = &c->b[i];
            for (size_t q = 0; isa != CK_ISA_SCALAR && b->output && s == CK_OK && q < b->bytes; q++)
                if (b->owed[q] && mem[i][q] != b->first[q]) fz_fail("output differs from the scalar run's", (ck_isa)isa, s, i, q);
            if (isa == CK_ISA_SCALAR && b->output && s == CK_OK) b->first = mem[i];
            else free(mem[i]);
        }
    }
    uint8_t *dot_first[FZ_MAX_BUFFERS], *runs[2][FZ_MAX_BUFFERS];
    bool dot_ran = false;
    for (int isa = CK_ISA_AVX512BF16; c->dot_runs && isa < CK_ISA_COUNT; isa++) { /* the levels with dot kernels */
        if (!ck_isa_supported((ck_isa)isa)) continue;
        const ck_status s1 = fz_run(c, run, ctx, isa, 1, true, 0x7FA0DDDDu + (uint32_t)isa, runs[0]);
        const ck_status s2 = fz_run(c, run, ctx, isa, 2, true, 0x7FA0EEEEu + (uint32_t)isa, runs[1]);
        if (s1 != first || s2 != first)
            fz_fail("BF16 dot products: status differs from the scalar run's", (ck_isa)isa, s1 != first ? s1 : s2, -1, 0);
        for (int i = 0; i < c->count; i++) {
            const fz_buffer *b = &c->b[i];
            for (size_t q = 0; b->output && s1 == CK_OK && q < b->bytes; q++) {
                if (b->owed[q] && runs[0][i][q] != runs[1][i][q])
                    fz_fail("BF16 dot products: one thread and two (or an owed byte not written)", (ck_isa)isa, s1, i, q);
                if (b->owed[q] && dot_ran && runs[0][i][q] != dot_first[i][q])
                    fz_fail("BF16 dot products: output differs from the lower dot level's", (ck_isa)isa, s1, i, q);
            }
            if (dot_ran) free(runs[0][i]);
            else dot_first[i] = runs[0][i];
            free(runs[1][i]);
        }
        dot_ran = true;
    }
    for (int i = 0; dot_ran && i < c->count; i++) free(dot_first[i]);
    fz_release(c);
}

#endif

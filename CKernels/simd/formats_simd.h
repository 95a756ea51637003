/*
 * Format kernels written once over the vector vocabulary of vec_<isa>.h and instantiated per ISA by
 * x86_<isa>/formats_<isa>.c. Contract: ck_formats_kernels in core/internal.h. Every vector step computes
 * exactly what core/formats_element.h computes for one element (which also handles the tails), so each ISA
 * is bit-identical to the scalar reference.
 */
#include "elements_simd.h"

#include <math.h>

/* Rounds magnitudes a >= the format's smallest normal to their code (garbage below it). */
static inline vu32 v_fp8_normal(vu32 a, const ck_fp8_spec *f) {
    /* (a + half - 1 + lsb) >> shift - rebias, with the rebias folded into the constant */
    switch (f->mant_bits) { /* shifts take immediates */
    case 3: return v_srl(v_add(v_add_bit(a, 20), v_set((1u << 19) - 1 - (f->rebias << 20))), 20);
    default: return v_srl(v_add(v_add_bit(a, 21), v_set((1u << 20) - 1 - (f->rebias << 21))), 21);
    }
}

/* Rounds magnitudes a below the format's smallest normal to their (subnormal or zero) code. */
static inline vu32 v_fp8_subnormal(vu32 a, const ck_fp8_spec *f) {
    return v_sub(v_as_u32(v_addf(v_as_f32(a), v_as_f32(v_set(f->sub_magic)))), v_set(f->sub_magic));
}

/* code | the sign of the f32 bit pattern u */
static inline vu32 v_with_sign(vu32 code, vu32 u) { return v_or(code, v_and(v_srl(u, 24), v_set(0x80u))); }

static inline vu32 v_fp8_from_bits(vu32 u, const ck_fp8_spec *f, ck_overflow overflow) {
    const vu32 a = v_and(u, v_set(0x7FFFFFFFu));
    vu32 code = v_select(v_gt(v_set(f->min_normal), a), v_fp8_subnormal(a, f), v_fp8_normal(a, f));
    if (overflow == CK_OVERFLOW_SATURATE) code = v_min(code, v_set(f->max_code));
    else code = v_select(v_gt(code, v_set(f->max_code)), v_set(f->overflow_code), code);
    code = v_select(v_gt(a, v_set(0x7F800000u)), v_set(f->nan_code), code);
    return v_with_sign(code, u);
}

/* For the quantizers' finite groups, whose scaled values y = x/s are finite and below the format's rounding
 * threshold past max (464 for E4M3FN, 61440 for E5M2; a finite group's |x/s| is at most about max): from
 * z = y * grid_scale (ck_fp8_spec), the fp8 value nearest y (ties to even, subnormals included) times
 * 2^-f16_shift, with the sign of `sign` (x's, so that +-0 results keep it). The magic number m = +-2^e, e the
 * exponent of max(|z|, grid_floor), with z's sign, has as its ulp the fp8 step of y's binade (or the subnormal
 * step) times 2^-f16_shift; z * grid_unit = y * 2^-f16_shift is below 2^-19 |m|, so the fma rounds it at that
 * step without leaving m's binade, and the subtraction is exact. Every result is a binary16 value whose
 * encoding holds the fp8 code (v_fp8_codes). Five instructions on AVX-512 where v_fp8_from_bits takes about
 * twelve, with no blend between normal and subnormal rounding. Checked against ck_fp8_from_bits for every
 * binary32 below the threshold, both signs, both formats, both ISAs, with DAZ and FTZ on and off (a throw-away
 * driver); QuantizeRoundingTests keeps every midpoint +-2 ulp and a sweep. */
static inline vf32 v_fp8_grid(vf32 z, vu32 sign, const ck_fp8_spec *f) {
    const vu32 r = v_as_u32(v_maxabs_signed(z, v_setf(f->grid_floor)));
    const vf32 m = v_as_f32(v_and(r, v_set(0xFF800000u)));
    const vf32 t = v_subf(v_fmaf(z, v_setf(f->grid_unit), m), m);
    return v_as_f32(v_or(v_as_u32(t), v_and(sign, v_set(0x80000000u))));
}

/* fp8 codes from the binary16 encodings h of v_fp8_grid's values, one per 16-bit lane (the upper halves of the
 * 32-bit lanes hold more of them, or zeros). E5M2 shares binary16's exponent field, so its code is the top byte.
 * E4M3's values come scaled by 2^-8, which puts its exponent and mantissa in bits 7..13 under a zero bit 14;
 * moving those up one, under the sign, makes the code the top byte too. */
static inline vu32 v_fp8_from_f16(vu32 h, bool e4m3) {
    if (e4m3) h = v_or(v_sll16(h, 1), v_and(h, v_set(0x80008000u)));
    return v_srl16(h, 8);
}

/* The codes of one vector of v_fp8_grid values, one per lane. */
static inline vu32 v_fp8_codes(vf32 t, bool e4m3) { return v_fp8_from_f16(v_f16_widen(v_f16(t)), e4m3); }

#define CK_INLINE static inline __attribute__((always_inline))

/* Expands BODY(type, spec) with the element type and the fp8 format as compile-time constants, so every
 * loop below is specialised (immediate shifts, folded constants, no per-element type tests). */
#define CK_SPECIALIZE(t, format, BODY)                                                                      \
    do {                                                                                                    \
        const bool e4m3_ = (format) == CK_FP8_E4M3FN;                                                        \
        if ((t) == CK_DTYPE_F32) {                                                                          \
            if (e4m3_) BODY(CK_DTYPE_F32, &ck_fp8_specs[CK_FP8_E4M3FN]);                                     \
            else BODY(CK_DTYPE_F32, &ck_fp8_specs[CK_FP8_E5M2]);                                             \
        } else {                                                                                            \
            if (e4m3_) BODY(CK_DTYPE_BF16, &ck_fp8_specs[CK_FP8_E4M3FN]);                                    \
            else BODY(CK_DTYPE_BF16, &ck_fp8_specs[CK_FP8_E5M2]);                                            \
        }                                                                                                   \
    } while (0)

static void CK_SIMD(f32_to_bf16)(const float *x, uint16_t *y, size_t n, bool stream) {
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_y(y, CK_DTYPE_BF16, i, v_load_f32(x + i), stream);
    for (; i < n; i++) y[i] = ck_bf16_from_bits(ck_f32_bits(x[i]));
}

static void CK_SIMD(bf16_to_f32)(const uint16_t *x, float *y, size_t n, bool stream) {
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_y(y, CK_DTYPE_F32, i, v_load_bf16(x + i), stream);
    for (; i < n; i++) y[i] = ck_bits_f32((uint32_t)x[i] << 16);
}

CK_INLINE void to_fp8_body(const void *x, ck_dtype xt, uint8_t *y, size_t n, const ck_fp8_spec *f, ck_overflow o) {
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_u8(y + i, v_fp8_from_bits(v_load_x(x, xt, i), f, o));
    for (; i < n; i++) y[i] = ck_fp8_from_bits(ck_load_bits(x, xt, i), f, o);
}

static void CK_SIMD(to_fp8)(const void *x, ck_dtype xt, uint8_t *y, size_t n, ck_fp8_format format,
                            ck_overflow overflow) {
#define BODY(T, F)                                                                                          \
    do {                                                                                                    \
        if (overflow == CK_OVERFLOW_SATURATE) to_fp8_body(x, T, y, n, F, CK_OVERFLOW_SATURATE);              \
        else to_fp8_body(x, T, y, n, F, CK_OVERFLOW_NAN);                                                   \
    } while (0)
    CK_SPECIALIZE(xt, format, BODY);
#undef BODY
}

CK_INLINE void from_fp8_body(const uint8_t *x, void *y, ck_dtype yt, size_t n, const ck_fp8_spec *f, bool stream) {
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) v_store_y(y, yt, i, v_fp8_to_bits(v_load_u8(x + i), f), stream);
    for (; i < n; i++) ck_store_bits(y, yt, i, ck_fp8_to_bits(x[i], f));
}

static void CK_SIMD(from_fp8)(const uint8_t *x, ck_fp8_format format, void *y, ck_dtype yt, size_t n, bool stream) {
#define BODY(T, F) from_fp8_body(x, y, T, n, F, stream)
    CK_SPECIALIZE(yt, format, BODY);
#undef BODY
}

static inline vu32 v_amax(vu32 hi, vu32 x) { return v_max(hi, v_and(x, v_set(0x7FFFFFFFu))); }
/* The same for the two bf16 values in each lane of x, kept in the lane's 16-bit halves. */
static inline vu32 v_amax16(vu32 hi, vu32 x) { return v_max16(hi, v_and(x, v_set(0x7FFF7FFFu))); }

/* The lane-wise amax over the whole vectors of x[start, end), prefetching a line of `next` (if not NULL) at each
 * 64 bytes of the span. */
CK_INLINE vu32 v_group_amax(const void *x, ck_dtype xt, size_t start, size_t end, const char *next) {
    const size_t es = ck_dtype_size(xt);
    vu32 hi = v_set(0);
    for (size_t i = start; i + CK_VW <= end; i += CK_VW) {
        if (next && i * es % 64 == 0) __builtin_prefetch(next + i * es, 0, 3);
        hi = v_amax(hi, v_load_x(x, xt, i));
    }
    return hi;
}

/* The same for bf16 x and a span of whole double vectors, on the 16-bit magnitudes as they lie in memory, 2 * CK_VW
 * at a time (their f32 bit patterns are these << 16, so the maxima agree); each lane holds the larger of its two. */
CK_INLINE vu32 v_group_amax_bf16(const uint16_t *x, size_t start, size_t end, const char *next) {
    vu32 hi = v_set(0);
    for (size_t i = start; i + 2 * CK_VW <= end; i += 2 * CK_VW) {
        if (next && i * 2 % 64 == 0) __builtin_prefetch(next + i * 2, 0, 3);
        hi = v_amax16(hi, v_load_u32(x + i));
    }
    return v_max(v_and(hi, v_set(0xFFFFu)), v_srl(hi, 16));
}

/* Groups of whole vectors come CK_VW at a time, so that one v_hmax_each reduces all of them (bf16 groups of
 * whole double vectors through v_group_amax_bf16, in a quarter of the instructions); the rest (and other group
 * sizes) one group at a time. */
CK_INLINE void range_groups_body(const void *x, ck_dtype xt, size_t n, size_t group, uint32_t *amax,
                                  const char *next) {
    const bool halves = xt == CK_DTYPE_BF16 && group % (2 * CK_VW) == 0;
    size_t g = 0, start = 0;
    if (group % CK_VW == 0)
        for (; (n - start) / group >= CK_VW; start += CK_VW * group, g += CK_VW) { /* no overflow for huge groups */
            vu32 hi[CK_VW];
            for (size_t k = 0; k < CK_VW; k++) {
                const size_t a = start + k * group, b = a + group;
                hi[k] = halves ? v_group_amax_bf16(x, a, b, next) : v_group_amax(x, xt, a, b, next);
            }
            v_store_u32(amax + g, halves ? v_sll(v_hmax_each(hi), 16) : v_hmax_each(hi));
        }
    for (; start < n; g++, start += group) {
        const size_t end = n - start < group ? n : start + group;
        uint32_t mx = v_hmax(v_group_amax(x, xt, start, end, next));
        for (size_t i = start + (end - start) / CK_VW * CK_VW; i < end; i++) {
            const uint32_t a = ck_load_bits(x, xt, i) & 0x7FFFFFFFu;
            mx = a > mx ? a : mx;
        }
        amax[g] = mx;
    }
}

static void CK_SIMD(range_groups)(const void *x, ck_dtype xt, size_t n, size_t group, uint32_t *amax,
                                  const void *next) {
    if (xt == CK_DTYPE_F32) range_groups_body(x, CK_DTYPE_F32, n, group, amax, next);
    else range_groups_body(x, CK_DTYPE_BF16, n, group, amax, next);
}

/* amax[v * CK_VW + lane] over the rows of nv <= 16 column vectors from x's first column, row by row, so that each
 * row's run is read in one go (a walk down one column vector at a time would touch a new page per load, which
 * DRAM streams poorly), with the run four rows ahead prefetched: the runs are short and far apart, too short for
 * the hardware prefetchers to ramp up on. BF16 columns, for an even nv, go 2 * CK_VW to a register as their 16-bit
 * magnitudes (as in v_group_amax_bf16), column 2j in lane j's low half and 2j + 1 in its high half. */
CK_INLINE void range_cols_chunk(const void *x, ck_dtype xt, size_t rows, size_t nv, size_t ldx, uint32_t *amax) {
    const size_t es = ck_dtype_size(xt), ahead = 4;
    const bool halves = xt == CK_DTYPE_BF16 && nv % 2 == 0;
    const size_t nr = halves ? nv / 2 : nv; /* registers */
    vu32 hi[16];
    for (size_t v = 0; v < nr; v++) hi[v] = v_set(0);
    for (size_t r = 0; r < rows; r++) {
        if (r + ahead < rows)
            for (size_t b = 0; b < nv * CK_VW * es; b += 64)
                __builtin_prefetch((const char *)x + (r + ahead) * ldx * es + b, 0, 3);
        for (size_t v = 0; v < nr; v++) {
            const size_t at = r * ldx + (halves ? 2 : 1) * v * CK_VW;
            hi[v] = halves ? v_amax16(hi[v], v_load_u32((const uint16_t *)x + at)) : v_amax(hi[v], v_load_x(x, xt, at));
        }
    }
    for (size_t v = 0; v < nr; v++) {
        if (!halves) {
            v_store_u32(amax + v * CK_VW, hi[v]);
            continue;
        }
        uint32_t even[CK_VW], odd[CK_VW]; /* the f32 patterns of columns 2j and 2j + 1 */
        v_store_u32(even, v_sll(hi[v], 16));
        v_store_u32(odd, v_and(hi[v], v_set(0xFFFF0000u)));
        for (size_t j = 0; j < CK_VW; j++) {
            amax[2 * v * CK_VW + 2 * j] = even[j];
            amax[2 * v * CK_VW + 2 * j + 1] = odd[j];
        }
    }
}

/* Chunks of 16 column vectors with nv a constant, which keeps their maxima in registers (with nv variable they
 * live in memory: 1.2 x slower on 128 x 1 groups), then the last vectors, then the columns past them. */
CK_INLINE void range_cols_body(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, uint32_t *amax) {
    const size_t full = cols / CK_VW * CK_VW, es = ck_dtype_size(xt);
    size_t c0 = 0;
    for (; c0 + 16 * CK_VW <= full; c0 += 16 * CK_VW)
        range_cols_chunk((const char *)x + c0 * es, xt, rows, 16, ldx, amax + c0);
    if (c0 < full) range_cols_chunk((const char *)x + c0 * es, xt, rows, (full - c0) / CK_VW, ldx, amax + c0);
    for (size_t c = full; c < cols; c++) {
        uint32_t mx = 0;
        for (size_t r = 0; r < rows; r++) {
            const uint32_t a = ck_load_bits(x, xt, r * ldx + c) & 0x7FFFFFFFu;
            mx = a > mx ? a : mx;
        }
        amax[c] = mx;
    }
}

static void CK_SIMD(range_cols)(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, uint32_t *amax) {
    if (xt == CK_DTYPE_F32) range_cols_body(x, CK_DTYPE_F32, rows, cols, ldx, amax);
    else range_cols_body(x, CK_DTYPE_BF16, rows, cols, ldx, amax);
}

CK_INLINE void scales_body(const uint32_t *amax_bits, size_t n, const ck_fp8_spec *f, ck_scale_format sf, float *s,
                           float *rcp, uint8_t *e8) {
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) {
        const vu32 a = v_load_u32(amax_bits + i);
        vf32 scale = v_divf(v_as_f32(v_max(a, v_set(0x38D1B717u))), v_setf(f->max_value)); /* 1e-4f floor */
        scale = v_as_f32(v_select(v_gt(a, v_set(0x7F800000u)), v_set(0x7FC00000u), v_as_u32(scale))); /* one NaN */
        if (sf == CK_SCALE_UE8M0) {
            const vu32 b = v_as_u32(scale);
            vu32 e = v_add(v_srl(b, 23), v_min(v_and(b, v_set(0x007FFFFFu)), v_set(1)));
            e = v_min(v_max(e, v_set(1)), v_set(254));
            const vmask nonfinite = v_gt(a, v_set(0x7F7FFFFFu));
            v_store_u8(e8 + i, v_select(nonfinite, v_set(0xFF), e));
            scale = v_as_f32(v_select(nonfinite, b, v_sll(e, 23)));
        }
        v_store_u32(s + i, v_as_u32(scale));
        v_store_u32(rcp + i, v_as_u32(v_divf(v_setf(1.0f), scale)));
    }
    for (; i < n; i++) {
        s[i] = ck_scale_f32(amax_bits[i], f);
        if (sf == CK_SCALE_UE8M0) {
            e8[i] = ck_scale_ue8m0(amax_bits[i], f);
            if (e8[i] != 0xFF) s[i] = ck_bits_f32((uint32_t)e8[i] << 23);
        }
        rcp[i] = 1.0f / s[i];
    }
}

static void CK_SIMD(scales)(const uint32_t *amax_bits, size_t n, ck_fp8_format format, ck_scale_format sf, float *s,
                            float *rcp, uint8_t *e8) {
    const ck_fp8_spec *f = &ck_fp8_specs[format];
    if (sf == CK_SCALE_F32) scales_body(amax_bits, n, f, CK_SCALE_F32, s, rcp, e8);
    else scales_body(amax_bits, n, f, CK_SCALE_UE8M0, s, rcp, e8);
}

/* How a group's elements are scaled (see v_scaled); PER_GROUP: each group as its scale says (quant_groups_with). */
typedef enum { FINITE_PRODUCT, FINITE_QUOTIENT, NONFINITE_PRODUCT, NONFINITE_DIVISION, PER_GROUP } scale_op;

/* CALL(op) with op a compile-time constant, so that each case inlines a loop specialised for it. */
#define CK_WITH_OP(op, CALL)                                                                                \
    do {                                                                                                    \
        switch (op) {                                                                                       \
        case FINITE_PRODUCT: CALL(FINITE_PRODUCT); break;                                                   \
        case FINITE_QUOTIENT: CALL(FINITE_QUOTIENT); break;                                                 \
        case NONFINITE_PRODUCT: CALL(NONFINITE_PRODUCT); break;                                             \
        default: CALL(NONFINITE_DIVISION); break;                                                           \
        }                                                                                                   \
    } while (0)

static inline bool is_finite_op(scale_op op) { return op == FINITE_PRODUCT || op == FINITE_QUOTIENT; }

/* x / s equals x * (1/s) to the bit when s is a normal power of two (1/s is then exact). */
static inline bool ck_is_power_of_two(float s) {
    const uint32_t b = ck_f32_bits(s);
    return (b & 0x007FFFFFu) == 0 && (b & 0x7F800000u) != 0 && (b & 0x7F800000u) != 0x7F800000u;
}

static inline scale_op scale_op_for(bool finite, bool power_of_two, ck_scaling sc) {
    if (!finite) return sc == CK_SCALING_RECIPROCAL ? NONFINITE_PRODUCT : NONFINITE_DIVISION;
    return sc == CK_SCALING_RECIPROCAL || power_of_two ? FINITE_PRODUCT : FINITE_QUOTIENT;
}

/* Scales and reciprocals (one per lane) as v_scaled takes them: for the finite ops times 2^-G and 2^G, where
 * grid_scale = 2^G. Exact: the finite scales the quantizers make lie within 2^-30 ... 2^120, so neither
 * product leaves the normal range. */
typedef struct {
    vf32 s, rcp;
} group_scale;

static inline group_scale group_scale_for(vf32 s, vf32 rcp, scale_op op, const ck_fp8_spec *f) {
    if (!is_finite_op(op)) return (group_scale){s, rcp};
    return (group_scale){v_mulf(s, v_setf(1.0f / f->grid_scale)), v_mulf(rcp, v_setf(f->grid_scale))};
}

/* x scaled by its group's scale s (rcp = RN(1/s)), as the op says:
 *   FINITE_PRODUCT     x * rcp (reciprocal scaling, or divide scaling with a power-of-two s, where the
 *                      product is the quotient to the bit);
 *   FINITE_QUOTIENT    the correctly rounded x / s without the divider: q = x*rcp, r = x - q*s (exact with
 *                      FMA), q' = q + r*rcp. With rcp = RN(1/s) this is Markstein's correction, which gives
 *                      RN(x/s) wherever it is a normal float (checked against the division for every x
 *                      significand with nine s significands, all-ones among them, and 4e8 random pairs
 *                      weighted to significands near 1 and 2); below that the fp8 code is +-0 either way,
 *                      and the sign comes from x, so the codes equal the true division's;
 *   NONFINITE_*        the same arithmetic as the scalar reference (true division or product), for NaN and
 *                      inf scales.
 * The finite ops' results come times grid_scale (g carries it), for v_fp8_grid. */
CK_INLINE vf32 v_scaled(vu32 x, group_scale g, scale_op op) {
    const vf32 xf = v_as_f32(x);
    switch (op) {
    case FINITE_PRODUCT:
    case NONFINITE_PRODUCT: return v_mulf(xf, g.rcp);
    case FINITE_QUOTIENT: {
        const vf32 q = v_mulf(xf, g.rcp);
        return v_fmaf(v_fnmaf(q, g.s, xf), g.rcp, q);
    }
    default: return v_divf(xf, g.s);
    }
}

/* A finite op's fp8 values of x (as v_fp8_grid gives them). Finite groups cannot overflow (|x/s| <= max). */
CK_INLINE vf32 v_quant_grid(vu32 x, group_scale g, scale_op op, const ck_fp8_spec *f) {
    return v_fp8_grid(v_scaled(x, g, op), x, f);
}

/* The fp8 codes of x in its group, one per lane: the finite ops through v_fp8_grid, the others through the
 * full encode (a NaN x keeps its own sign, as in ck_quant_element). */
CK_INLINE vu32 v_quant(vu32 x, group_scale g, scale_op op, const ck_fp8_spec *f) {
    if (is_finite_op(op)) return v_fp8_codes(v_quant_grid(x, g, op, f), f->mant_bits == 3);
    return v_fp8_from_bits(v_select(v_gt(v_and(x, v_set(0x7FFFFFFFu)), v_set(0x7F800000u)), x, v_as_u32(v_scaled(x, g, op))),
                           f, CK_OVERFLOW_SATURATE);
}

/* The fp8 codes of two vectors of x in one group, as v_u16_pair lays them out (a's, then b's, 16 bits each): for
 * the finite ops both are converted into one binary16 register, so that the code extraction and the pack that
 * follows work on 2 * CK_VW lanes at a time. */
CK_INLINE vu32 v_quant_pair(vu32 a, vu32 b, group_scale g, scale_op op, const ck_fp8_spec *f) {
    if (is_finite_op(op))
        return v_fp8_from_f16(v_f16_pair(v_f16(v_quant_grid(a, g, op, f)), v_f16(v_quant_grid(b, g, op, f))), f->mant_bits == 3);
    return v_u16_pair(v_quant(a, g, op, f), v_quant(b, g, op, f));
}

/* q[i..end) for one group, four vectors per step (one narrowing pack), then one at a time. */
CK_INLINE void quant_run(const void *x, ck_dtype xt, size_t i, size_t end, float s, float rcp, scale_op op,
                         const ck_fp8_spec *f, uint8_t *q, const char *next) {
    const group_scale g = group_scale_for(v_setf(s), v_setf(rcp), op, f);
    const size_t es = ck_dtype_size(xt);
    for (; i + 4 * CK_VW <= end; i += 4 * CK_VW) {
        if (next) /* the lines of the next row that this step's input spans, so DRAM stays busy */
            for (size_t b = 0; b < 4 * CK_VW * es; b += 64) __builtin_prefetch(next + i * es + b, 0, 3);
        vu32 v[4];
        for (int k = 0; k < 4; k++) v[k] = v_load_x(x, xt, i + (size_t)k * CK_VW);
        v_store_u8_words(q + i, v_quant_pair(v[0], v[1], g, op, f), v_quant_pair(v[2], v[3], g, op, f));
    }
    for (; i + CK_VW <= end; i += CK_VW) v_store_u8(q + i, v_quant(v_load_x(x, xt, i), g, op, f));
}

/* Every group with `op`, or each with its own when op is PER_GROUP (inlined with a constant op, the choice
 * folds away). */
CK_INLINE void quant_groups_with(const void *x, ck_dtype xt, size_t n, size_t group, const float *s, const float *rcp,
                                 ck_scaling sc, scale_op op, const ck_fp8_spec *f, uint8_t *q, const char *next) {
    for (size_t g = 0, start = 0; start < n; g++, start += group) {
        const size_t end = n - start < group ? n : start + group;
        const scale_op o = op == PER_GROUP ? scale_op_for(isfinite(s[g]), ck_is_power_of_two(s[g]), sc) : op;
#define RUN(O) quant_run(x, xt, start, end, s[g], rcp[g], O, f, q, next)
        CK_WITH_OP(o, RUN);
#undef RUN
        for (size_t i = start + (end - start) / CK_VW * CK_VW; i < end; i++)
            q[i] = ck_quant_element(ck_load_bits(x, xt, i), s[g], sc, f);
    }
}

/* When every group is finite (the usual case), one op serves them all, so the loop over groups does not
 * choose per group (measured: about one cycle per vector at 128-element groups). FINITE_QUOTIENT gives the
 * same codes as FINITE_PRODUCT for a power-of-two s (r = 0, and the sign comes from x), so it serves a mix. */
CK_INLINE void quant_groups_body(const void *x, ck_dtype xt, size_t n, size_t group, const float *s, const float *rcp,
                                 ck_scaling sc, const ck_fp8_spec *f, uint8_t *q, const char *next) {
    bool finite = true, power_of_two = true;
    for (size_t g = 0; g * group < n; g++) {
        finite = finite && isfinite(s[g]);
        power_of_two = power_of_two && ck_is_power_of_two(s[g]);
    }
    if (!finite) quant_groups_with(x, xt, n, group, s, rcp, sc, PER_GROUP, f, q, next);
    else if (sc == CK_SCALING_RECIPROCAL || power_of_two)
        quant_groups_with(x, xt, n, group, s, rcp, sc, FINITE_PRODUCT, f, q, next);
    else quant_groups_with(x, xt, n, group, s, rcp, sc, FINITE_QUOTIENT, f, q, next);
}

static void CK_SIMD(quant_groups)(const void *x, ck_dtype xt, size_t n, size_t group, const float *s,
                                  const float *rcp, ck_scaling sc, ck_fp8_format format, uint8_t *q,
                                  const void *next) {
#define BODY(T, F) quant_groups_body(x, T, n, group, s, rcp, sc, F, q, next)
    CK_SPECIALIZE(xt, format, BODY);
#undef BODY
}

/* q[c*ldq + r0 + r] for the nr <= 16 rows from x's row r0 of one strip of CK_VW columns (x: its first column),
 * converted two rows at a time (v_quant_pair). Rows past nr repeat row r0 and are not stored. */
CK_INLINE void quant_tile_t(const void *x, ck_dtype xt, size_t r0, size_t nr, size_t ldx, group_scale g, scale_op op,
                            const ck_fp8_spec *f, uint8_t *q, size_t ldq) {
    vu32 pairs[8];
    for (size_t i = 0; i < 8; i++) {
        const size_t a = 2 * i < nr ? 2 * i : 0, b = 2 * i + 1 < nr ? 2 * i + 1 : 0;
        pairs[i] = v_quant_pair(v_load_x(x, xt, (r0 + a) * ldx), v_load_x(x, xt, (r0 + b) * ldx), g, op, f);
    }
    v_store_tile_t(q + r0, ldq, pairs, nr);
}

/* One strip in tiles of 16 rows. Whole tiles pass nr as a constant, so that their row offsets fold (computed
 * for a variable nr, clang builds them in vector registers and spills). Each store fills a sixteenth of a line
 * of q, so the lines of the next strip's q (`next`, if any) are prefetched for writing two rows at a time, one
 * pair per tile: otherwise the stores wait on reads for ownership from DRAM. */
CK_INLINE void quant_strip_t(const void *x, ck_dtype xt, size_t rows, size_t ldx, group_scale g, scale_op op,
                             const ck_fp8_spec *f, uint8_t *q, size_t ldq, uint8_t *next) {
    size_t r0 = 0;
    for (size_t k = 0; r0 + 16 <= rows; r0 += 16, k++) {
        if (next && k < CK_VW / 2)
            for (size_t c = 2 * k; c < 2 * k + 2; c++)
                for (size_t b = 0; b < rows; b += 64) __builtin_prefetch(next + c * ldq + b, 1, 3);
        quant_tile_t(x, xt, r0, 16, ldx, g, op, f, q, ldq);
    }
    if (r0 < rows) quant_tile_t(x, xt, r0, rows - r0, ldx, g, op, f, q, ldq);
}

CK_INLINE void quant_cols_t_body(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx, const float *s,
                                 const float *rcp, ck_scaling sc, const ck_fp8_spec *f, uint8_t *q, size_t ldq) {
    size_t c0 = 0;
    for (; c0 + CK_VW <= cols; c0 += CK_VW) {
        bool finite = true;
        for (int c = 0; c < CK_VW; c++) finite = finite && isfinite(s[c0 + c]);
        const scale_op op = scale_op_for(finite, false, sc);
        const group_scale g = group_scale_for(v_as_f32(v_load_u32(s + c0)), v_as_f32(v_load_u32(rcp + c0)), op, f);
        const void *strip = (const char *)x + c0 * ck_dtype_size(xt);
        uint8_t *next = c0 + 2 * CK_VW <= cols ? q + (c0 + CK_VW) * ldq : NULL;
#define STRIP(O) quant_strip_t(strip, xt, rows, ldx, g, O, f, q + c0 * ldq, ldq, next)
        CK_WITH_OP(op, STRIP);
#undef STRIP
    }
    for (; c0 < cols; c0++)
        for (size_t r = 0; r < rows; r++) q[c0 * ldq + r] = ck_quant_element(ck_load_bits(x, xt, r * ldx + c0), s[c0], sc, f);
}

static void CK_SIMD(quant_cols_t)(const void *x, ck_dtype xt, size_t rows, size_t cols, size_t ldx,
                                  const float *s, const float *rcp, ck_scaling sc, ck_fp8_format format, uint8_t *q,
                                  size_t ldq) {
#define BODY(T, F) quant_cols_t_body(x, T, rows, cols, ldx, s, rcp, sc, F, q, ldq)
    CK_SPECIALIZE(xt, format, BODY);
#undef BODY
}

CK_INLINE void dequant_groups_body(const uint8_t *q, size_t n, size_t group, const float *s, void *y, ck_dtype yt,
                                   const ck_fp8_spec *f, bool stream) {
    for (size_t g = 0, start = 0; start < n; g++, start += group) {
        const size_t end = n - start < group ? n : start + group;
        const vf32 scale = v_setf(s[g]);
        size_t i = start;
        if (s[g] != s[g]) { /* NaN scale: NaN codes keep their own NaN, as in ck_dequant_element */
            for (; i + CK_VW <= end; i += CK_VW) {
                const vu32 d = v_fp8_to_bits(v_load_u8(q + i), f);
                v_store_y(y, yt, i, v_select(v_gt(v_and(d, v_set(0x7FFFFFFFu)), v_set(0x7F800000u)), d,
                                             v_as_u32(v_mulf(v_as_f32(d), scale))), stream);
            }
        }
        for (; i + CK_VW <= end; i += CK_VW)
            v_store_y(y, yt, i, v_as_u32(v_mulf(v_as_f32(v_fp8_to_bits(v_load_u8(q + i), f)), scale)), stream);
        for (; i < end; i++) ck_store_bits(y, yt, i, ck_dequant_element(q[i], s[g], f));
    }
}

static void CK_SIMD(dequant_groups)(const uint8_t *q, ck_fp8_format format, size_t n, size_t group,
                                    const float *s, void *y, ck_dtype yt, bool stream) {
#define BODY(T, F) dequant_groups_body(q, n, group, s, y, T, F, stream)
    CK_SPECIALIZE(yt, format, BODY);
#undef BODY
}

CK_INLINE void outputs_body(const float *x, void *y, ck_dtype yt, size_t n, bool stream) {
    const vu32 magnitude = v_set(0x7FFFFFFFu), inf = v_set(0x7F800000u), nan = v_set(CK_OUTPUT_NAN);
    size_t i = 0;
    for (; i + CK_VW <= n; i += CK_VW) {
        const vu32 b = v_load_f32(x + i);
        v_store_y(y, yt, i, v_select(v_gt(v_and(b, magnitude), inf), nan, b), stream);
    }
    for (; i < n; i++) ck_store_bits(y, yt, i, ck_output_bits(x[i]));
}

static void CK_SIMD(outputs)(const float *x, void *y, ck_dtype yt, size_t n, bool stream) {
    if (yt == CK_DTYPE_F32) outputs_body(x, y, CK_DTYPE_F32, n, stream);
    else outputs_body(x, y, CK_DTYPE_BF16, n, stream);
}

const ck_formats_kernels CK_SIMD(ck_formats) = {
    .f32_to_bf16 = CK_SIMD(f32_to_bf16),
    .bf16_to_f32 = CK_SIMD(bf16_to_f32),
    .to_fp8 = CK_SIMD(to_fp8),
    .from_fp8 = CK_SIMD(from_fp8),
    .range_groups = CK_SIMD(range_groups),
    .range_cols = CK_SIMD(range_cols),
    .scales = CK_SIMD(scales),
    .quant_groups = CK_SIMD(quant_groups),
    .quant_cols_t = CK_SIMD(quant_cols_t),
    .dequant_groups = CK_SIMD(dequant_groups),
    .outputs = CK_SIMD(outputs),
};

/*
 * CPU detection and ISA dispatch. The detected level needs the CPU feature bits (cpuid, cross-checked with
 * __builtin_cpu_supports) *and* the OS saving the registers (XCR0 via xgetbv), so no unsupported
 * instruction can run. The cap (MOEKIT_MAX_ISA, ck_set_max_isa) lowers the active level for tests. Also the
 * streaming-store threshold, which defaults to the L3 cache's size, and the per-thread BF16 dot-product switch.
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static const char *const isa_names[CK_ISA_COUNT] = {"scalar",     "avx2",       "avx512",
                                                     "avx512vbmi", "avx512bf16", "avx512bf16vbmi"};
#define ISA_NAMES_TEXT "scalar, avx2, avx512, avx512vbmi, avx512bf16, avx512bf16vbmi" /* isa_names, for messages */

const char *ck_isa_name(ck_isa isa) {
    return (unsigned)isa < CK_ISA_COUNT ? isa_names[isa] : "unknown";
}

/* The level named `name`, or -1. */
static int isa_index(const char *name) {
    for (int i = 0; i < CK_ISA_COUNT; i++)
        if (strcmp(name, isa_names[i]) == 0) return i;
    return -1;
}

ck_status ck_isa_from_name(const char *name, ck_isa *isa) {
    if (name == NULL || isa == NULL) return ck_fail(CK_ERR_NULL_POINTER, name ? "isa" : "name", "NULL argument");
    const int i = isa_index(name);
    if (i < 0) return ck_fail(CK_ERR_INVALID_VALUE, "name", "unknown ISA '%s' (" ISA_NAMES_TEXT ")", name);
    *isa = (ck_isa)i;
    return CK_OK;
}

#if defined(__x86_64__)
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return CK_ISA_SCALAR;
    const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29), avx = c & (1u << 28);
    if (!osxsave || !avx) return CK_ISA_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    const bool os_ymm = (xcr0 & 0x6) == 0x6;    /* SSE + AVX state */
    const bool os_zmm = (xcr0 & 0xE6) == 0xE6;  /* + opmask, ZMM_Hi256, Hi16_ZMM */
    if (__get_cpuid_max(0, NULL) < 7) return CK_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2 = b & (1u << 5), avx512f = b & (1u << 16), avx512dq = b & (1u << 17),
               avx512bw = b & (1u << 30), avx512vl = b & (1u << 31), avx512vbmi = c & (1u << 1);
    __cpuid_count(7, 1, a, b, c, d);
    const bool avx512bf16 = a & (1u << 5);

    __builtin_cpu_init();
    if (!(os_ymm && avx2 && fma && f16c && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return CK_ISA_SCALAR;
    if (!(os_zmm && avx512f && avx512dq && avx512bw && avx512vl && __builtin_cpu_supports("avx512f") &&
          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512vl")))
        return CK_ISA_AVX2;
    const bool vbmi = avx512vbmi && __builtin_cpu_supports("avx512vbmi");
    return avx512bf16 ? (vbmi ? CK_ISA_AVX512BF16VBMI : CK_ISA_AVX512BF16) : vbmi ? CK_ISA_AVX512VBMI : CK_ISA_AVX512;
}

static char cpu_name[49] = "unknown";

static void read_cpu_name(void) {
    if (__get_cpuid_max(0x80000000u, NULL) < 0x80000004u) return;
    unsigned regs[12] = {0};
    char local[49];
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    memcpy(local, regs, 48);
    local[48] = 0;
    const char *start = local;
    while (*start == ' ') start++;
    memcpy(cpu_name, start, strlen(start) + 1);
}

const char *ck_cpu_name(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_cpu_name);
    return cpu_name;
}
#else
static int detect(void) { return CK_ISA_SCALAR; }
const char *ck_cpu_name(void) { return "unknown"; }
#endif

/* -1: not read yet. */
static atomic_int detected = -1;
static atomic_int cap = -1;

/* detect()'s answer, read once. */
static int detection(void) {
    int value = atomic_load_explicit(&detected, memory_order_relaxed);
    if (value < 0) {
        value = detect();
        atomic_store(&detected, value);
    }
    return value;
}

ck_isa ck_detected_isa(void) { return (ck_isa)detection(); }

/* avx512vbmi and avx512bf16 each add one feature to avx512, so the levels are no chain there: a CPU detected as
 * avx512bf16 (Cooper Lake) lacks avx512vbmi, which orders below it. */
bool ck_isa_supported(ck_isa isa) {
    const ck_isa d = ck_detected_isa();
    return (unsigned)isa <= (unsigned)d && !(isa == CK_ISA_AVX512VBMI && d == CK_ISA_AVX512BF16);
}

ck_isa ck_max_isa(void) {
    int value = atomic_load_explicit(&cap, memory_order_relaxed);
    if (value < 0) {
        const char *env = getenv("MOEKIT_MAX_ISA");
        const bool set = env && *env;
        const int named = set ? isa_index(env) : -1;
        int expected = -1;
        const bool first = atomic_compare_exchange_strong(&cap, &expected, named >= 0 ? named : CK_ISA_COUNT - 1);
        if (first && set && named < 0) ck_warn_env("MOEKIT_MAX_ISA", env, "one of " ISA_NAMES_TEXT);
        value = atomic_load(&cap);
    }
    return (ck_isa)value;
}

ck_status ck_set_max_isa(ck_isa isa) {
    if ((unsigned)isa >= CK_ISA_COUNT) return ck_fail(CK_ERR_INVALID_VALUE, "isa", "ISA level %d is out of range", (int)isa);
    atomic_store(&cap, (int)isa);
    return CK_OK;
}

ck_isa ck_active_isa(void) {
    const ck_isa d = ck_detected_isa(), c = ck_max_isa();
    int a = d < c ? d : c;
    while (!ck_isa_supported((ck_isa)a)) a--; /* scalar always is */
    return (ck_isa)a;
}

#define CK_FORMATS_ENTRY(level, formats, gemm, dot, probe) [level] = &formats,
#define CK_GEMM_ENTRY(level, formats, gemm, dot, probe) [level] = &gemm,
#define CK_DOT_ENTRY(level, formats, gemm, dot, probe) [level] = dot,
#define CK_PROBE_ENTRY(level, formats, gemm, dot, probe) [level] = &probe,
static const ck_formats_kernels *const formats_table[CK_ISA_COUNT] = {CK_ISA_VARIANTS(CK_FORMATS_ENTRY)};
static const ck_gemm_kernels *const gemm_table[CK_ISA_COUNT] = {CK_ISA_VARIANTS(CK_GEMM_ENTRY)};
static const ck_dot_kernels *const dot_table[CK_ISA_COUNT] = {CK_ISA_VARIANTS(CK_DOT_ENTRY)};
static const ck_probe_kernels *const probe_table[CK_ISA_COUNT] = {CK_ISA_VARIANTS(CK_PROBE_ENTRY)};

const ck_formats_kernels *ck_formats_dispatch(void) { return formats_table[ck_active_isa()]; }
const ck_gemm_kernels *ck_gemm_dispatch(void) { return gemm_table[ck_active_isa()]; }
const ck_probe_kernels *ck_probe_dispatch(void) { return probe_table[ck_active_isa()]; }

/* SIZE_MAX: not read yet (the setter stores at most SIZE_MAX - 1, which no output's size exceeds). */
static atomic_size_t stream_threshold = SIZE_MAX;

size_t ck_stream_threshold(void) {
    size_t value = atomic_load_explicit(&stream_threshold, memory_order_relaxed);
    if (value == SIZE_MAX) {
        long llc = -1;
#if defined(_SC_LEVEL3_CACHE_SIZE)
        llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
        size_t expected = SIZE_MAX;
        atomic_compare_exchange_strong(&stream_threshold, &expected, llc > 0 ? (size_t)llc : (size_t)32 << 20);
        value = atomic_load(&stream_threshold);
    }
    return value;
}

void ck_set_stream_threshold(size_t bytes) {
    atomic_store(&stream_threshold, bytes < SIZE_MAX ? bytes : SIZE_MAX - 1);
}

/* ck_set_bf16_dot_products: the calling thread's choice. */
static _Thread_local bool bf16_dot_products;

void ck_set_bf16_dot_products(bool on) { bf16_dot_products = on; }
bool ck_bf16_dot_products(void) { return bf16_dot_products; }

const ck_dot_kernels *ck_dot_dispatch(void) { return bf16_dot_products ? dot_table[ck_active_isa()] : NULL; }

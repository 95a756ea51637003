/*
 * MoEKit C runtime: status codes, error details, ISA dispatch and threads.
 *
 * Every public ck_* function validates all its arguments first and returns a ck_status; on any status but
 * CK_OK it has written nothing to its outputs. ck_last_error_argument() / ck_last_error_message() then
 * describe the failure (thread-local, valid until the next failing call on the same thread).
 *
 * Pointers to elements (also those passed as void * with a ck_dtype) must be aligned to their element's size
 * (4 bytes for f32, 2 for bf16), as C requires of any float * or uint16_t *; no further (vector) alignment is
 * needed.
 */
#ifndef CK_RUNTIME_H
#define CK_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ck_status {
    CK_OK = 0,
    CK_ERR_NULL_POINTER = 1,   /* a required pointer is NULL */
    CK_ERR_INVALID_SHAPE = 2,  /* a dimension or group size is not allowed */
    CK_ERR_INVALID_STRIDE = 3, /* a leading dimension is smaller than the row it must hold */
    CK_ERR_INVALID_VALUE = 4,  /* an enum or option is out of range */
    CK_ERR_SIZE_OVERFLOW = 5,  /* the sizes overflow the address space */
    CK_ERR_UNSUPPORTED = 6,    /* the request needs an ISA or feature this machine lacks */
    CK_ERR_OUT_OF_MEMORY = 7,
} ck_status;

/* Name of the argument the last failing call on this thread rejected ("" if none). */
const char *ck_last_error_argument(void);
/* Human-readable reason for the last failure on this thread ("" if none). */
const char *ck_last_error_message(void);
/* Stable name of a status ("CK_ERR_INVALID_SHAPE", ...). */
const char *ck_status_name(ck_status status);

/* ---- ISA dispatch -------------------------------------------------------------------------------------
 * The ISA levels, in the order caps compare them: scalar, avx2 (AVX2+FMA+F16C), avx512 (F/BW/DQ/VL), avx512vbmi
 * (+AVX512_VBMI), avx512bf16 (+AVX512_BF16 without AVX512_VBMI: Cooper Lake's set) and avx512bf16vbmi (+both: Zen 4,
 * Sapphire Rapids and later). A level is supported where the CPU has each feature it names and the OS saves the
 * registers (XCR0); the detected level is the highest supported one. The active level is the highest supported level
 * at or below min(detected, cap): a cap of avx512vbmi on Cooper Lake gives avx512, one of avx512bf16 on Zen 4 runs
 * Cooper Lake's kernels. The cap comes from MOEKIT_MAX_ISA (read once) or ck_set_max_isa. */
typedef enum ck_isa {
    CK_ISA_SCALAR = 0,
    CK_ISA_AVX2 = 1,
    CK_ISA_AVX512 = 2,
    CK_ISA_AVX512VBMI = 3,
    CK_ISA_AVX512BF16 = 4,
    CK_ISA_AVX512BF16VBMI = 5,
} ck_isa;
#define CK_ISA_COUNT 6

ck_isa ck_detected_isa(void);
/* Whether this CPU and OS run level isa's kernels: the levels up to the detected one, but avx512vbmi not where the
 * detected level is avx512bf16. */
bool ck_isa_supported(ck_isa isa);
ck_isa ck_active_isa(void);
/* Caps the active ISA (a cap above the detected level is allowed and means "no cap"). */
ck_status ck_set_max_isa(ck_isa cap);
ck_isa ck_max_isa(void);
/* "scalar", "avx2", "avx512", "avx512vbmi", "avx512bf16", "avx512bf16vbmi". */
const char *ck_isa_name(ck_isa isa);
/* Parses an ISA name as MOEKIT_MAX_ISA does; CK_ERR_INVALID_VALUE for unknown names. */
ck_status ck_isa_from_name(const char *name, ck_isa *isa);
/* The CPU's brand string (cpuid), or "unknown". */
const char *ck_cpu_name(void);

/* ---- Threads ------------------------------------------------------------------------------------------
 * Kernels split work along outputs, so results are bitwise identical for every thread count.
 * The count comes from MOEKIT_NUM_THREADS (read once) or ck_set_num_threads; default: the CPUs this
 * process may run on. A call made from inside a MoEKit task, or while another thread is using the pool,
 * runs on the calling thread. */
int ck_num_threads(void);
/* 1 ... 1024. */
ck_status ck_set_num_threads(int threads);
/* "pthreads" (MoEKit's pool) or "openmp" (package trait OpenMP). */
const char *ck_executor_name(void);

/* ---- Output stores ------------------------------------------------------------------------------------
 * A GEMM call that writes more than the threshold's bytes with beta = 0 along contiguous output rows
 * (m-grouped calls, k-grouped ones into [K, N]; experts of at most 8 rows, or 64 with [N, K] weights and 1 MiB
 * of x, which take the decode kernels, excepted) writes those rows with streaming stores on x86-64, whole 64-byte lines at a
 * time. They bypass the caches: an output that large cannot stay cached anyway, and streaming stores do not read
 * each line from DRAM before writing it. The bytes written are the same either way. A cast to f32 or bf16
 * (ck_cast_f32_to_bf16, ck_cast_bf16_to_f32, ck_cast_from_fp8) or a dequantizer whose input and output together
 * pass the threshold streams its output likewise (the call's own traffic would evict the output's first lines
 * before it returns). Default: the L3 cache's size as the OS reports it (32 MiB if it reports none). */
size_t ck_stream_threshold(void);
/* SIZE_MAX (or SIZE_MAX - 1): never stream; 0: stream every output written with beta = 0. */
void ck_set_stream_threshold(size_t bytes);

/* ---- BF16 dot products (opt-in, per thread) --------------------------------------------------------------
 * Off by default. While on for the calling thread, its m-grouped GEMMs whose x and weights are BF16 or E4M3
 * (BF16 x BF16, weight-only FP8, FP8 x FP8; any layout, masked and contiguous calls included) run every expert on
 * AVX512_BF16's vdpbf16ps when the active ISA is avx512bf16 or avx512bf16vbmi (the same bits), in the order that instruction defines instead of the
 * canonical one (ck_gemm.h, "dot-product order"): bitwise identical for every thread count and batch, but not to
 * the other ISAs. Decode-sized experts run dot decode kernels (up to 12 rows of [K, N] and packed weights, 6 of
 * [N, K] ones, 12 while their x takes at most 1 MiB). At lower levels, and for FP32 operands, the setting changes nothing. The calling thread's setting applies to the whole call, whichever threads
 * run it. */
void ck_set_bf16_dot_products(bool on);
bool ck_bf16_dot_products(void);

#ifdef __cplusplus
}
#endif
#endif

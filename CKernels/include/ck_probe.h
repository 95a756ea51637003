/*
 * Machine probes: the benchmark harness times these to measure this machine's own peaks.
 * Each runs on ck_num_threads() threads at the active ISA and returns the work done; the caller times it.
 */
#ifndef CK_PROBE_H
#define CK_PROBE_H

#include "ck_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `iterations` rounds of independent FP32 FMA chains per thread; returns the flops executed
 * (2 per lane per FMA). */
double ck_probe_fma_f32(uint64_t iterations);
/* BF16 dot-product peak (vdpbf16ps: 2 flops per bf16 pair); returns 0 when the active ISA lacks
 * AVX512_BF16. */
double ck_probe_dot_bf16(uint64_t iterations);
/* STREAM-style copy dst[i] = src[i] over `bytes` (multiple of 64, 64-byte aligned pointers), split across
 * threads; regular stores. */
void ck_probe_copy(void *dst, const void *src, size_t bytes);
/* Reads `bytes` (multiple of 64, 64-byte aligned) across threads; returns a checksum so the loads stay. */
uint64_t ck_probe_read(const void *src, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif

/*
 * Machine probes (ck_probe.h): peak FP32 FMA and BF16 dot throughput through the dispatched ISA kernels,
 * and DRAM copy / read bandwidth with plain vector loads and stores, all on ck_num_threads() threads.
 */
#include "internal.h"

#include <stdatomic.h>

typedef struct {
    double (*kernel)(uint64_t);
    uint64_t iterations;
    _Atomic double flops;
} compute_probe;

static void compute_region(void *arg, int tid, int nthreads) {
    (void)tid;
    (void)nthreads;
    compute_probe *p = arg;
    const double flops = p->kernel(p->iterations);
    double old = atomic_load(&p->flops);
    while (!atomic_compare_exchange_weak(&p->flops, &old, old + flops)) {}
}

static double run_compute(double (*kernel)(uint64_t), uint64_t iterations) {
    if (kernel == NULL) return 0;
    compute_probe p = {kernel, iterations, 0};
    ck_parallel_region(compute_region, &p, ck_num_threads());
    return atomic_load(&p.flops);
}

double ck_probe_fma_f32(uint64_t iterations) { return run_compute(ck_probe_dispatch()->fma_f32, iterations); }
double ck_probe_dot_bf16(uint64_t iterations) { return run_compute(ck_probe_dispatch()->dot_bf16, iterations); }

typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
    atomic_ullong checksum;
} memory_probe;

/* The [begin, end) byte range of participant tid, in 64-byte lines. */
static void split(size_t bytes, int tid, int n, size_t *begin, size_t *end) {
    const size_t lines = bytes / 64;
    *begin = lines * (size_t)tid / (size_t)n * 64;
    *end = lines * (size_t)(tid + 1) / (size_t)n * 64;
}

typedef uint64_t line_t __attribute__((vector_size(64), aligned(64)));

static void copy_region(void *arg, int tid, int n) {
    memory_probe *p = arg;
    size_t begin, end;
    split(p->bytes, tid, n, &begin, &end);
    line_t *dst = (line_t *)((char *)p->dst + begin);
    const line_t *src = (const line_t *)((const char *)p->src + begin);
    for (size_t i = 0; i < (end - begin) / 64; i++) dst[i] = src[i];
}

/* Reads the participant's range as 8 interleaved streams, so one core keeps enough misses in flight. */
static void read_region(void *arg, int tid, int n) {
    enum { STREAMS = 8 };
    memory_probe *p = arg;
    size_t begin, end;
    split(p->bytes, tid, n, &begin, &end);
    const line_t *src = (const line_t *)((const char *)p->src + begin);
    const size_t lines = (end - begin) / 64, per = lines / STREAMS;
    line_t acc[STREAMS] = {{0}};
    for (size_t i = 0; i < per; i++)
        for (int s = 0; s < STREAMS; s++) acc[s] ^= src[(size_t)s * per + i];
    for (size_t i = per * STREAMS; i < lines; i++) acc[0] ^= src[i];
    uint64_t sum = 0;
    for (int s = 0; s < STREAMS; s++)
        for (int k = 0; k < 8; k++) sum ^= acc[s][k];
    atomic_fetch_xor(&p->checksum, sum);
}

void ck_probe_copy(void *dst, const void *src, size_t bytes) {
    memory_probe p = {dst, src, bytes, 0};
    ck_parallel_region(copy_region, &p, ck_num_threads());
}

uint64_t ck_probe_read(const void *src, size_t bytes) {
    memory_probe p = {NULL, src, bytes, 0};
    ck_parallel_region(read_region, &p, ck_num_threads());
    return atomic_load(&p.checksum);
}

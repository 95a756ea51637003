/*
 * The executor. Drivers describe work as a region (every participant runs once) or as a task list
 * (claimed through an atomic counter, a participant's next task possibly early by the task before it, to prefetch
 * for it). Two backends behind one interface:
 *   - default: a persistent pthread pool; the caller is participant 0, workers spin briefly on the
 *     generation counter and then sleep on a condition variable;
 *   - trait OpenMP: the OpenMP runtime of libomp, entered through its GOMP_parallel entry point (the
 *     package cannot pass -fopenmp, and libomp exports the GNU entry points that gcc-compiled code calls).
 * Composition rules: a call from inside a MoEKit task, while another thread holds the pool (or team), or,
 * with the OpenMP backend, from inside any OpenMP parallel region runs inline on the calling thread with one
 * participant, so nothing deadlocks and only one call at a time fans out.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>


static _Thread_local int in_region;

/* ---- thread count ---- */
static atomic_int thread_count; /* 0: not initialised */

/* MOEKIT_NUM_THREADS if it holds a usable count (else *ignored = its value), or the CPUs this process may run on. */
static int default_thread_count(const char **ignored) {
    const char *env = getenv("MOEKIT_NUM_THREADS");
    if (env && *env) {
        char *end;
        long value = strtol(env, &end, 10);
        if (*end == 0 && value >= 1 && value <= CK_MAX_THREADS) return (int)value;
        *ignored = env;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n >= 1) return n > CK_MAX_THREADS ? CK_MAX_THREADS : n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)(n > CK_MAX_THREADS ? CK_MAX_THREADS : n) : 1;
}

int ck_num_threads(void) {
    int n = atomic_load_explicit(&thread_count, memory_order_relaxed);
    if (n == 0) {
        int expected = 0;
        const char *ignored = NULL;
        if (atomic_compare_exchange_strong(&thread_count, &expected, default_thread_count(&ignored)) && ignored)
            ck_warn_env("MOEKIT_NUM_THREADS", ignored, "a whole number from 1 to " CK_STRING(CK_MAX_THREADS));
        n = atomic_load(&thread_count);
    }
    return n;
}

ck_status ck_set_num_threads(int threads) {
    if (threads < 1 || threads > CK_MAX_THREADS)
        return ck_fail(CK_ERR_INVALID_VALUE, "threads", "thread count %d is outside 1...%d", threads, CK_MAX_THREADS);
    atomic_store(&thread_count, threads);
    return CK_OK;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#if defined(CK_WITH_OPENMP)
/* ---- OpenMP backend (libomp's GNU-compatible entry points) ---- */
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
int omp_in_parallel(void);

const char *ck_executor_name(void) { return "openmp"; }

typedef struct {
    ck_region_fn fn;
    void *ctx;
} omp_job;

static void omp_trampoline(void *data) {
    const omp_job *job = data;
    in_region = 1;
    job->fn(job->ctx, omp_get_thread_num(), omp_get_num_threads());
    in_region = 0;
}

/* Set while a region runs its team: a call from another thread meanwhile runs inline, as with the pool. */
static atomic_int team_busy;

void ck_parallel_region(ck_region_fn fn, void *ctx, int max_threads) {
    int n = ck_num_threads();
    if (max_threads < n) n = max_threads;
    if (n <= 1 || in_region || omp_in_parallel() || atomic_exchange(&team_busy, 1)) {
        fn(ctx, 0, 1);
        return;
    }
    omp_job job = {fn, ctx};
    GOMP_parallel(omp_trampoline, &job, (unsigned)n, 0);
    atomic_store(&team_busy, 0);
}

#else
/* ---- pthread pool backend ---- */
const char *ck_executor_name(void) { return "pthreads"; }

/* How long an idle worker polls before it sleeps (pause instructions). */
#define CK_SPIN_ROUNDS 4096

static struct {
    atomic_flag busy;           /* held by the thread that drives the current region */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    /* generation << 16 | participants: one word, so a worker never pairs one region's generation
     * with another region's participant count */
    atomic_ullong job;
    atomic_int remaining;       /* participating workers still running the current region */
    int workers;                /* started so far (participants 1...workers) */
    unsigned long long spawn_job; /* `job` when the newest workers were started: their starting point */
    /* the current region, published before `job` changes; read only by participants */
    ck_region_fn fn;
    void *ctx;
} pool = {.busy = ATOMIC_FLAG_INIT, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static void *worker_main(void *arg) {
    const int tid = (int)(intptr_t)arg;
    in_region = 1; /* anything a task calls runs inline */
    unsigned long long seen = pool.spawn_job; /* written before pthread_create */
    for (;;) {
        unsigned long long now = seen;
        for (int spin = 0; spin < CK_SPIN_ROUNDS && now == seen; spin++) {
            cpu_relax();
            now = atomic_load_explicit(&pool.job, memory_order_acquire);
        }
        if (now == seen) {
            pthread_mutex_lock(&pool.lock);
            while ((now = atomic_load(&pool.job)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = now;
        const int participants = (int)(now & 0xFFFF);
        if (tid < participants) {
            pool.fn(pool.ctx, tid, participants);
            if (atomic_fetch_sub_explicit(&pool.remaining, 1, memory_order_acq_rel) == 1) {
                pthread_mutex_lock(&pool.lock);
                pthread_cond_signal(&pool.done);
                pthread_mutex_unlock(&pool.lock);
            }
        }
    }
    return NULL;
}

/* Starts workers up to n - 1; returns how many participants the pool can offer. */
static int ensure_workers(int n) {
    pool.spawn_job = atomic_load(&pool.job);
    while (pool.workers < n - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&thread, &attr, worker_main, (void *)(intptr_t)(pool.workers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        pool.workers++;
    }
    return pool.workers + 1 < n ? pool.workers + 1 : n;
}

void ck_parallel_region(ck_region_fn fn, void *ctx, int max_threads) {
    int n = ck_num_threads();
    if (max_threads < n) n = max_threads;
    if (n <= 1 || in_region || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        fn(ctx, 0, 1);
        return;
    }
    n = ensure_workers(n);
    pool.fn = fn;
    pool.ctx = ctx;
    atomic_store(&pool.remaining, n - 1);
    pthread_mutex_lock(&pool.lock);
    const unsigned long long generation = (atomic_load(&pool.job) >> 16) + 1;
    atomic_store(&pool.job, generation << 16 | (unsigned long long)n);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    in_region = 1;
    fn(ctx, 0, n);
    in_region = 0;

    for (int spin = 0; spin < CK_SPIN_ROUNDS && atomic_load(&pool.remaining) != 0; spin++) cpu_relax();
    if (atomic_load(&pool.remaining) != 0) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.remaining) != 0) pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}
#endif

/* ---- task lists on top of regions ---- */
typedef struct {
    ck_task_fn task;
    void *ctx;
    size_t ntasks;
    atomic_size_t next;
} task_list;

struct ck_task_next {
    task_list *list;
    size_t task; /* the claimed task, or SIZE_MAX while unclaimed */
};

size_t ck_next_task(ck_task_next *next) {
    if (next->task == SIZE_MAX) {
        const size_t t = atomic_fetch_add_explicit(&next->list->next, 1, memory_order_relaxed);
        next->task = t < next->list->ntasks ? t : next->list->ntasks;
    }
    return next->task;
}

static void run_tasks(void *arg, int tid, int nthreads) {
    (void)nthreads;
    ck_task_next next = {arg, SIZE_MAX};
    for (size_t i; (i = ck_next_task(&next)) < next.list->ntasks;) {
        next.task = SIZE_MAX;
        next.list->task(next.list->ctx, i, tid, &next);
    }
}

void ck_parallel_for(size_t ntasks, ck_task_fn task, void *ctx, int max_threads) {
    if (ntasks == 0) return;
    task_list list = {task, ctx, ntasks, 0};
    if (ntasks == 1) run_tasks(&list, 0, 1);
    else ck_parallel_region(run_tasks, &list, ntasks < (size_t)max_threads ? (int)ntasks : max_threads);
}

size_t ck_task_count(size_t work, size_t grain) {
    if (grain == 0) grain = 1;
    return work <= grain ? 1 : ck_div_up(work, grain);
}

int ck_participants(size_t work, size_t grain) {
    const size_t n = ck_task_count(work, grain);
    return n < CK_MAX_THREADS ? (int)n : CK_MAX_THREADS;
}

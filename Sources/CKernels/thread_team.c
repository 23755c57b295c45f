/*
 * thread_team.c: a small persistent team of threads with a spin barrier.
 *
 * A training step at mini-batch 10 lasts a few hundred microseconds and
 * needs several synchronisation points, so creating threads, or handing
 * work to a general-purpose pool, per step would cost more than the work.
 * Workers spin briefly between tasks (the next step follows at once), then
 * sleep on a condition variable so an idle program burns no CPU.  All the
 * library's parallelism goes through here, and OpenBLAS is kept to one
 * thread (gemm.c) so the two never fight over cores.
 */
#include "ckernels.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#else
#define CK_PAUSE() ((void)0)
#endif

/* Spin this long for the next task, or at a barrier, before sleeping: long
 * enough to cover the gap between two phases of a step, short enough that
 * a thread whose partner lost its core (another program running) gives
 * the core back instead of burning its time slice. */
enum { SPINS_BEFORE_SLEEP = 1 << 14, BARRIER_SPINS = 2048 };

/* Sleep while *word == expected / wake sleepers on word: futexes on Linux,
 * a yield loop elsewhere. */
static void word_wait(atomic_uint *word, unsigned expected) {
#if defined(__linux__)
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    if (atomic_load(word) == expected) sched_yield();
#endif
}

static void word_wake(atomic_uint *word) {
#if defined(__linux__)
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    (void)word;
#endif
}

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint generation;
    atomic_int sleepers;
    atomic_uint pending;
    atomic_int caller_sleeping;
    ck_task_fn fn;
    void *context;
    int parts;
    int size; /* threads including the caller */
    pthread_t workers[CK_TEAM_MAX_THREADS];
    /* sense-reversing barrier */
    atomic_int arrived;
    atomic_uint barrier_phase;
    atomic_int barrier_sleepers;
} team = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .size = 1};

/* A worker must start from the generation current when it was CREATED:
 * reading it once running could skip a job published in between, and the
 * caller would wait for that worker forever. */
static unsigned start_generation[CK_TEAM_MAX_THREADS];

static void *worker_main(void *argument) {
    int index = (int)(intptr_t)argument;
    unsigned seen = start_generation[index];
    ck_flush_denormals_on_this_thread();
    for (;;) {
        unsigned now;
        int spins = 0;
        while ((now = atomic_load(&team.generation)) == seen) {
            if (++spins < SPINS_BEFORE_SLEEP) {
                CK_PAUSE();
                continue;
            }
            pthread_mutex_lock(&team.lock);
            atomic_fetch_add(&team.sleepers, 1);
            while (atomic_load(&team.generation) == seen) pthread_cond_wait(&team.wake, &team.lock);
            atomic_fetch_sub(&team.sleepers, 1);
            pthread_mutex_unlock(&team.lock);
        }
        seen = now;
        if (index < team.parts) team.fn(team.context, index, team.parts);
        if (atomic_fetch_sub(&team.pending, 1) == 1 && atomic_load(&team.caller_sleeping)) word_wake(&team.pending);
    }
    return NULL;
}

int ck_team_size(void) { return team.size; }

int ck_team_ensure(int threads) {
    if (threads > CK_TEAM_MAX_THREADS) threads = CK_TEAM_MAX_THREADS;
    while (team.size < threads) {
        start_generation[team.size] = atomic_load(&team.generation);
        if (pthread_create(&team.workers[team.size], NULL, worker_main, (void *)(intptr_t)team.size) != 0)
            return team.size;
        pthread_detach(team.workers[team.size]);
        team.size++;
    }
    return team.size;
}

void ck_team_run(int parts, ck_task_fn fn, void *context) {
    if (parts > team.size) parts = team.size;
    if (parts <= 1) {
        fn(context, 0, 1);
        return;
    }
    team.fn = fn;
    team.context = context;
    team.parts = parts;
    atomic_store(&team.arrived, 0);
    atomic_store(&team.pending, team.size - 1);
    atomic_fetch_add(&team.generation, 1);
    if (atomic_load(&team.sleepers) > 0) {
        pthread_mutex_lock(&team.lock);
        pthread_cond_broadcast(&team.wake);
        pthread_mutex_unlock(&team.lock);
    }
    fn(context, 0, parts);
    for (int spins = 0; atomic_load(&team.pending) > 0; spins++) {
        if (spins < BARRIER_SPINS) {
            CK_PAUSE();
            continue;
        }
        atomic_store(&team.caller_sleeping, 1);
        unsigned left;
        while ((left = atomic_load(&team.pending)) > 0) word_wait(&team.pending, left);
        atomic_store(&team.caller_sleeping, 0);
    }
}

void ck_team_barrier(int parts) {
    if (parts <= 1) return;
    unsigned phase = atomic_load(&team.barrier_phase);
    if (atomic_fetch_add(&team.arrived, 1) == parts - 1) {
        atomic_store(&team.arrived, 0);
        atomic_fetch_add(&team.barrier_phase, 1);
        if (atomic_load(&team.barrier_sleepers) > 0) word_wake(&team.barrier_phase);
        return;
    }
    for (int spins = 0; spins < BARRIER_SPINS; spins++) {
        if (atomic_load(&team.barrier_phase) != phase) return;
        CK_PAUSE();
    }
    atomic_fetch_add(&team.barrier_sleepers, 1);
    while (atomic_load(&team.barrier_phase) == phase) word_wait(&team.barrier_phase, phase);
    atomic_fetch_sub(&team.barrier_sleepers, 1);
}

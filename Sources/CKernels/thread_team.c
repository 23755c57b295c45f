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

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#else
#define CK_PAUSE() ((void)0)
#endif

enum { SPINS_BEFORE_SLEEP = 1 << 16 };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint generation;
    atomic_int sleepers;
    atomic_int pending;
    ck_task_fn fn;
    void *context;
    int parts;
    int size; /* threads including the caller */
    pthread_t workers[CK_TEAM_MAX_THREADS];
    /* sense-reversing barrier */
    atomic_int arrived;
    atomic_uint barrier_phase;
} team = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 1, {0}, 0, 0};

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
        atomic_fetch_sub(&team.pending, 1);
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
    int spins = 0;
    while (atomic_load(&team.pending) > 0) {
        if (++spins < 4096) CK_PAUSE();
        else sched_yield();
    }
}

void ck_team_barrier(int parts) {
    if (parts <= 1) return;
    unsigned phase = atomic_load(&team.barrier_phase);
    if (atomic_fetch_add(&team.arrived, 1) == parts - 1) {
        atomic_store(&team.arrived, 0);
        atomic_fetch_add(&team.barrier_phase, 1);
    } else {
        /* With more threads than free cores the thread we wait for may be
         * descheduled: after a short spin, give it the core. */
        int spins = 0;
        while (atomic_load(&team.barrier_phase) == phase) {
            if (++spins < 4096) CK_PAUSE();
            else sched_yield();
        }
    }
}

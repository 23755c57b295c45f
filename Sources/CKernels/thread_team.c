/*
 * thread_team.c: persistent teams of threads with a spin barrier, one team
 * per owner (a Network creates its own).
 *
 * A training step at mini-batch 10 lasts a few hundred microseconds and
 * needs several synchronisation points, so creating threads, or handing
 * work to a general-purpose pool, per step would cost more than the work.
 * Workers spin briefly between tasks (the next step follows at once), then
 * sleep on a condition variable so an idle program burns no CPU.  A team
 * shares no state with any other team, so any number of them may run at
 * once from different threads; one team serves one caller at a time.
 * OpenBLAS is kept to one thread (gemm.c) so the two never fight over
 * cores.  Creating a team allocates and starts threads: it is not a kernel.
 */
#include "ckernels.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
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

typedef struct {
    ck_team *team;
    int index; /* the part it runs; the caller is part 0 */
    pthread_t thread;
} ck_worker;

struct ck_team {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* Bumped once per job (and once by destroy); workers wait for a change. */
    atomic_uint generation;
    atomic_int sleepers;
    atomic_uint pending;
    atomic_int caller_sleeping;
    atomic_int stopping;
    ck_task_fn fn;
    void *context;
    int parts;
    int size; /* threads including the caller */
    /* sense-reversing barrier */
    atomic_int arrived;
    atomic_uint barrier_phase;
    atomic_int barrier_sleepers;
    ck_worker *workers; /* size - 1 of them */
};

static void *worker_main(void *argument) {
    ck_worker *self = argument;
    ck_team *team = self->team;
    /* The generation at creation (0), not the one current once running:
     * reading it then could skip a job published in between, and the
     * caller would wait for this worker forever. */
    unsigned seen = 0;
    ck_flush_denormals_on_this_thread();
    for (;;) {
        unsigned now;
        int spins = 0;
        while ((now = atomic_load(&team->generation)) == seen) {
            if (++spins < SPINS_BEFORE_SLEEP) {
                CK_PAUSE();
                continue;
            }
            pthread_mutex_lock(&team->lock);
            atomic_fetch_add(&team->sleepers, 1);
            while (atomic_load(&team->generation) == seen) pthread_cond_wait(&team->wake, &team->lock);
            atomic_fetch_sub(&team->sleepers, 1);
            pthread_mutex_unlock(&team->lock);
        }
        seen = now;
        if (atomic_load(&team->stopping)) return NULL;
        if (self->index < team->parts) team->fn(team->context, self->index, team->parts);
        if (atomic_fetch_sub(&team->pending, 1) == 1 && atomic_load(&team->caller_sleeping)) word_wake(&team->pending);
    }
}

/* Tells the first `started` workers to stop, wakes them wherever they wait
 * (spinning, or asleep on the condition variable) and joins them. */
static void stop_workers(ck_team *team, int started) {
    atomic_store(&team->stopping, 1);
    pthread_mutex_lock(&team->lock);
    atomic_fetch_add(&team->generation, 1);
    pthread_cond_broadcast(&team->wake);
    pthread_mutex_unlock(&team->lock);
    for (int i = 0; i < started; i++) pthread_join(team->workers[i].thread, NULL);
}

static void free_team(ck_team *team) {
    pthread_cond_destroy(&team->wake);
    pthread_mutex_destroy(&team->lock);
    free(team->workers);
    free(team);
}

ck_team *ck_team_create(int threads) {
    if (threads < 1) return NULL;
    ck_team *team = calloc(1, sizeof *team);
    if (team == NULL) return NULL;
    team->workers = calloc((size_t)threads, sizeof *team->workers);  /* one spare keeps calloc(0) out */
    if (team->workers == NULL || pthread_mutex_init(&team->lock, NULL) != 0) {
        free(team->workers);
        free(team);
        return NULL;
    }
    if (pthread_cond_init(&team->wake, NULL) != 0) {
        pthread_mutex_destroy(&team->lock);
        free(team->workers);
        free(team);
        return NULL;
    }
    team->size = threads;
    for (int i = 0; i < threads - 1; i++) {
        team->workers[i] = (ck_worker){.team = team, .index = i + 1};
        if (pthread_create(&team->workers[i].thread, NULL, worker_main, &team->workers[i]) != 0) {
            stop_workers(team, i);
            free_team(team);
            return NULL;
        }
    }
    return team;
}

void ck_team_destroy(ck_team *team) {
    if (team == NULL) return;
    stop_workers(team, team->size - 1);
    free_team(team);
}

int ck_team_size(const ck_team *team) { return team->size; }

void ck_team_run(ck_team *team, int parts, ck_task_fn fn, void *context) {
    if (parts > team->size) parts = team->size;
    if (parts <= 1) {
        fn(context, 0, 1);
        return;
    }
    team->fn = fn;
    team->context = context;
    team->parts = parts;
    atomic_store(&team->arrived, 0);
    atomic_store(&team->pending, team->size - 1);
    atomic_fetch_add(&team->generation, 1);
    if (atomic_load(&team->sleepers) > 0) {
        pthread_mutex_lock(&team->lock);
        pthread_cond_broadcast(&team->wake);
        pthread_mutex_unlock(&team->lock);
    }
    fn(context, 0, parts);
    for (int spins = 0; atomic_load(&team->pending) > 0; spins++) {
        if (spins < BARRIER_SPINS) {
            CK_PAUSE();
            continue;
        }
        atomic_store(&team->caller_sleeping, 1);
        unsigned left;
        while ((left = atomic_load(&team->pending)) > 0) word_wait(&team->pending, left);
        atomic_store(&team->caller_sleeping, 0);
    }
}

void ck_team_barrier(ck_team *team, int parts) {
    if (parts <= 1) return;
    unsigned phase = atomic_load(&team->barrier_phase);
    if (atomic_fetch_add(&team->arrived, 1) == parts - 1) {
        atomic_store(&team->arrived, 0);
        atomic_fetch_add(&team->barrier_phase, 1);
        if (atomic_load(&team->barrier_sleepers) > 0) word_wake(&team->barrier_phase);
        return;
    }
    for (int spins = 0; spins < BARRIER_SPINS; spins++) {
        if (atomic_load(&team->barrier_phase) != phase) return;
        CK_PAUSE();
    }
    atomic_fetch_add(&team->barrier_sleepers, 1);
    while (atomic_load(&team->barrier_phase) == phase) word_wait(&team->barrier_phase, phase);
    atomic_fetch_sub(&team->barrier_sleepers, 1);
}

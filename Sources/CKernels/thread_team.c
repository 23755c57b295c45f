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
 *
 * Two kinds of job.  ck_team_run binds part i to thread i for the whole
 * job, and the parts may meet at ck_team_barrier.  ck_team_run_phases
 * binds nothing: a job is phases in order, each of some parts, and every
 * (phase, part) is a ticket that whichever thread comes first claims,
 * tickets in order; a ticket of phase p waits until every ticket of phase
 * p - 1 is done.  A thread whose core another program has taken therefore
 * claims nothing while it is away, and the others do its share, instead of
 * every phase waiting for it; the caller returns once every ticket is done,
 * without waiting for late workers to notice.  The claim word packs the
 * job's generation (24 bits), its ticket count and the next ticket (20
 * bits each), so a late worker can never claim a ticket of a job that has
 * ended or take the next job's description for its own: it claims only
 * with one compare-and-swap on the word of the job it woke for, and a job
 * cannot end, nor its description change, while one of its tickets is
 * claimed and not done.  Tickets carry no part: the claimer takes its own
 * part (its thread index) if it is free, else another, so parts stay with
 * their threads, and their caches, unless a thread is late.
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

    /* ck_team_run_phases's job (the claim word's ticket count is 0 for a ck_team_run job). */
    ck_phase_fn phase_fn;
    int first_ticket[CK_TEAM_MAX_PHASES + 1]; /* phase p's tickets: first_ticket[p] ..< first_ticket[p + 1] */
    _Atomic unsigned long long claim;          /* generation:24 | tickets:20 | next:20 */
    atomic_int done[CK_TEAM_MAX_PHASES];       /* tickets done, per phase */
    atomic_uchar *taken;                       /* per ticket: whether its part has been taken */
    int ticket_capacity;                       /* CK_TEAM_MAX_PHASES x size */
    /* Late workers: parts of parallel phases run by a thread other than their own, over a window of jobs. */
    atomic_int taken_from_others;
    atomic_int parallel_parts;
    int window_jobs;
    int late_windows;    /* windows in a row with too many parts taken from late threads */
    long solo_jobs_left; /* jobs the caller runs alone before it tries the workers again */
    long solo_period;    /* how long the next time alone lasts */
    atomic_uint phases_done;                   /* phases every ticket of which is done, a prefix */
    atomic_int phase_sleepers;
};

enum { TICKET_BITS = 20 };
#define TICKET_MASK ((1ull << TICKET_BITS) - 1)
#define GENERATION_MASK ((1ull << (64 - 2 * TICKET_BITS)) - 1)

static unsigned long long claim_word(unsigned generation, unsigned tickets, unsigned next) {
    return ((unsigned long long)generation & GENERATION_MASK) << (2 * TICKET_BITS)
        | (unsigned long long)tickets << TICKET_BITS | next;
}

/* Waits until the first `phases` phases are done: spins, then sleeps on the futex. */
static void wait_for_phases(ck_team *team, unsigned phases) {
    for (int spins = 0; spins < BARRIER_SPINS; spins++) {
        if (atomic_load(&team->phases_done) >= phases) return;
        CK_PAUSE();
    }
    atomic_fetch_add(&team->phase_sleepers, 1);
    unsigned now;
    while ((now = atomic_load(&team->phases_done)) < phases) word_wait(&team->phases_done, now);
    atomic_fetch_sub(&team->phase_sleepers, 1);
}

/* Claims and runs tickets of the phased job of `generation` until none is
 * left.  A ticket is the right to run one part of its phase; the claimer
 * runs its own part (its thread index) when that is still free, else the
 * lowest free one, so in the usual case a thread keeps its part's buffers
 * and weight rows in its own cache from step to step, and a part moves
 * only when its thread is late. */
static void run_tickets(ck_team *team, unsigned generation, int self) {
    int phase = 0;
    for (;;) {
        unsigned long long word = atomic_load(&team->claim);
        unsigned tickets = (unsigned)(word >> TICKET_BITS & TICKET_MASK), next = (unsigned)(word & TICKET_MASK);
        if ((word >> (2 * TICKET_BITS)) != (generation & GENERATION_MASK) || next >= tickets) return;
        if (!atomic_compare_exchange_weak(&team->claim, &word, word + 1)) continue;
        /* Ticket `next` is ours, so the job cannot end before we are done: its description holds. */
        while (next >= (unsigned)team->first_ticket[phase + 1]) phase++;
        if (phase > 0) wait_for_phases(team, (unsigned)phase);
        int first = team->first_ticket[phase], parts = team->first_ticket[phase + 1] - first;
        int part = self < parts ? self : 0;
        /* There are as many tickets as parts, so some part is always free. */
        while (atomic_exchange(&team->taken[first + part], 1)) part = (part + 1) % parts;
        if (parts > 1) {
            atomic_fetch_add_explicit(&team->parallel_parts, 1, memory_order_relaxed);
            if (part != self && part < team->size) atomic_fetch_add_explicit(&team->taken_from_others, 1, memory_order_relaxed);
        }
        team->phase_fn(team->context, phase, part);
        if (atomic_fetch_add(&team->done[phase], 1) == parts - 1) {
            atomic_store(&team->phases_done, (unsigned)phase + 1);
            if (atomic_load(&team->phase_sleepers) > 0) word_wake(&team->phases_done);
        }
    }
}

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
        /* The claim word, published before the generation, says what job `seen` is. */
        unsigned long long word = atomic_load(&team->claim);
        if ((word >> (2 * TICKET_BITS)) != (seen & GENERATION_MASK)) continue; /* a phased job, ended: we are late */
        if ((word >> TICKET_BITS & TICKET_MASK) != 0) {
            run_tickets(team, seen, self->index);
            continue;
        }
        /* A ck_team_run job, whose caller waits for every worker below. */
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
    free(team->taken);
    free(team->workers);
    free(team);
}

ck_team *ck_team_create(int threads) {
    if (threads < 1) return NULL;
    ck_team *team = calloc(1, sizeof *team);
    if (team == NULL) return NULL;
    team->workers = calloc((size_t)threads, sizeof *team->workers);  /* one spare keeps calloc(0) out */
    team->ticket_capacity = CK_TEAM_MAX_PHASES * threads;
    team->taken = calloc((size_t)team->ticket_capacity, sizeof *team->taken);
    if (team->workers == NULL || team->taken == NULL || pthread_mutex_init(&team->lock, NULL) != 0) {
        free(team->taken);
        free(team->workers);
        free(team);
        return NULL;
    }
    if (pthread_cond_init(&team->wake, NULL) != 0) {
        pthread_mutex_destroy(&team->lock);
        free(team->taken);
        free(team->workers);
        free(team);
        return NULL;
    }
    team->size = threads;
    team->solo_period = CK_TEAM_SOLO_JOBS_LEAST;
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

static void judge_workers(ck_team *team);

/* Starts the job whose description is in place: the claim word first (with
 * `tickets`, 0 for a ck_team_run job), then the generation workers wait on. */
static void publish(ck_team *team, unsigned tickets) {
    unsigned generation = atomic_load(&team->generation) + 1;
    atomic_store(&team->claim, claim_word(generation, tickets, 0));
    atomic_store(&team->generation, generation);
    if (atomic_load(&team->sleepers) > 0) {
        pthread_mutex_lock(&team->lock);
        pthread_cond_broadcast(&team->wake);
        pthread_mutex_unlock(&team->lock);
    }
}

int ck_team_run_phases(ck_team *team, int phases, const int *parts, ck_phase_fn fn, void *context) {
    if (phases < 0 || phases > CK_TEAM_MAX_PHASES) return -1;
    long tickets = 0;
    for (int p = 0; p < phases; p++) {
        if (parts[p] < 1) return -1;
        tickets += parts[p];
    }
    if (tickets > (long)TICKET_MASK || tickets > team->ticket_capacity) return -1;
    ck_flush_denormals_on_this_thread(); /* a part computes the same on the caller as on a worker */
    tickets = 0;
    for (int p = 0; p < phases; p++) {
        team->first_ticket[p] = (int)tickets;
        tickets += parts[p];
        atomic_store(&team->done[p], 0);
    }
    for (long t = 0; t < tickets; t++) atomic_store_explicit(&team->taken[t], 0, memory_order_relaxed);
    team->first_ticket[phases] = (int)tickets;
    if (team->size == 1 || phases == 0 || team->solo_jobs_left > 0) {
        /* Alone: the same parts in the same order, so the same results. */
        if (team->solo_jobs_left > 0 && --team->solo_jobs_left == 0) {
            /* Back to the team on trial: one late window sends the caller alone again. */
            team->late_windows = 1;
            team->window_jobs = 0;
        }
        for (int p = 0; p < phases; p++)
            for (int part = 0; part < parts[p]; part++) fn(context, p, part);
        return 0;
    }
    team->phase_fn = fn;
    team->context = context;
    atomic_store(&team->phases_done, 0);
    publish(team, (unsigned)tickets);
    run_tickets(team, atomic_load(&team->generation), 0);
    wait_for_phases(team, (unsigned)phases);
    judge_workers(team);
    return 0;
}

/* After a job with the workers: when, in two windows of jobs running, a
 * good share of the parallel parts had to be taken from a thread that was
 * not there (its core was running another program), the caller runs the
 * next jobs alone: then the late workers sleep and give their cores back,
 * and the caller does as well as one thread would instead of waiting for
 * one that keeps losing its core.  Then it tries the workers again, on
 * trial: one late window, not two, sends it back alone.  The
 * time alone doubles each time the machine is still busy when it tries (up
 * to CK_TEAM_SOLO_JOBS_MOST jobs) and shrinks back once a window is clean,
 * so a quiet machine with a passing hiccup loses little, and a busy one
 * pays for a trial rarely. */
static void judge_workers(ck_team *team) {
    if (++team->window_jobs < CK_TEAM_JUDGE_JOBS) return;
    int parallel = atomic_exchange(&team->parallel_parts, 0), late = atomic_exchange(&team->taken_from_others, 0);
    team->window_jobs = 0;
    if (parallel == 0) return;
    if (late * CK_TEAM_LATE_SHARE_DIVISOR <= parallel) {
        team->late_windows = 0;
        if (team->solo_period > CK_TEAM_SOLO_JOBS_LEAST) team->solo_period /= 2;
        return;
    }
    if (++team->late_windows < 2) return;
    team->late_windows = 0;
    team->solo_jobs_left = team->solo_period;
    if (team->solo_period < CK_TEAM_SOLO_JOBS_MOST) team->solo_period *= 2;
}

long ck_team_solo_jobs_left(const ck_team *team) { return team->solo_jobs_left; }

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
    publish(team, 0);
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

/*
 * fma_peak.c: the machine's fused multiply-add peak, measured, for
 * benchmarks to compare against.
 *
 * Not a kernel: it starts threads and computes nothing anyone keeps.  Each
 * thread runs independent chains of vector FMAs (enough of them to cover
 * the FMA units' latency) for a fixed number of rounds, all threads at
 * once, and the rate is the total FLOPs (2 per lane per FMA) over the
 * slowest thread's time.  The widest ISA the CPU has is used (AVX-512,
 * then AVX2 with FMA, else plain scalar code), as SwiftNet's kernels
 * choose theirs, so "of peak" figures mean the same thing on any CPU.
 */
#include "ckernels.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum { CHAINS = 12 };

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    long rounds;
    int lanes;          /* floats per FMA */
    double seconds;
    float sink;
} peak_job;

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static float chains_avx512(long rounds) {
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma")))
static float chains_avx2(long rounds) {
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

static float chains_scalar(long rounds) {
    float acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = (float)i;
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
    float sum = 0;
    for (int i = 0; i < CHAINS; i++) sum += acc[i];
    return sum;
}

static int widest_lanes(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
#endif
    return 1;
}

static float run_chains(int lanes, long rounds) {
#if defined(__x86_64__)
    if (lanes == 16) return chains_avx512(rounds);
    if (lanes == 8) return chains_avx2(rounds);
#endif
    return chains_scalar(rounds);
}

static void *peak_thread(void *argument) {
    peak_job *job = argument;
    double start = now_seconds();
    job->sink = run_chains(job->lanes, job->rounds);
    job->seconds = now_seconds() - start;
    return NULL;
}

double ck_fma_peak_gflops(int threads, double seconds) {
    if (threads < 1 || threads > 1024 || !(seconds > 0)) return 0;
    int lanes = widest_lanes();
    /* Calibrate the rounds on this thread so that a run lasts about `seconds`. */
    long rounds = 1 << 16;
    for (;;) {
        double start = now_seconds();
        volatile float sink = run_chains(lanes, rounds);
        (void)sink;
        double elapsed = now_seconds() - start;
        if (elapsed > seconds / 4 || rounds > (1L << 40)) {
            rounds = (long)((double)rounds * seconds / (elapsed > 0 ? elapsed : 1e-9));
            break;
        }
        rounds *= 4;
    }
    if (rounds < 1) rounds = 1;
    peak_job jobs[1024];
    pthread_t ids[1024];
    int started = 0;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (peak_job){.rounds = rounds, .lanes = lanes};
        if (t > 0) {
            if (pthread_create(&ids[t], NULL, peak_thread, &jobs[t]) != 0) break;
        }
        started = t + 1;
    }
    peak_thread(&jobs[0]);
    double slowest = jobs[0].seconds;
    for (int t = 1; t < started; t++) {
        pthread_join(ids[t], NULL);
        if (jobs[t].seconds > slowest) slowest = jobs[t].seconds;
    }
    double flops = 2.0 * lanes * CHAINS * (double)rounds * started;
    return slowest > 0 ? flops / slowest / 1e9 : 0;
}

/*
 * random_and_utilities.c: the seeded generator, dropout, and small helpers.
 *
 * Every random choice in SwiftNet comes from xoshiro256** seeded through
 * splitmix64, so one seed repeats a run exactly.  A dropout call draws one
 * 64-bit key from it and hashes (key, index) for each mask element, so the
 * mask loop vectorises and is identical on every ISA.
 */
#include "ckernels.h"
#include "variants.h"

#include <math.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ck_rng_seed(ck_rng *rng, uint64_t seed) {
    uint64_t state = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&state);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ck_rng_next(ck_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float ck_rng_uniform(ck_rng *rng) { return (float)(ck_rng_next(rng) >> 40) * 0x1.0p-24f; }

void ck_dropout_forward(float *out, float *mask, const float *inp, ck_rng *rng,
                        float p_drop, int n) {
    ck_dropout_forward_keyed(out, mask, inp, ck_rng_next(rng), 0, p_drop, n);
}

void ck_dropout_forward_keyed(float *out, float *mask, const float *inp,
                              uint64_t key, size_t first, float p_drop, int n) {
    if (!(p_drop > 0.0f)) { /* 0, negative or NaN: keep everything */
        for (int i = 0; i < n; i++) mask[i] = 1.0f;
        if (out != inp) memcpy(out, inp, (size_t)n * sizeof(float));
        return;
    }
    if (p_drop >= 1.0f) {
        for (int i = 0; i < n; i++) mask[i] = out[i] = 0.0f;
        return;
    }
    /* keep when a 32-bit hash is at or above p * 2^32 (< 2^32 here) */
    uint32_t threshold = (uint32_t)((double)p_drop * 4294967296.0);
    ck_active_variant()->dropout_mask(mask, key, (uint32_t)first, threshold, n);
    for (int i = 0; i < n; i++) out[i] = inp[i] * mask[i];
}

void ck_dropout_backward(float *dinp, const float *dout, const float *mask,
                         int n) {
    for (int i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}

double ck_sum_squares(const float *x, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    return sum;
}

int ck_all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

void ck_u8_to_float(float *restrict out, const uint8_t *restrict in, float scale,
                    size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (float)in[i] * scale;
}

void ck_u8_to_float_shifted(float *restrict out, const uint8_t *restrict in,
                            float scale, int C, int H, int W, int dy, int dx) {
    for (int c = 0; c < C; c++) {
        for (int y = 0; y < H; y++) {
            float *row = out + ((size_t)c * H + y) * W;
            int source_y = y - dy;
            if (source_y < 0 || source_y >= H) {
                for (int x = 0; x < W; x++) row[x] = 0.0f;
                continue;
            }
            const uint8_t *source = in + ((size_t)c * H + source_y) * W;
            for (int x = 0; x < W; x++) {
                int source_x = x - dx;
                row[x] = source_x >= 0 && source_x < W ? (float)source[source_x] * scale : 0.0f;
            }
        }
    }
}

void ck_flush_denormals_on_this_thread(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}

void ck_sum_partials(float *out, const float *partials, int parts,
                     size_t stride, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float sum = partials[i];
        for (int p = 1; p < parts; p++) sum += partials[(size_t)p * stride + i];
        out[i] = sum;
    }
}

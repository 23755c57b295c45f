/*
 * batchnorm_kernels.h: the hot batch-normalization kernels, written once and
 * compiled per ISA, like vector_kernels.h.
 *
 * variant_scalar.c, variant_avx2.c and variant_avx512.c include this file
 * just before vector_kernels.h, inside their target attribute and after
 * defining CK_VEC (floats per hardware vector), so that the variant table
 * at the end of vector_kernels.h can point at these functions.  It keeps its
 * own vector type and helpers (bn_ prefix) so that it depends on nothing in
 * vector_kernels.h.
 *
 * A channel's values lie in B planes of S floats, one per sample.  When S > 1
 * (after a conv layer) the kernels run along each plane, with a masked last
 * vector for the remainder; when S == 1 (after a dense layer) a plane is one
 * float, and they run across channels instead, where a sample's values are
 * contiguous, with a scalar loop for the last C % CK_VEC channels.  Sums go
 * into double vectors, two per float vector (which also makes two
 * independent chains of additions): x, x*x and dout*xhat of floats are exact
 * in double, so a channel's sums depend on how its values were ordered or
 * split among threads only through double rounding.
 */
#include "variants.h"

#include <string.h>

/* A float vector, and a double vector of the same register width: each
 * float vector widens into two, a low and a high half (kept as bn_vd[2]). */
typedef float bn_vf __attribute__((vector_size(CK_VEC * sizeof(float))));
typedef float bn_vf_half __attribute__((vector_size(CK_VEC / 2 * sizeof(float))));
typedef double bn_vd __attribute__((vector_size(CK_VEC / 2 * sizeof(double))));

static inline bn_vf bn_load(const float *p) {
    bn_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void bn_store(float *p, bn_vf v) { memcpy(p, &v, sizeof v); }

static inline bn_vd bn_load_doubles(const double *p) {
    bn_vd v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void bn_store_doubles(double *p, bn_vd v) { memcpy(p, &v, sizeof v); }

static inline void bn_widen(bn_vd wide[2], bn_vf v) {
    bn_vf_half low, high;
    memcpy(&low, &v, sizeof low);
    memcpy(&high, (const char *)&v + sizeof low, sizeof high);
    wide[0] = __builtin_convertvector(low, bn_vd);
    wide[1] = __builtin_convertvector(high, bn_vd);
}

/* s += x, q += x*x, lane by lane in double (x*x of a float is exact). */
static inline void bn_add_sums(bn_vd s[2], bn_vd q[2], bn_vf x) {
    bn_vd w[2];
    bn_widen(w, x);
    for (int half = 0; half < 2; half++) {
        s[half] += w[half];
        q[half] += w[half] * w[half];
    }
}

/* dg += d*h, db += d, lane by lane in double (d*h of floats is exact). */
static inline void bn_add_products(bn_vd dg[2], bn_vd db[2], bn_vf d, bn_vf h) {
    bn_vd wd[2], wh[2];
    bn_widen(wd, d);
    bn_widen(wh, h);
    for (int half = 0; half < 2; half++) {
        dg[half] += wd[half] * wh[half];
        db[half] += wd[half];
    }
}

/* p[0:CK_VEC] += v, p a double array. */
static inline void bn_add_to_doubles(double *p, const bn_vd v[2]) {
    bn_store_doubles(p, bn_load_doubles(p) + v[0]);
    bn_store_doubles(p + CK_VEC / 2, bn_load_doubles(p + CK_VEC / 2) + v[1]);
}

static inline double bn_lane_sum(const bn_vd v[2]) {
    bn_vd both = v[0] + v[1];
    double sum = 0.0;
    for (int lane = 0; lane < CK_VEC / 2; lane++) sum += both[lane];
    return sum;
}

/* p[0:n] and zeros, 0 < n < CK_VEC, reading nothing past p[n-1]. */
static inline bn_vf bn_load_first(const float *p, int n) {
#if CK_VEC == 16
    return (bn_vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#elif CK_VEC == 8
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return (bn_vf)_mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes));
#else
    float lanes[CK_VEC] = {0};
    memcpy(lanes, p, (size_t)n * sizeof(float));
    return bn_load(lanes);
#endif
}

/* p[0:n] = v[0:n], 0 < n < CK_VEC, writing nothing past p[n-1]. */
static inline void bn_store_first(float *p, bn_vf v, int n) {
#if CK_VEC == 16
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#elif CK_VEC == 8
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes), (__m256)v);
#else
    memcpy(p, &v, (size_t)n * sizeof(float));
#endif
}

/* inp is (B,C,S): sum[c] += sum of x, sumsq[c] += sum of x*x, in double. */
static void batchnorm_stats_partial(double *restrict sum, double *restrict sumsq,
                                    const float *restrict inp, int B, int C, int S) {
    if (S == 1) {
        int c = 0;
        for (; c + CK_VEC <= C; c += CK_VEC) {
            bn_vd s[2] = {{0}, {0}}, q[2] = {{0}, {0}};
            for (int b = 0; b < B; b++) bn_add_sums(s, q, bn_load(inp + (size_t)b * C + c));
            bn_add_to_doubles(sum + c, s);
            bn_add_to_doubles(sumsq + c, q);
        }
        for (; c < C; c++) {
            double s = 0.0, q = 0.0;
            for (int b = 0; b < B; b++) {
                double x = inp[(size_t)b * C + c];
                s += x;
                q += x * x;
            }
            sum[c] += s;
            sumsq[c] += q;
        }
        return;
    }
    for (int c = 0; c < C; c++) {
        bn_vd s[2] = {{0}, {0}}, q[2] = {{0}, {0}};
        for (int b = 0; b < B; b++) {
            const float *plane = inp + ((size_t)b * C + c) * S;
            int i = 0;
            for (; i + CK_VEC <= S; i += CK_VEC) bn_add_sums(s, q, bn_load(plane + i));
            if (i < S) bn_add_sums(s, q, bn_load_first(plane + i, S - i));  /* zero lanes add nothing */
        }
        sum[c] += bn_lane_sum(s);
        sumsq[c] += bn_lane_sum(q);
    }
}

/* out, xhat, inp are (B,C,S): xhat = (x - mean[c]) * invstd[c], out =
 * gamma[c] * xhat.  xhat may be NULL; out may be inp (each vector is read
 * before it is written). */
static void batchnorm_forward(float *out, float *xhat, const float *inp,
                              const float *restrict mean, const float *restrict invstd,
                              const float *restrict gamma, int B, int C, int S) {
    if (S == 1) {
        int c = 0;
        for (; c + CK_VEC <= C; c += CK_VEC) {
            bn_vf m = bn_load(mean + c), r = bn_load(invstd + c), g = bn_load(gamma + c);
            for (int b = 0; b < B; b++) {
                size_t at = (size_t)b * C + c;
                bn_vf xh = (bn_load(inp + at) - m) * r;
                if (xhat) bn_store(xhat + at, xh);
                bn_store(out + at, g * xh);
            }
        }
        for (; c < C; c++)
            for (int b = 0; b < B; b++) {
                size_t at = (size_t)b * C + c;
                float xh = (inp[at] - mean[c]) * invstd[c];
                if (xhat) xhat[at] = xh;
                out[at] = gamma[c] * xh;
            }
        return;
    }
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            size_t start = ((size_t)b * C + c) * S;
            const float *x = inp + start;
            float *o = out + start, *h = xhat ? xhat + start : NULL;
            float m = mean[c], r = invstd[c], g = gamma[c];
            int i = 0;
            for (; i + CK_VEC <= S; i += CK_VEC) {
                bn_vf xh = (bn_load(x + i) - m) * r;
                if (h) bn_store(h + i, xh);
                bn_store(o + i, g * xh);
            }
            if (i < S) {
                bn_vf xh = (bn_load_first(x + i, S - i) - m) * r;
                if (h) bn_store_first(h + i, xh, S - i);
                bn_store_first(o + i, g * xh, S - i);
            }
        }
}

/* dout, xhat are (B,C,S): dgamma[c] += sum dout*xhat, dbeta[c] += sum dout,
 * in double. */
static void batchnorm_backward_partial(double *restrict dgamma, double *restrict dbeta,
                                       const float *restrict dout, const float *restrict xhat,
                                       int B, int C, int S) {
    if (S == 1) {
        int c = 0;
        for (; c + CK_VEC <= C; c += CK_VEC) {
            bn_vd dg[2] = {{0}, {0}}, db[2] = {{0}, {0}};
            for (int b = 0; b < B; b++) {
                size_t at = (size_t)b * C + c;
                bn_add_products(dg, db, bn_load(dout + at), bn_load(xhat + at));
            }
            bn_add_to_doubles(dgamma + c, dg);
            bn_add_to_doubles(dbeta + c, db);
        }
        for (; c < C; c++) {
            double dg = 0.0, db = 0.0;
            for (int b = 0; b < B; b++) {
                size_t at = (size_t)b * C + c;
                dg += (double)dout[at] * xhat[at];
                db += dout[at];
            }
            dgamma[c] += dg;
            dbeta[c] += db;
        }
        return;
    }
    for (int c = 0; c < C; c++) {
        bn_vd dg[2] = {{0}, {0}}, db[2] = {{0}, {0}};
        for (int b = 0; b < B; b++) {
            size_t start = ((size_t)b * C + c) * S;
            const float *d = dout + start, *h = xhat + start;
            int i = 0;
            for (; i + CK_VEC <= S; i += CK_VEC) bn_add_products(dg, db, bn_load(d + i), bn_load(h + i));
            if (i < S) bn_add_products(dg, db, bn_load_first(d + i, S - i), bn_load_first(h + i, S - i));
        }
        dgamma[c] += bn_lane_sum(dg);
        dbeta[c] += bn_lane_sum(db);
    }
}

/* dinp, dout, xhat are (B,C,S): dinp += gamma*invstd/N * (N*dout - dbeta -
 * xhat*dgamma), computed as scale * (dout - dbeta/N - xhat * dgamma/N) with
 * the per-channel factors formed in double once. */
static void batchnorm_backward(float *restrict dinp, const float *restrict dout,
                               const float *restrict xhat, const double *restrict dgamma,
                               const double *restrict dbeta, const float *restrict gamma,
                               const float *restrict invstd, long long N, int B, int C, int S) {
    double per_value = 1.0 / (double)N;
    if (S == 1) {
        int c = 0;
        for (; c + CK_VEC <= C; c += CK_VEC) {
            float scale[CK_VEC], shift[CK_VEC], slope[CK_VEC];
            for (int lane = 0; lane < CK_VEC; lane++) {
                scale[lane] = gamma[c + lane] * invstd[c + lane];
                shift[lane] = (float)(dbeta[c + lane] * per_value);
                slope[lane] = (float)(dgamma[c + lane] * per_value);
            }
            bn_vf k = bn_load(scale), mb = bn_load(shift), mg = bn_load(slope);
            for (int b = 0; b < B; b++) {
                size_t at = (size_t)b * C + c;
                bn_vf g = k * (bn_load(dout + at) - mb - bn_load(xhat + at) * mg);
                bn_store(dinp + at, bn_load(dinp + at) + g);
            }
        }
        for (; c < C; c++) {
            float k = gamma[c] * invstd[c];
            float mb = (float)(dbeta[c] * per_value), mg = (float)(dgamma[c] * per_value);
            for (int b = 0; b < B; b++) {
                size_t at = (size_t)b * C + c;
                dinp[at] += k * (dout[at] - mb - xhat[at] * mg);
            }
        }
        return;
    }
    for (int c = 0; c < C; c++) {
        float k = gamma[c] * invstd[c];
        float mb = (float)(dbeta[c] * per_value), mg = (float)(dgamma[c] * per_value);
        for (int b = 0; b < B; b++) {
            size_t start = ((size_t)b * C + c) * S;
            const float *d = dout + start, *h = xhat + start;
            float *di = dinp + start;
            int i = 0;
            for (; i + CK_VEC <= S; i += CK_VEC)
                bn_store(di + i, bn_load(di + i) + k * (bn_load(d + i) - mb - bn_load(h + i) * mg));
            if (i < S) {
                int n = S - i;
                bn_vf g = k * (bn_load_first(d + i, n) - mb - bn_load_first(h + i, n) * mg);
                bn_store_first(di + i, bn_load_first(di + i, n) + g, n);
            }
        }
    }
}

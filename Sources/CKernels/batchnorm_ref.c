/*
 * batchnorm_ref.c: the plain scalar oracles of the batch-normalization
 * kernels, ck_batchnorm_*_ref.
 *
 * Straight loops over (b, c, s) in the order the definitions read, every
 * product and sum in double and rounded to float once, so that they share no
 * code and no loop structure with the vector kernels they check (which run
 * across channels when S == 1, and in float where no sum is involved).
 */
#include "ckernels.h"

void ck_batchnorm_stats_partial_ref(double *sum, double *sumsq,
                                    const float *inp, int B, int C, int S) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) {
                double x = inp[((size_t)b * C + c) * S + s];
                sum[c] += x;
                sumsq[c] += x * x;
            }
}

void ck_batchnorm_forward_ref(float *out, float *xhat, const float *inp,
                              const float *mean, const float *invstd,
                              const float *gamma, int B, int C, int S) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)b * C + c) * S + s;
                double xh = ((double)inp[i] - mean[c]) * invstd[c];
                if (xhat) xhat[i] = (float)xh;
                out[i] = (float)(gamma[c] * xh);
            }
}

void ck_batchnorm_backward_partial_ref(double *dgamma, double *dbeta,
                                       const float *dout, const float *xhat,
                                       int B, int C, int S) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)b * C + c) * S + s;
                dgamma[c] += (double)dout[i] * xhat[i];
                dbeta[c] += dout[i];
            }
}

void ck_batchnorm_backward_ref(float *dinp, const float *dout,
                               const float *xhat, const double *dgamma,
                               const double *dbeta, const float *gamma,
                               const float *invstd, long long N, int B, int C,
                               int S) {
    if (dinp == NULL) return;
    double n = (double)N;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)b * C + c) * S + s;
                double g = (double)gamma[c] * invstd[c] / n *
                           (n * dout[i] - dbeta[c] - (double)xhat[i] * dgamma[c]);
                dinp[i] += (float)g;
            }
}

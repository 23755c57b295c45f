/*
 * batchnorm.c: the public batch-normalization kernels.
 *
 * The four that touch every value (partial statistics, forward, partial
 * parameter gradients, backward) dispatch to the variant in use
 * (batchnorm_kernels.h); the per-channel arithmetic between the phases is
 * plain scalar C here, C values per call.  Means and variances are formed in
 * double from the double sums and rounded to float once.
 */
#include "ckernels.h"
#include "variants.h"

#include <math.h>

void ck_batchnorm_stats_partial(double *sum, double *sumsq, const float *inp,
                                int B, int C, int S) {
    ck_active_variant()->batchnorm_stats_partial(sum, sumsq, inp, B, C, S);
}

void ck_batchnorm_stats_finish(float *mean, float *var, float *invstd,
                               const double *sum, const double *sumsq,
                               long long N, float eps, int C) {
    for (int c = 0; c < C; c++) {
        double m = sum[c] / (double)N;
        /* E[x^2] - mean^2 can round below zero when the variance is tiny */
        double v = sumsq[c] / (double)N - m * m;
        if (v < 0.0) v = 0.0;
        mean[c] = (float)m;
        var[c] = (float)v;
        invstd[c] = (float)(1.0 / sqrt(v + (double)eps));
    }
}

void ck_batchnorm_running_update(float *running_mean, float *running_var,
                                 const float *mean, const float *var,
                                 float momentum, long long N, int C) {
    double unbias = N > 1 ? (double)N / (double)(N - 1) : 1.0;
    double keep = 1.0 - (double)momentum;
    for (int c = 0; c < C; c++) {
        running_mean[c] = (float)(keep * running_mean[c] + (double)momentum * mean[c]);
        running_var[c] = (float)(keep * running_var[c] + (double)momentum * var[c] * unbias);
    }
}

void ck_batchnorm_invstd(float *invstd, const float *var, float eps, int C) {
    for (int c = 0; c < C; c++) invstd[c] = (float)(1.0 / sqrt((double)var[c] + (double)eps));
}

void ck_batchnorm_combine(double *totals, const double *partials, int parts, int n) {
    for (int i = 0; i < n; i++) totals[i] = partials[i];
    for (int p = 1; p < parts; p++)
        for (int i = 0; i < n; i++) totals[i] += partials[(size_t)p * n + i];
}

void ck_batchnorm_add_gradients(float *grads, const double *totals, int n) {
    for (int i = 0; i < n; i++) grads[i] += (float)totals[i];
}

void ck_batchnorm_forward(float *out, float *xhat, const float *inp,
                          const float *mean, const float *invstd,
                          const float *gamma, int B, int C, int S) {
    ck_active_variant()->batchnorm_forward(out, xhat, inp, mean, invstd, gamma, B, C, S);
}

void ck_batchnorm_backward_partial(double *dgamma, double *dbeta,
                                   const float *dout, const float *xhat,
                                   int B, int C, int S) {
    ck_active_variant()->batchnorm_backward_partial(dgamma, dbeta, dout, xhat, B, C, S);
}

void ck_batchnorm_backward(float *dinp, const float *dout, const float *xhat,
                           const double *dgamma, const double *dbeta,
                           const float *gamma, const float *invstd,
                           long long N, int B, int C, int S) {
    if (dinp == NULL) return;
    ck_active_variant()->batchnorm_backward(dinp, dout, xhat, dgamma, dbeta, gamma, invstd, N, B, C, S);
}

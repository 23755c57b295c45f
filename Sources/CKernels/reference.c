/*
 * reference.c: the plain scalar oracles, ck_*_ref.
 *
 * These are written for obviousness, not speed: straight loops that follow
 * the mathematical definition, accumulating in double where a sum is long.
 * Tests check every fast kernel against them, and check these against finite
 * differences, so a bug has to fool two independent implementations.
 */
#include "ckernels.h"
#include "activation_math.h"

#include <math.h>

void ck_sgemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta,
                  float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double sum = 0.0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += (double)av * bv;
            }
            float old = (beta == 0.0f) ? 0.0f : beta * c[(size_t)i * ldc + j];
            c[(size_t)i * ldc + j] = (float)(alpha * sum) + old;
        }
    }
}

/* Where output (y, x) of filter tap (ky, kx) reads the input, and whether
 * that lies inside it (else it reads the zero padding). */
static int conv_tap(int *iy, int *ix, int y, int x, int ky, int kx, int H, int W, int pad, int stride) {
    *iy = y * stride - pad + ky;
    *ix = x * stride - pad + kx;
    return *iy >= 0 && *iy < H && *ix >= 0 && *ix < W;
}

static int windows(int size, int kernel, int stride) { return size < kernel ? 0 : (size - kernel) / stride + 1; }

void ck_conv2d_forward_ex_ref(float *out, const float *inp, const float *weight,
                              const float *bias, int B, int C, int H, int W,
                              int OC, int KH, int KW, int pad, int stride) {
    int OH = windows(H + 2 * pad, KH, stride), OW = windows(W + 2 * pad, KW, stride);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++) {
                    double sum = bias ? bias[o] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++) {
                                int iy, ix;
                                if (!conv_tap(&iy, &ix, y, x, ky, kx, H, W, pad, stride)) continue;
                                sum += (double)inp[(((size_t)b * C + c) * H + iy) * W + ix] *
                                       weight[(((size_t)o * C + c) * KH + ky) * KW + kx];
                            }
                    out[(((size_t)b * OC + o) * OH + y) * OW + x] = (float)sum;
                }
}

void ck_conv2d_forward_ref(float *out, const float *inp, const float *weight,
                           const float *bias, int B, int C, int H, int W,
                           int OC, int KH, int KW) {
    ck_conv2d_forward_ex_ref(out, inp, weight, bias, B, C, H, W, OC, KH, KW, 0, 1);
}

void ck_conv2d_backward_ex_ref(float *dinp, float *dweight, float *dbias,
                               const float *dout, const float *inp,
                               const float *weight, int B, int C, int H, int W,
                               int OC, int KH, int KW, int pad, int stride) {
    int OH = windows(H + 2 * pad, KH, stride), OW = windows(W + 2 * pad, KW, stride);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++) {
                    float g = dout[(((size_t)b * OC + o) * OH + y) * OW + x];
                    if (dbias) dbias[o] += g;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++) {
                                int iy, ix;
                                if (!conv_tap(&iy, &ix, y, x, ky, kx, H, W, pad, stride)) continue;
                                size_t ii = (((size_t)b * C + c) * H + iy) * W + ix;
                                size_t wi = (((size_t)o * C + c) * KH + ky) * KW + kx;
                                dweight[wi] += g * inp[ii];
                                if (dinp) dinp[ii] += g * weight[wi];
                            }
                }
}

void ck_conv2d_backward_ref(float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp,
                            const float *weight, int B, int C, int H, int W,
                            int OC, int KH, int KW) {
    ck_conv2d_backward_ex_ref(dinp, dweight, dbias, dout, inp, weight, B, C, H, W, OC, KH, KW, 0, 1);
}

void ck_maxpool2d_forward_ex_ref(float *out, const float *inp, int B, int C,
                                 int H, int W, int PH, int PW, int SH, int SW) {
    int OH = windows(H, PH, SH), OW = windows(W, PW, SW);
    for (int bc = 0; bc < B * C; bc++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                float best = -INFINITY;
                for (int dy = 0; dy < PH; dy++)
                    for (int dx = 0; dx < PW; dx++) {
                        float v = inp[((size_t)bc * H + y * SH + dy) * W + x * SW + dx];
                        if (v > best) best = v;
                    }
                out[((size_t)bc * OH + y) * OW + x] = best;
            }
}

void ck_maxpool2d_forward_ref(float *out, const float *inp, int B, int C,
                              int H, int W, int PH, int PW) {
    ck_maxpool2d_forward_ex_ref(out, inp, B, C, H, W, PH, PW, PH, PW);
}

void ck_maxpool2d_backward_ex_ref(float *dinp, const float *dout,
                                  const float *inp, int B, int C, int H, int W,
                                  int PH, int PW, int SH, int SW) {
    int OH = windows(H, PH, SH), OW = windows(W, PW, SW);
    for (int bc = 0; bc < B * C; bc++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                size_t best_index = 0;
                float best = -INFINITY;
                int found = 0;
                for (int dy = 0; dy < PH; dy++)
                    for (int dx = 0; dx < PW; dx++) {
                        size_t i = ((size_t)bc * H + y * SH + dy) * W + x * SW + dx;
                        if (!found || inp[i] > best) {
                            best = inp[i];
                            best_index = i;
                            found = 1;
                        }
                    }
                dinp[best_index] += dout[((size_t)bc * OH + y) * OW + x];
            }
}

void ck_maxpool2d_backward_ref(float *dinp, const float *dout,
                               const float *inp, int B, int C, int H, int W,
                               int PH, int PW) {
    ck_maxpool2d_backward_ex_ref(dinp, dout, inp, B, C, H, W, PH, PW, PH, PW);
}

void ck_bias_activation_forward_ref(float *out, const float *inp,
                                    const float *bias, int B, int C, int S,
                                    ck_activation act) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)b * C + c) * S + s;
                out[i] = ck_activate(inp[i] + (bias ? bias[c] : 0.0f), act);
            }
}

void ck_bias_activation_backward_ref(float *dinp, float *dbias,
                                     const float *dout, const float *out,
                                     int B, int C, int S, ck_activation act) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)b * C + c) * S + s;
                float g = dout[i] * ck_activation_slope(out[i], act);
                if (dinp) dinp[i] += g;
                if (dbias) dbias[c] += g;
            }
}

void ck_linear_forward_ref(float *out, const float *inp, const float *weight,
                           float scale, int B, int IN, int OUT) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OUT; o++) {
            double sum = 0.0;
            for (int i = 0; i < IN; i++)
                sum += (double)inp[(size_t)b * IN + i] * weight[(size_t)i * OUT + o];
            out[(size_t)b * OUT + o] = (float)(scale * sum);
        }
}

void ck_linear_backward_ref(float *dinp, float *dweight, const float *dout,
                            const float *inp, const float *weight, int B,
                            int IN, int OUT) {
    for (int b = 0; b < B; b++)
        for (int i = 0; i < IN; i++)
            for (int o = 0; o < OUT; o++) {
                float g = dout[(size_t)b * OUT + o];
                dweight[(size_t)i * OUT + o] += inp[(size_t)b * IN + i] * g;
                if (dinp) dinp[(size_t)b * IN + i] += weight[(size_t)i * OUT + o] * g;
            }
}

float ck_softmax_loglik_forward_ref(float *probs, const float *logits,
                                    const int32_t *labels, int B, int K) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * K;
        double peak = row[0];
        for (int k = 1; k < K; k++) if (row[k] > peak) peak = row[k];
        double denom = 0.0;
        for (int k = 0; k < K; k++) denom += exp(row[k] - peak);
        for (int k = 0; k < K; k++) probs[(size_t)b * K + k] = (float)(exp(row[k] - peak) / denom);
        if (labels) total += -(row[labels[b]] - peak - log(denom));
    }
    return (float)(total / B);
}

void ck_softmax_loglik_backward_ref(float *dlogits, const float *probs,
                                    const int32_t *labels, int B, int K) {
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) {
            float target = (k == labels[b]) ? 1.0f : 0.0f;
            dlogits[(size_t)b * K + k] += (probs[(size_t)b * K + k] - target) / (float)B;
        }
}

/* One parameter's step under ck_sgd_update's rule. */
static void update_one(float *param, float grad, float eta, float l2, float *velocity, float mu, int nesterov) {
    if (velocity == NULL) {
        *param -= eta * (grad + l2 * *param);
        return;
    }
    float d = grad + l2 * *param;
    *velocity = mu * *velocity + d;
    *param -= eta * (nesterov ? d + mu * *velocity : *velocity);
}

void ck_sgd_update_ref(float *params, const float *grads, float eta, float l2,
                       float *velocity, float mu, int nesterov, size_t n) {
    for (size_t i = 0; i < n; i++) update_one(&params[i], grads[i], eta, l2, velocity ? &velocity[i] : NULL, mu, nesterov);
}

void ck_linear_backward_update_rows_ref(float *dinp, float *weight,
                                        const float *dout, const float *inp,
                                        const float *mask, int B, int IN,
                                        int OUT, int row_begin, int row_end,
                                        float eta, float l2, float *velocity,
                                        float mu, int nesterov) {
    for (int i = row_begin; i < row_end; i++) {
        float *w = weight + (size_t)i * OUT;
        if (dinp)
            for (int b = 0; b < B; b++) {
                double sum = 0.0;
                for (int o = 0; o < OUT; o++) sum += (double)dout[(size_t)b * OUT + o] * w[o];
                float keep = mask ? mask[(size_t)b * IN + i] : 1.0f;
                dinp[(size_t)b * IN + i] += keep * (float)sum;
            }
        for (int o = 0; o < OUT; o++) {
            double gradient = 0.0;
            for (int b = 0; b < B; b++) gradient += (double)inp[(size_t)b * IN + i] * dout[(size_t)b * OUT + o];
            size_t at = (size_t)i * OUT + o;
            update_one(&w[o], (float)gradient, eta, l2, velocity ? &velocity[at] : NULL, mu, nesterov);
        }
    }
}

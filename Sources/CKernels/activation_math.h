/*
 * activation_math.h: the four activations and their slopes, in one place.
 *
 * Two forms of each activation live here.  ck_activate uses libm (expf,
 * tanhf) and is the oracle's definition (reference.c).  The vector
 * variants (vector_kernels.h) use ck_fast_sigmoid / ck_fast_tanh, built on
 * a branch-free exp (ck_fast_expf, about 2 ulp) so that their loops
 * vectorise; tests hold them to the oracle within a tolerance.  ReLU and
 * the identity are exact in both.
 *
 * The slope is written in terms of the activation's OUTPUT y, which is what
 * the forward pass keeps: sigmoid' = y(1-y), tanh' = 1-y^2, relu' = [y>0].
 * Oracle and variants share these exactly.  They are macros, not
 * functions, so that they expand inside the variants' `#pragma clang fp`
 * scopes, which do not reach into an inlined function's body.
 */
#ifndef CK_ACTIVATION_MATH_H
#define CK_ACTIVATION_MATH_H

#include "ckernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CK_SIGMOID_SLOPE(y) ((y) * (1.0f - (y)))
#define CK_TANH_SLOPE(y) (1.0f - (y) * (y))
#define CK_RELU_SLOPE(y) ((y) > 0.0f ? 1.0f : 0.0f)

static inline float ck_activate(float x, ck_activation act) {
    switch (act) {
    case CK_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case CK_ACT_TANH: return tanhf(x);
    case CK_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case CK_ACT_LINEAR: default: return x;
    }
}

static inline float ck_activation_slope(float y, ck_activation act) {
    switch (act) {
    case CK_ACT_SIGMOID: return CK_SIGMOID_SLOPE(y);
    case CK_ACT_TANH: return CK_TANH_SLOPE(y);
    case CK_ACT_RELU: return CK_RELU_SLOPE(y);
    case CK_ACT_LINEAR: default: return 1.0f;
    }
}

/* exp(x) by range reduction to [-ln2/2, ln2/2] and Cephes' polynomial;
 * about 2 ulp, branch-free so that loops over it vectorise. */
static inline float ck_fast_expf(float x) {
    x = x > 88.3f ? 88.3f : (x < -87.3f ? -87.3f : x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static inline float ck_fast_sigmoid(float x) { return 1.0f / (1.0f + ck_fast_expf(-x)); }
static inline float ck_fast_tanh(float x) { return 1.0f - 2.0f / (1.0f + ck_fast_expf(2.0f * x)); }
static inline float ck_relu(float x) { return x > 0.0f ? x : 0.0f; }
static inline float ck_identity(float x) { return x; }

#endif

/*
 * activation_math.h: the four activations and their slopes, shared by the
 * oracle and every vector variant so that all agree on the definitions.
 *
 * The slope is written in terms of the activation's OUTPUT y, which is what
 * the forward pass keeps: sigmoid' = y(1-y), tanh' = 1-y^2, relu' = [y>0].
 */
#ifndef CK_ACTIVATION_MATH_H
#define CK_ACTIVATION_MATH_H

#include "ckernels.h"
#include <math.h>

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
    case CK_ACT_SIGMOID: return y * (1.0f - y);
    case CK_ACT_TANH: return 1.0f - y * y;
    case CK_ACT_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case CK_ACT_LINEAR: default: return 1.0f;
    }
}

#endif

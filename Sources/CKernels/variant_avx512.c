/*
 * variant_avx512.c: vector_kernels.h compiled for AVX-512 (16 floats a
 * vector, a 12 x 32 GEMM tile in 24 of the 32 zmm registers; the forward
 * products' tile (gemm_packed) is 10 x 32, since 10 divides the seed's 20
 * and 40 filters and its mini-batch; direct_conv.h's tile is 4 filters x
 * 6 vectors, 24 accumulators; direct_weight_gradient.h's is 4 filters x 5
 * taps, 20 accumulators, since 5 divides a 5 x 5 filter's 25 taps).
 */
#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#define CK_VARIANT_TABLE ck_variant_avx512
#define CK_VEC 16
#define CK_MR 12
#define CK_PANEL_MR 10
#define CK_DIRECT_G 4
#define CK_DIRECT_P 6
#define CK_WGRAD_G 4
#define CK_WGRAD_T 5

#include "batchnorm_kernels.h"
#include "vector_kernels.h"
#pragma clang attribute pop
#endif

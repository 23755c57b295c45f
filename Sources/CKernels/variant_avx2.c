/*
 * variant_avx2.c: vector_kernels.h compiled for AVX2 + FMA (8 floats a
 * vector, a 6 x 16 GEMM tile in 12 of the 16 ymm registers; the forward
 * products' tile (gemm_packed) is 5 x 16, since 5 divides the seed's 20
 * and 40 filters and its mini-batch).
 */
#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define CK_VARIANT_TABLE ck_variant_avx2
#define CK_VEC 8
#define CK_MR 6
#define CK_PANEL_MR 5
#include "batchnorm_kernels.h"
#include "vector_kernels.h"
#pragma clang attribute pop
#endif

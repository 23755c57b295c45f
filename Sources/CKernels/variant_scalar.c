/*
 * variant_scalar.c: the portable build of vector_kernels.h (SSE2 on
 * x86-64, whatever the baseline is elsewhere).  It is the fallback for CPUs
 * without AVX2, and what SWIFTNET_ISA=scalar selects.
 */
#define CK_VARIANT_TABLE ck_variant_scalar
#define CK_VEC 4
#define CK_MR 6
#include "batchnorm_kernels.h"
#include "vector_kernels.h"

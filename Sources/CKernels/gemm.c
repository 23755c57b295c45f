/*
 * gemm.c: the public single-precision GEMM and its per-thread scratch.
 *
 * ck_sgemm applies beta itself and hands the accumulation to the variant
 * the dispatcher picked.  ck_sgemm_openblas makes the same call through
 * OpenBLAS so that benchmarks can compare the two at our (small) shapes.
 */
#include "ckernels.h"
#include "variants.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local float *scratch_floats;
static _Thread_local size_t scratch_capacity;

static void free_scratch(void *block) { free(block); }
static void make_scratch_key(void) { pthread_key_create(&scratch_key, free_scratch); }

float *ck_gemm_scratch(size_t floats) {
    if (floats <= scratch_capacity) return scratch_floats;
    pthread_once(&scratch_once, make_scratch_key);
    void *block = NULL;
    if (posix_memalign(&block, 64, floats * sizeof(float)) != 0) return NULL;
    free(scratch_floats);
    scratch_floats = block;
    scratch_capacity = floats;
    pthread_setspecific(scratch_key, block);
    return scratch_floats;
}

void ck_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta,
              float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (beta == 0.0f) {
        for (int i = 0; i < m; i++) memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof(float));
    } else if (beta != 1.0f) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] *= beta;
    }
    if (k <= 0 || alpha == 0.0f) return;
    ck_active_variant()->sgemm_accumulate(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
}

void ck_sgemm_openblas(int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc);
}

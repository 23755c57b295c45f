/*
 * gemm.c: the public single-precision GEMM and the choice of GEMM backend.
 *
 * ck_sgemm applies beta itself and hands the accumulation to the variant
 * the dispatcher picked.  ck_sgemm_openblas makes the same call through
 * OpenBLAS.  ck_sgemm_layer, which the layer kernels call, picks between
 * the two: whichever measured faster at our small shapes (OpenBLAS, where
 * it knows the CPU), unless SWIFTNET_GEMM says otherwise.  The choice of the forward
 * products' path (SWIFTNET_FORWARD) lives here too.  The GEMM packs into
 * scratch the caller owns (ck_sgemm_scratch_floats), so it never allocates;
 * OpenBLAS may allocate inside its own calls.
 */
#include "ckernels.h"
#include "variants.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t ck_sgemm_scratch_floats(int m, int n, int k) { return ck_any_variant_sgemm_scratch_floats(m, n, k); }

void ck_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta,
              float *c, int ldc, float *scratch) {
    if (m <= 0 || n <= 0) return;
    if (beta == 0.0f) {
        for (int i = 0; i < m; i++) memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof(float));
    } else if (beta != 1.0f) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] *= beta;
    }
    if (k <= 0 || alpha == 0.0f) return;
    ck_active_variant()->sgemm_accumulate(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc, scratch);
}

void ck_sgemm_openblas(int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc);
}

static _Atomic int gemm_backend = -1;
static pthread_once_t openblas_once = PTHREAD_ONCE_INIT;

/* Our parallelism, when there is any, is over the mini-batch; OpenBLAS
 * threads inside it would only fight for the same cores. */
static void limit_openblas_threads(void) { openblas_set_num_threads(1); }

const char *ck_gemm_backend_name(ck_gemm_backend backend) {
    return backend == CK_GEMM_OPENBLAS ? "openblas" : "own";
}

/* OpenBLAS cores whose SGEMM kernels use AVX2 or AVX-512 with FMA. */
static const char *const vector_fma_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};

ck_gemm_backend ck_gemm_backend_default_for(const char *openblas_core, ck_isa best_isa) {
    if (best_isa < CK_ISA_AVX2) return CK_GEMM_OPENBLAS;  /* its SSE kernels beat our 4-wide ones */
    for (size_t i = 0; i < sizeof vector_fma_cores / sizeof *vector_fma_cores; i++)
        if (openblas_core != NULL && strcasecmp(openblas_core, vector_fma_cores[i]) == 0) return CK_GEMM_OPENBLAS;
    return CK_GEMM_OWN;
}

/* OpenBLAS cores whose SGEMM kernels are AVX2 at most, though the CPU
 * may have AVX-512 (OPENBLAS_CORETYPE=Haswell picks one). */
static const char *const avx2_only_cores[] = {"Haswell", "Zen"};

int ck_openblas_is_avx2_only(void) {
    static _Atomic int cached = -1;
    int answer = cached;
    if (answer < 0) {
        const char *core = openblas_get_corename();
        answer = 0;
        for (size_t i = 0; i < sizeof avx2_only_cores / sizeof *avx2_only_cores; i++)
            if (core != NULL && strcasecmp(core, avx2_only_cores[i]) == 0) answer = 1;
        cached = answer;
    }
    return answer;
}

ck_gemm_backend ck_gemm_backend_current(void) {
    int backend = gemm_backend;
    if (backend < 0) {
        const char *wanted = getenv("SWIFTNET_GEMM");
        if (wanted != NULL && strcmp(wanted, "own") == 0) backend = CK_GEMM_OWN;
        else if (wanted != NULL && strcmp(wanted, "openblas") == 0) backend = CK_GEMM_OPENBLAS;
        else backend = ck_gemm_backend_default_for(openblas_get_corename(), ck_isa_best_supported());
        gemm_backend = backend;
    }
    return (ck_gemm_backend)backend;
}

void ck_gemm_backend_select(ck_gemm_backend backend) {
    gemm_backend = backend == CK_GEMM_OPENBLAS ? CK_GEMM_OPENBLAS : CK_GEMM_OWN;
}

void ck_sgemm_layer(int trans_a, int trans_b, int m, int n, int k, float alpha,
                    const float *a, int lda, const float *b, int ldb,
                    float beta, float *c, int ldc, float *scratch) {
    if (ck_gemm_backend_current() == CK_GEMM_OPENBLAS) {
        pthread_once(&openblas_once, limit_openblas_threads);
        ck_sgemm_openblas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
        ck_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch);
    }
}

static _Atomic int forward_path = -1;
static const char *const forward_path_names[] = {"auto", "packed", "gemm", "direct"};

const char *ck_forward_path_name(ck_forward_path path) {
    return path >= CK_FORWARD_AUTO && path <= CK_FORWARD_DIRECT ? forward_path_names[path] : "auto";
}

ck_forward_path ck_forward_path_current(void) {
    int path = forward_path;
    if (path < 0) {
        const char *wanted = getenv("SWIFTNET_FORWARD");
        path = CK_FORWARD_AUTO;
        for (int candidate = CK_FORWARD_AUTO; candidate <= CK_FORWARD_DIRECT; candidate++)
            if (wanted != NULL && strcmp(wanted, forward_path_names[candidate]) == 0) path = candidate;
        forward_path = path;
    }
    return (ck_forward_path)path;
}

void ck_forward_path_select(ck_forward_path path) {
    forward_path = path >= CK_FORWARD_AUTO && path <= CK_FORWARD_DIRECT ? path : CK_FORWARD_AUTO;
}

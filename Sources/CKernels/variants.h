/*
 * variants.h: the table of kernels that exist once per instruction set.
 *
 * vector_kernels.h is compiled three times (variant_scalar.c,
 * variant_avx2.c, variant_avx512.c), each under its own target attribute;
 * every copy fills one of these tables, and dispatch.c hands out the one
 * the CPU (or SWIFTNET_ISA) calls for.  Only the hot, data-parallel kernels
 * live here; everything else is plain C shared by all variants.  Like
 * every kernel, the variants never allocate: the GEMM's packing buffers
 * and the packed panels come from the caller, sized by the functions
 * below.
 */
#ifndef CK_VARIANTS_H
#define CK_VARIANTS_H

#include "ckernels.h"

typedef struct {
    /* c += alpha * op(a) @ op(b)   (beta is handled by the caller), packing
     * into scratch, which holds sgemm_scratch_floats(m, n, k) floats. */
    size_t (*sgemm_scratch_floats)(int m, int n, int k);
    void (*sgemm_accumulate)(int trans_a, int trans_b, int m, int n, int k,
                             float alpha, const float *a, int lda,
                             const float *b, int ldb, float *c, int ldc,
                             float *scratch);
    void (*bias_activation_forward)(float *out, const float *inp,
                                    const float *bias, int B, int C, int S,
                                    ck_activation act);
    void (*bias_activation_backward)(float *dinp, float *dbias,
                                     const float *dout, const float *out,
                                     int B, int C, int S, ck_activation act);
    void (*sgd_update)(float *params, const float *grads, float eta, float l2,
                       float *velocity, float mu, int nesterov, size_t n);
    void (*maxpool2x2_forward)(float *out, int32_t *argmax, const float *inp,
                               int B, int C, int H, int W);
    /* mask[i] = 1 if hash(key, first + i) >= threshold, else 0 */
    void (*dropout_mask)(float *mask, uint64_t key, uint32_t first,
                         uint32_t threshold, int n);
    void (*sgd_update_combined)(float *params, const float *const *grads,
                                const float *weights, int count, float eta,
                                float l2, float *velocity, float mu,
                                int nesterov, size_t n);
    /* The forward products of conv and dense layers: pack_panels fills
     * packed_panel_floats(M, K) floats with alpha * a (M x K, rows lda
     * apart), and gemm_packed writes out (M x N, rows ldo apart) = that
     * packed a @ b (K x N, rows ldb apart). */
    size_t (*packed_panel_floats)(int M, int K);
    void (*pack_panels)(float *packed, const float *a, int lda, int M, int K, float alpha);
    void (*gemm_packed)(float *out, int ldo, const float *packed, const float *b,
                        int ldb, int M, int N, int K);
    /* cols (C*KH*KW x OH*OW) of one image, zero-padded by pad and with
     * the filter moving stride pixels (OH, OW as ck_conv2d_forward_ex
     * gives them), and its adjoint added back. */
    void (*im2col)(float *cols, const float *image, int C, int H, int W,
                   int KH, int KW, int pad, int stride);
    void (*col2im_accumulate)(float *image, const float *cols, int C, int H,
                              int W, int KH, int KW, int pad, int stride);
    /* A conv layer's forward product read straight from one image, no
     * im2col (direct_conv.h): out (OC,OH,OW) = weight (OC,C,KH,KW) over
     * image (C,H,W) zero-padded by pad, stride 1, then + bias (OC) or
     * NULL, the same bits as gemm_packed on im2col's columns; scratch
     * holds direct_conv_floats(...) floats, enough for either direct
     * call.  conv_weight_gradient_direct (direct_weight_gradient.h):
     * dweight (OC,C,KH,KW) += one image's weight gradient for its output
     * gradient grad (OC,OH,OW), read on the same grid, no im2col. */
    size_t (*direct_conv_floats)(int C, int H, int W, int OC, int KH, int KW, int pad);
    void (*conv_direct)(float *out, float *scratch, const float *image, const float *weight,
                        const float *bias, int C, int H, int W, int OC, int KH, int KW, int pad);
    void (*conv_weight_gradient_direct)(float *dweight, float *scratch, const float *image, const float *grad,
                                        int C, int H, int W, int OC, int KH, int KW, int pad);
    /* Batch normalization (batchnorm_kernels.h; see ckernels.h). */
    void (*batchnorm_stats_partial)(double *sum, double *sumsq, const float *inp,
                                    int B, int C, int S);
    void (*batchnorm_forward)(float *out, float *xhat, const float *inp,
                              const float *mean, const float *invstd,
                              const float *gamma, int B, int C, int S);
    void (*batchnorm_backward_partial)(double *dgamma, double *dbeta,
                                       const float *dout, const float *xhat,
                                       int B, int C, int S);
    void (*batchnorm_backward)(float *dinp, const float *dout, const float *xhat,
                               const double *dgamma, const double *dbeta,
                               const float *gamma, const float *invstd,
                               long long N, int B, int C, int S);
} ck_variant_table;

extern const ck_variant_table ck_variant_scalar;
#if defined(__x86_64__)
extern const ck_variant_table ck_variant_avx2;
extern const ck_variant_table ck_variant_avx512;
#endif

const ck_variant_table *ck_active_variant(void);

/* The most floats any variant this CPU can run asks for, so that scratch
 * sized once fits whichever variant is selected later (tests switch
 * between them).  Only variants the CPU supports are asked: each size
 * function is compiled for its variant's instruction set. */
size_t ck_any_variant_sgemm_scratch_floats(int m, int n, int k);
size_t ck_any_variant_packed_panel_floats(int M, int K);
size_t ck_any_variant_direct_conv_floats(int C, int H, int W, int OC, int KH, int KW, int pad);

#endif

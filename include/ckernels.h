/*
 * ckernels.h: the public interface of SwiftNet's C kernels.
 *
 * Every layer of a classic convnet is a pair of free functions,
 * ck_<op>_forward / ck_<op>_backward, plus a plain scalar ck_<op>_*_ref oracle
 * that tests compare the fast path against.  Conventions (see CONVENTIONS.md):
 *
 *   - arguments go outputs first, then saved-for-backward buffers, then
 *     inputs, then weights, then plain int shapes;
 *   - float32, NCHW row-major; conv weights are (OC, IC, KH, KW) and fully
 *     connected weights are (n_in, n_out), as in network3.py;
 *   - kernels never allocate, print or exit: the caller owns every buffer,
 *     scratch included.  A kernel that needs scratch takes a `float *`
 *     scratch or workspace argument (after the outputs and saved buffers,
 *     before the inputs; last for the BLAS-shaped GEMM) holding at least
 *     what its pure size function returns (ck_sgemm_scratch_floats,
 *     ck_conv2d_workspace_floats, ck_linear_scratch_floats), llm.c-style:
 *     size once, allocate once, pass on every call.  A size covers every
 *     variant and GEMM backend, so switching them later needs no more.
 *     Thread teams (ck_team_create) and the C I/O helpers are not kernels;
 *   - each thread needs scratch of its own: two calls running at once
 *     must not share one;
 *   - backward functions ACCUMULATE (+=) into every gradient they write,
 *     parameter and input gradients alike; a NULL gradient pointer skips
 *     that work (the first layer needs no input gradient);
 *   - vector variants (AVX-512, AVX2, portable "scalar") are chosen once at
 *     run time; SWIFTNET_ISA=scalar|avx2|avx512 or ck_isa_select() overrides.
 */
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- dispatch */

typedef enum {
    CK_ISA_SCALAR = 0, /* portable C; on x86-64 the SSE2 baseline          */
    CK_ISA_AVX2 = 1,   /* AVX2 + FMA                                        */
    CK_ISA_AVX512 = 2, /* AVX-512 F/BW/DQ/VL                                */
} ck_isa;

/* The best variant this CPU supports. */
ck_isa ck_isa_best_supported(void);
/* The variant in use: SWIFTNET_ISA if set and supported, else the best. */
ck_isa ck_isa_current(void);
/* Force a variant; returns 0, or -1 (and changes nothing) if unsupported. */
int ck_isa_select(ck_isa isa);
/* "scalar", "avx2" or "avx512". */
const char *ck_isa_name(ck_isa isa);

/* ------------------------------------------------------------------- gemm */

/* c (m,n) = alpha * op(a) @ op(b) + beta * c, row-major; op(a) is (m,k) and
 * op(b) is (k,n).  trans_a / trans_b nonzero means a / b is stored
 * transposed.  beta == 0 ignores c's old contents (even NaN).  ck_sgemm
 * packs into scratch, at least ck_sgemm_scratch_floats(m, n, k) floats
 * (at most about 1.1 MB, whatever the shape). */
size_t ck_sgemm_scratch_floats(int m, int n, int k);
void ck_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta,
              float *c, int ldc, float *scratch);
void ck_sgemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta,
                  float *c, int ldc);
/* The same call through OpenBLAS, for benchmarks and comparison. */
void ck_sgemm_openblas(int trans_a, int trans_b, int m, int n, int k,
                       float alpha, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc);

/* Which GEMM the layer kernels (conv2d, linear) use.  At mini-batch 10 the
 * matrices are small, and OpenBLAS's single-threaded kernels for the cores
 * it knows with AVX2 or AVX-512 measured faster than ck_sgemm on this
 * project's machines, so OpenBLAS is the default there.  Where OpenBLAS
 * does not know the CPU it falls back to SSE kernels (Prescott and the
 * like), 2 to 4x slower at these shapes, and on a CPU with AVX2 ck_sgemm
 * is the default instead (ck_gemm_backend_default_for says which).
 * SWIFTNET_GEMM=own|openblas or ck_gemm_backend_select() overrides. */
typedef enum {
    CK_GEMM_OWN = 0,      /* ck_sgemm, the per-ISA packed kernel */
    CK_GEMM_OPENBLAS = 1, /* cblas_sgemm, limited to one thread   */
} ck_gemm_backend;
/* The default for OpenBLAS's core name (openblas_get_corename) and the
 * best ISA this CPU supports. */
ck_gemm_backend ck_gemm_backend_default_for(const char *openblas_core, ck_isa best_isa);
ck_gemm_backend ck_gemm_backend_current(void);
void ck_gemm_backend_select(ck_gemm_backend backend);
const char *ck_gemm_backend_name(ck_gemm_backend backend);
/* 1 if OpenBLAS runs SGEMM kernels of AVX2 at most (its Haswell or Zen
 * core, which OPENBLAS_CORETYPE=Haswell selects on any AVX2 CPU). */
int ck_openblas_is_avx2_only(void);
/* ck_sgemm or ck_sgemm_openblas, as the backend says; scratch as for
 * ck_sgemm (unused under OpenBLAS, which may allocate inside its calls). */
void ck_sgemm_layer(int trans_a, int trans_b, int m, int n, int k, float alpha,
                    const float *a, int lda, const float *b, int ldb,
                    float beta, float *c, int ldc, float *scratch);

/* ----------------------------------------------------------------- conv2d */

/* How the forward products of ck_conv2d_forward and ck_linear_forward*
 * multiply, out (M x N) = a (M x K) @ b (K x N).  PACKED: the variant's
 * own kernel, with the small operand (the conv weights, the dense inputs)
 * packed once per call; a GEMM would also pack the large one (im2col's
 * columns, the dense weights), and for a conv layer once per image.  GEMM:
 * through ck_sgemm_layer.  AUTO (the default): PACKED where K >= 100 and
 * N >= 32, and for a dense layer also M (the batch) <= 16, where it
 * measured faster than OpenBLAS at the seed's shapes (second conv layer,
 * K 500: 23.5 against 28.8 us an image; dense 2880 -> 100 at mini-batch
 * 10: 74 against 113 us); GEMM elsewhere, where OpenBLAS won (first conv
 * layer, K 25: 6.1 against 7.1 us; dense 100 -> 10: 0.4 against 1.0 us;
 * dense 2880 -> 100 at batch 64: 411 against 539 us).  Where OpenBLAS
 * runs its AVX2 kernels (ck_openblas_is_avx2_only) and our AVX-512
 * variant is active, AUTO is PACKED where K >= 100 and N >= 32 at any
 * batch: at batch 50, 2880 -> 100 took 643-658 against 725-825 us, and
 * 1000 -> 1000 1324-1442 against 2098-2118 us.  Under our own GEMM
 * backend AUTO is PACKED for every product but the direct ones.
 * DIRECT: a conv layer of stride 1 reads the image itself, no im2col
 * (the variant's conv_direct), with the same bits as PACKED; AUTO takes
 * it under AVX-512 for shallow filters larger than 1 x 1 (C * KH * KW <=
 * CK_DIRECT_MAX_DEPTH) on images at least 2 (KW - 1) pixels wide, padding
 * included (so that at most half of its grid's positions are dropped).
 * Measured on one core of an AVX-512 Xeon, 10 images a call, us an image,
 * direct / packed / OpenBLAS (its Haswell kernels): the seed's first
 * layer (1 x 28 x 28, 20 5x5 filters) 8.7-11.0 / 11.4-15.9 / 18-25;
 * 3 x 32 x 32 with 32 3x3 filters and pad 1, 26-34 / 39-56 / 45; the
 * seed's second layer (20 x 12 x 12, 40 filters, depth 500) tied in one
 * build and lost by 10-25% in cnn bench-kernels, so deep filters stay
 * packed.  Under AVX2 direct lost or tied on the first layer.  A conv
 * layer of another stride under DIRECT, and every dense layer, goes as
 * under AUTO.
 * The path covers a conv layer's weight gradient too: under DIRECT it
 * reads the image directly (the variant's conv_weight_gradient_direct, no
 * im2col, in another order than the GEMM's, so other bits); AUTO takes it
 * where it takes the direct forward product and the GEMM it replaces is
 * our own or OpenBLAS's AVX2 kernels (ck_openblas_is_avx2_only).  Measured
 * on one core of an AVX-512 Xeon under OPENBLAS_CORETYPE=Haswell, 10
 * images a call: the seed's first layer 127 against 306 us, 3 x 32 x 32
 * with 32 3x3 filters and pad 1 438 against 840 us; under AVX2 199
 * against 301 us.
 * SWIFTNET_FORWARD=auto|packed|gemm|direct or ck_forward_path_select()
 * overrides. */
typedef enum {
    CK_FORWARD_AUTO = 0,
    CK_FORWARD_PACKED = 1,
    CK_FORWARD_GEMM = 2,
    CK_FORWARD_DIRECT = 3,
} ck_forward_path;
#define CK_DIRECT_MAX_DEPTH 75
ck_forward_path ck_forward_path_current(void);
void ck_forward_path_select(ck_forward_path path);
const char *ck_forward_path_name(ck_forward_path path);

/* Valid convolution, stride 1 (cross-correlation, as in every modern
 * framework): inp (B,C,H,W), weight (OC,C,KH,KW), optional bias (OC) or
 * NULL, out (B,OC,H-KH+1,W-KW+1).  The workspace, at least
 * ck_conv2d_workspace_floats(C, H, W, OC, KH, KW) floats for any B, holds
 * one image's im2col columns and the packed weights or GEMM packing of
 * both the forward and the backward. */
size_t ck_conv2d_workspace_floats(int C, int H, int W, int OC, int KH, int KW);
void ck_conv2d_forward(float *out, float *workspace, const float *inp,
                       const float *weight, const float *bias, int B, int C,
                       int H, int W, int OC, int KH, int KW);
/* dinp (B,C,H,W) or NULL, dweight (OC,C,KH,KW), dbias (OC) or NULL, all +=. */
void ck_conv2d_backward(float *dinp, float *dweight, float *dbias,
                        float *workspace, const float *dout, const float *inp,
                        const float *weight, int B, int C, int H, int W, int OC,
                        int KH, int KW);
void ck_conv2d_forward_ref(float *out, const float *inp, const float *weight,
                           const float *bias, int B, int C, int H, int W,
                           int OC, int KH, int KW);
void ck_conv2d_backward_ref(float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp,
                            const float *weight, int B, int C, int H, int W,
                            int OC, int KH, int KW);

/* The same with zero padding and a stride: the input is read as if `pad`
 * zeros (0 <= pad < KH and KW) surrounded it on every side, and the
 * filter moves `stride` (>= 1) pixels at a time, so out is (B,OC,OH,OW)
 * with OH = (H + 2 pad - KH) / stride + 1 and OW = (W + 2 pad - KW) /
 * stride + 1 (rounded down: trailing pixels no window reaches are
 * ignored, and get no gradient).  H + 2 pad >= KH and W + 2 pad >= KW.
 * The calls above are these with pad 0 and stride 1, and compute the
 * same bits.  The workspace is ck_conv2d_workspace_floats_ex's. */
size_t ck_conv2d_workspace_floats_ex(int C, int H, int W, int OC, int KH,
                                     int KW, int pad, int stride);
void ck_conv2d_forward_ex(float *out, float *workspace, const float *inp,
                          const float *weight, const float *bias, int B,
                          int C, int H, int W, int OC, int KH, int KW,
                          int pad, int stride);
void ck_conv2d_backward_ex(float *dinp, float *dweight, float *dbias,
                           float *workspace, const float *dout,
                           const float *inp, const float *weight, int B,
                           int C, int H, int W, int OC, int KH, int KW,
                           int pad, int stride);
void ck_conv2d_forward_ex_ref(float *out, const float *inp,
                              const float *weight, const float *bias, int B,
                              int C, int H, int W, int OC, int KH, int KW,
                              int pad, int stride);
void ck_conv2d_backward_ex_ref(float *dinp, float *dweight, float *dbias,
                               const float *dout, const float *inp,
                               const float *weight, int B, int C, int H,
                               int W, int OC, int KH, int KW, int pad,
                               int stride);

/* --------------------------------------------------------------- max-pool */

/* Non-overlapping PHxPW max-pool, borders ignored (ignore_border=True):
 * inp (B,C,H,W) -> out (B,C,H/PH,W/PW).  argmax (same shape as out) saves
 * the flat index into inp of each window's maximum (the first one on ties),
 * for the backward; NULL when there will be none (evaluation). */
void ck_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B,
                          int C, int H, int W, int PH, int PW);
/* dinp (B,C,H,W) += scatter of dout through argmax. */
void ck_maxpool2d_backward(float *dinp, const float *dout,
                           const int32_t *argmax, int B, int C, int H, int W,
                           int PH, int PW);
void ck_maxpool2d_forward_ref(float *out, const float *inp, int B, int C,
                              int H, int W, int PH, int PW);
/* Oracle backward: finds each window's maximum again from inp. */
void ck_maxpool2d_backward_ref(float *dinp, const float *dout,
                               const float *inp, int B, int C, int H, int W,
                               int PH, int PW);

/* Max-pool over PHxPW windows that start every SH rows and SW columns
 * (SH, SW >= 1; windows overlap when a stride is smaller than the window,
 * and skip pixels when it is larger): inp (B,C,H,W) -> out (B,C,OH,OW)
 * with OH = (H - PH) / SH + 1 and OW = (W - PW) / SW + 1, H >= PH and
 * W >= PW; rows and columns no window reaches are ignored, as above.
 * argmax as above.  The backward ACCUMULATES: where windows overlap, one
 * input can win several and receives the sum of their gradients.  With
 * SH = PH and SW = PW these are the calls above, bit for bit. */
void ck_maxpool2d_forward_ex(float *out, int32_t *argmax, const float *inp,
                             int B, int C, int H, int W, int PH, int PW,
                             int SH, int SW);
void ck_maxpool2d_backward_ex(float *dinp, const float *dout,
                              const int32_t *argmax, int B, int C, int H,
                              int W, int PH, int PW, int SH, int SW);
void ck_maxpool2d_forward_ex_ref(float *out, const float *inp, int B, int C,
                                 int H, int W, int PH, int PW, int SH,
                                 int SW);
void ck_maxpool2d_backward_ex_ref(float *dinp, const float *dout,
                                  const float *inp, int B, int C, int H,
                                  int W, int PH, int PW, int SH, int SW);

/* ------------------------------------------------------ bias + activation */

typedef enum {
    CK_ACT_LINEAR = 0,
    CK_ACT_SIGMOID = 1,
    CK_ACT_TANH = 2,
    CK_ACT_RELU = 3,
} ck_activation;

/* out[b,c,s] = act(inp[b,c,s] + bias[c]) for inp (B,C,S); bias may be NULL;
 * out may equal inp.  A fully connected layer uses S = 1. */
void ck_bias_activation_forward(float *out, const float *inp,
                                const float *bias, int B, int C, int S,
                                ck_activation act);
/* dinp += dout * act'(.), computed from the forward OUTPUT; dbias[c] += sum
 * over b,s of that.  dinp and dbias may be NULL; neither may overlap dout
 * or out. */
void ck_bias_activation_backward(float *dinp, float *dbias, const float *dout,
                                 const float *out, int B, int C, int S,
                                 ck_activation act);
void ck_bias_activation_forward_ref(float *out, const float *inp,
                                    const float *bias, int B, int C, int S,
                                    ck_activation act);
void ck_bias_activation_backward_ref(float *dinp, float *dbias,
                                     const float *dout, const float *out,
                                     int B, int C, int S, ck_activation act);

/* ---------------------------------------------------------------- linear */

/* The scratch of the four dense kernels below (packed inputs, GEMM
 * packing, the fused backward's temporaries), at least
 * ck_linear_scratch_floats(B, IN, OUT) floats for batches up to B.  For
 * the kernels on a slice of rows (ck_linear_forward_rows,
 * ck_linear_backward_update_rows) IN may be the most rows one call
 * covers (K, or row_end - row_begin) instead of the layer's inputs. */
size_t ck_linear_scratch_floats(int B, int IN, int OUT);
/* out (B,OUT) = scale * inp (B,IN) @ weight (IN,OUT).  Bias and activation
 * follow in ck_bias_activation_forward.  scale is (1 - p_dropout) when a
 * dropout layer is evaluated, else 1. */
void ck_linear_forward(float *out, float *scratch, const float *inp,
                       const float *weight, float scale, int B, int IN,
                       int OUT);
/* out (B x OUT) = scale * inp (B x K, rows ld_inp apart) @ weight (K x
 * OUT): K consecutive input features and their weight rows, the part of a
 * dense layer split by rows that one thread owns. */
void ck_linear_forward_rows(float *out, float *scratch, const float *inp,
                            int ld_inp, const float *weight, float scale,
                            int B, int K, int OUT);
/* dinp (B,IN) or NULL += dout @ weight^T;  dweight (IN,OUT) += inp^T @ dout. */
void ck_linear_backward(float *dinp, float *dweight, float *scratch,
                        const float *dout, const float *inp,
                        const float *weight, int B, int IN, int OUT);
void ck_linear_forward_ref(float *out, const float *inp, const float *weight,
                           float scale, int B, int IN, int OUT);
void ck_linear_backward_ref(float *dinp, float *dweight, const float *dout,
                            const float *inp, const float *weight, int B,
                            int IN, int OUT);

/* A dense layer's backward pass fused with its SGD update, for the weight
 * rows [row_begin, row_end) only, so that threads can own disjoint slices
 * of a large weight matrix (each slice stays in its core's cache):
 *   dinp[b,i] += mask[b,i] * sum_o dout[b,o] * weight[i,o]   (OLD weights)
 *   weight[i,:] -= eta * (sum_b inp[b,i] * dout[b,:] + l2 * weight[i,:])
 * for i in the slice.  inp is the input the forward pass multiplied (after
 * dropout); dinp and mask may be NULL.  With a velocity (laid out like
 * weight) the update is ck_sgd_update's momentum rule instead.  Summation
 * order differs from ck_linear_backward + ck_sgd_update, so results agree
 * to rounding.  The rows go in blocks of 64; splitting a slice differently
 * gives the same bits with our own GEMM, but under OpenBLAS only results
 * equal to rounding (its kernels may sum in another order for another
 * block size). */
void ck_linear_backward_update_rows(float *dinp, float *weight,
                                    float *scratch, const float *dout,
                                    const float *inp,
                                    const float *mask, int B, int IN, int OUT,
                                    int row_begin, int row_end, float eta,
                                    float l2, float *velocity, float mu,
                                    int nesterov);
void ck_linear_backward_update_rows_ref(float *dinp, float *weight,
                                        const float *dout, const float *inp,
                                        const float *mask, int B, int IN,
                                        int OUT, int row_begin, int row_end,
                                        float eta, float l2, float *velocity,
                                        float mu, int nesterov);

/* ------------------------------------------------- softmax + log-likelihood */

/* probs (B,K) = softmax(logits) row-wise; returns the mean over the batch of
 * -log probs[b, labels[b]].  Labels must lie in [0, K); labels may be NULL
 * when only the probabilities are wanted (then it returns 0). */
float ck_softmax_loglik_forward(float *probs, const float *logits,
                                const int32_t *labels, int B, int K);
/* dlogits += (probs - onehot(labels)) / B. */
void ck_softmax_loglik_backward(float *dlogits, const float *probs,
                                const int32_t *labels, int B, int K);
float ck_softmax_loglik_forward_ref(float *probs, const float *logits,
                                    const int32_t *labels, int B, int K);
void ck_softmax_loglik_backward_ref(float *dlogits, const float *probs,
                                    const int32_t *labels, int B, int K);
/* predicted[b] = index of the largest x[b,:] (first on ties). */
void ck_argmax_rows(int32_t *predicted, const float *x, int B, int K);

/* ---------------------------------------------------------------- dropout */

/* xoshiro256** state; seeded through splitmix64 so any seed is good. */
typedef struct {
    uint64_t s[4];
} ck_rng;
void ck_rng_seed(ck_rng *rng, uint64_t seed);
uint64_t ck_rng_next(ck_rng *rng);
/* A uniform float in [0, 1) with 24 random bits. */
float ck_rng_uniform(ck_rng *rng);

/* mask[i] = 1 with probability 1 - p_drop, else 0 (drawn from rng in index
 * order, the same on every ISA); out = inp * mask, without rescaling (as the
 * seed does).  out may equal inp. */
void ck_dropout_forward(float *out, float *mask, const float *inp, ck_rng *rng,
                        float p_drop, int n);
/* The same with an explicit key: mask[i] depends only on (key, first + i),
 * so a mini-batch split across threads draws exactly the mask that one
 * thread would (each thread passes its samples' offset as first). */
void ck_dropout_forward_keyed(float *out, float *mask, const float *inp,
                              uint64_t key, size_t first, float p_drop, int n);
/* dinp += dout * mask. */
void ck_dropout_backward(float *dinp, const float *dout, const float *mask,
                         int n);

/* -------------------------------------------------------------- utilities */

/* SGD with the seed's L2 term, where l2 = lmbda / number-of-training-
 * mini-batches for weights and 0 for biases.  With d = grads + l2 * params:
 *   velocity NULL (the seed's plain SGD):  params -= eta * d
 *   momentum:  velocity = mu * velocity + d;  params -= eta * velocity
 *   nesterov:  velocity = mu * velocity + d;  params -= eta * (d + mu * velocity)
 * (PyTorch's formulation; velocity is laid out like params and starts at 0). */
void ck_sgd_update(float *params, const float *grads, float eta, float l2,
                   float *velocity, float mu, int nesterov, size_t n);
void ck_sgd_update_ref(float *params, const float *grads, float eta, float l2,
                       float *velocity, float mu, int nesterov, size_t n);
/* The same update from a weighted sum of per-thread gradients, summed in
 * index order of `grads` (so the result does not depend on thread timing):
 * d = sum_t weights[t] * grads[t] + l2 * params. */
void ck_sgd_update_combined(float *params, const float *const *grads,
                            const float *weights, int count, float eta,
                            float l2, float *velocity, float mu, int nesterov,
                            size_t n);
/* out[i] = sum over p of partials[p * stride + i], in order p = 0, 1, ...
 * (the reduction of per-thread partial products; out may be partials). */
void ck_sum_partials(float *out, const float *partials, int parts,
                     size_t stride, size_t n);
/* Sum of squares, accumulated in double. */
double ck_sum_squares(const float *x, size_t n);
/* 1 when every x[i] is finite, else 0. */
int ck_all_finite(const float *x, size_t n);
/* out[i] = in[i] * scale: bytes to floats (MNIST pixels are byte/256). */
void ck_u8_to_float(float *out, const uint8_t *in, float scale, size_t n);
/* One image (C,H,W) of bytes to floats, moved by (dy, dx) pixels: out[c,y,x]
 * = in[c, y - dy, x - dx] * scale where that lies inside the image, else 0
 * (the one-pixel shifts of the book's expand_mnist.py: dy = 1 moves the
 * digit down one row and blanks the top row). */
void ck_u8_to_float_shifted(float *out, const uint8_t *in, float scale, int C,
                            int H, int W, int dy, int dx);

/* Resamples one (C,H,W) byte image into floats: out[c,y,x] = scale *
 * bilinear(in[c], sy, sx), zero outside, where (y', x') = (y + field_dy,
 * x + field_dx) (fields H x W, or NULL for none) and
 * sy = affine[0] y' + affine[1] x' + affine[2],
 * sx = affine[3] y' + affine[4] x' + affine[5]. */
void ck_warp_image(float *out, const uint8_t *in, float scale, int C, int H,
                   int W, const float affine[6], const float *field_dy,
                   const float *field_dx);
/* Floats of scratch ck_augment_image needs for an H x W elastic field. */
size_t ck_augment_scratch_floats(int H, int W);
/* One randomly distorted copy of a (C,H,W) byte image, drawn from `key`
 * alone: moved by (base_dy, base_dx) plus a uniform shift in
 * [-max_shift, max_shift] per axis, rotated about its centre by a uniform
 * angle in [-max_rotation_degrees, max_rotation_degrees], and, when
 * elastic_alpha > 0, displaced by a uniform random field smoothed by a
 * Gaussian of width elastic_sigma and scaled by elastic_alpha (Simard et
 * al. 2003).  scratch holds ck_augment_scratch_floats(H, W) floats. */
void ck_augment_image(float *out, const uint8_t *in, float scale, int C, int H,
                      int W, uint64_t key, float base_dy, float base_dx,
                      float max_shift, float max_rotation_degrees,
                      float elastic_alpha, float elastic_sigma,
                      float *scratch);

/* Sets flush-to-zero and denormals-are-zero for the calling thread (x86
 * MXCSR; a no-op elsewhere).  Saturated sigmoids and a diverging run make
 * denormal floats, which x86 handles some hundred times slower. */
void ck_flush_denormals_on_this_thread(void);

/* The machine's fused multiply-add peak in GFLOP/s, measured: `threads`
 * threads (up to 1024) each run chains of the widest FMAs the CPU has
 * (AVX-512, AVX2, or scalar) for about `seconds`, all at once; 0 for bad
 * arguments.  Not a kernel: it starts threads (fma_peak.c). */
double ck_fma_peak_gflops(int threads, double seconds);

/* ------------------------------------------------------------ thread team */

/* A team of threads that runs the parts of a job in parallel.  Every owner
 * (each Network) creates its own, so teams share nothing and any number
 * may run at once from different threads.  One team serves one caller at
 * a time: calls to ck_team_run on the same team must not overlap, and fn
 * must not call ck_team_run on its own team.  Idle workers spin briefly,
 * then sleep.  Creating and destroying a team are not kernels: they
 * allocate and start or join threads. */
typedef struct ck_team ck_team;
typedef void (*ck_task_fn)(void *context, int part, int parts);
/* A team of `threads` threads, the caller included (threads - 1 workers).
 * NULL if threads < 1 or the workers cannot be created.  Not a kernel: it allocates. */
ck_team *ck_team_create(int threads);
/* Stops and joins the workers and frees the team; NULL is a no-op.  Not
 * while a ck_team_run on it is in progress. */
void ck_team_destroy(ck_team *team);
int ck_team_size(const ck_team *team);
/* fn(context, part, parts) for part 0..parts-1 (parts clamped to the size), part 0 on the caller;
 * returns when every part is done. */
void ck_team_run(ck_team *team, int parts, ck_task_fn fn, void *context);
/* Inside fn: waits until all `parts` parts of the current job arrive. */
void ck_team_barrier(ck_team *team, int parts);

/* A job of `phases` phases run in order: fn(context, phase, part) for every
 * part 0..parts[phase]-1 of each phase, every part of a phase finished
 * before any part of the next starts.  Parts are not bound to threads: each
 * (phase, part) goes to whichever thread of the team claims it first, in
 * order, so a thread that is late (another program took its core) leaves
 * its share to the others instead of holding up every phase.  fn must
 * therefore compute the same whichever thread runs it (buffers per part,
 * never per thread) and must not call ck_team_barrier; the caller's thread
 * flushes denormals as the workers do.  parts[phase] may exceed the team's
 * size.  A thread runs its own part (thread i, part i; the caller is 0)
 * when it is free, so parts keep their threads unless one is late.
 * Returns 0, or -1 (running nothing) for more than CK_TEAM_MAX_PHASES
 * phases, a part count below 1, or more than CK_TEAM_MAX_PHASES times the
 * team's size parts in all. */
enum { CK_TEAM_MAX_PHASES = 256 };
typedef void (*ck_phase_fn)(void *context, int phase, int part);
int ck_team_run_phases(ck_team *team, int phases, const int *parts, ck_phase_fn fn, void *context);
/* A busy machine: when, in two windows of CK_TEAM_JUDGE_JOBS phased jobs
 * running, more than one in CK_TEAM_LATE_SHARE_DIVISOR parts of parallel
 * phases had to be taken from a thread that was late, the caller runs the
 * next phased jobs alone (same parts, same order, same results) while the
 * workers sleep, then tries them again (where one late window suffices to
 * send it back alone): CK_TEAM_SOLO_JOBS_LEAST jobs at
 * first, twice as many each time the machine is still busy, up to
 * CK_TEAM_SOLO_JOBS_MOST, and half as many again after each clean window. */
enum { CK_TEAM_JUDGE_JOBS = 64, CK_TEAM_LATE_SHARE_DIVISOR = 4,
       CK_TEAM_SOLO_JOBS_LEAST = 1024, CK_TEAM_SOLO_JOBS_MOST = 16384 };
/* Phased jobs the caller will still run alone (0 when the workers take part). */
long ck_team_solo_jobs_left(const ck_team *team);

/* ------------------------------------------------------------- gzip input */

/* Thin status-returning wrappers over zlib's gz* API, so Swift needs no
 * zlib module of its own.  gzread also reads files that are not gzipped. */
typedef struct ck_gzfile ck_gzfile;
/* NULL on failure (errno says why). */
ck_gzfile *ck_gz_open(const char *path);
/* Bytes read (0 at a clean end of stream), or -1 on damage: then
 * ck_gz_error() describes it. */
long ck_gz_read(ck_gzfile *file, void *buffer, unsigned length);
const char *ck_gz_error(ck_gzfile *file);
/* Uncompressed bytes consumed so far. */
long long ck_gz_offset(ck_gzfile *file);
/* Bytes of the file itself that zlib has consumed: after damage, about where
 * inflate stopped making sense of it.  -1 if unknown. */
long long ck_gz_compressed_offset(ck_gzfile *file);
void ck_gz_close(ck_gzfile *file);

/* ------------------------------------------------------ checkpoint support */

/* zlib's CRC-32 of `length` bytes, continuing from `crc` (start with 0). */
uint32_t ck_crc32(uint32_t crc, const void *data, size_t length);
/* Makes the first SIGINT or SIGTERM only set a flag (a second one gets the
 * default action) and clears the flag; 0 on success, -1 if sigaction failed. */
int ck_stop_signals_install(void);
/* The signal number of the first SIGINT/SIGTERM since install, else 0. */
int ck_stop_signal_received(void);
/* Restores the default actions and clears the flag. */
void ck_stop_signals_uninstall(void);

/* ------------------------------------------------------------ png support */

/* What ck_zlib_compress and ck_zlib_uncompress report. */
enum {
    CK_ZLIB_OK = 0,
    CK_ZLIB_DAMAGED = 1,   /* not a zlib stream, or a bad checksum */
    CK_ZLIB_TRUNCATED = 2, /* the stream ends before its end marker */
    CK_ZLIB_TOO_LONG = 3   /* more data than the output buffer holds */
};
/* The most bytes deflating `length` bytes can produce. */
size_t ck_zlib_compress_bound(size_t length);
/* Deflates in[0..in_length) into out; *out_length is out's capacity on entry
 * (at least ck_zlib_compress_bound) and the bytes written on return. */
int ck_zlib_compress(uint8_t *out, size_t *out_length, const uint8_t *in, size_t in_length, int level);
/* Inflates one zlib stream into out[0..out_length); *produced is set to the
 * bytes written.  CK_ZLIB_OK only when the stream ends cleanly. */
int ck_zlib_uncompress(uint8_t *out, size_t out_length, size_t *produced,
                       const uint8_t *in, size_t in_length);

/* ------------------------------------------------------------ gzip output */

/* The most bytes ck_gzip_compress can produce from `length` bytes. */
size_t ck_gzip_compress_bound(size_t length);
/* Deflates in[0..in_length) into one gzip member (as gzip(1) writes) in out;
 * *out_length is out's capacity on entry (at least ck_gzip_compress_bound)
 * and the bytes written on return.  CK_ZLIB_OK, or CK_ZLIB_TOO_LONG if out
 * is too small, or CK_ZLIB_DAMAGED if zlib cannot start (a bad level). */
int ck_gzip_compress(uint8_t *out, size_t *out_length, const uint8_t *in, size_t in_length, int level);

/* ------------------------------------------------------ batch normalization
 *
 * Per channel after a conv layer (x is (B,C,S), S = H*W) and per unit after a
 * dense layer (x is (B,C,1)).  The statistics cover all B*S values of a
 * channel in the WHOLE mini-batch, which threads may split (each holding
 * B_part samples), so training runs in phases:
 *   1. each part: ck_batchnorm_stats_partial into zeroed double sums;
 *   2. the caller adds the parts' sums in thread order (so the result does
 *      not depend on timing), then ck_batchnorm_stats_finish once;
 *   3. each part: ck_batchnorm_forward, then the caller's
 *      ck_bias_activation_forward(out, pre, beta, ...) adds beta and applies
 *      the activation (these kernels apply neither);
 * and backward, after ck_bias_activation_backward(dpre, NULL, dout, out, ...):
 *   4. each part: ck_batchnorm_backward_partial into zeroed double sums;
 *   5. the caller adds them in thread order: the totals are the gradients of
 *      gamma and beta, and feed
 *   6. each part: ck_batchnorm_backward with the totals.
 * N is always the values per channel of the whole batch (B_total * S).
 * Evaluation uses running statistics: ck_batchnorm_invstd, then
 * ck_batchnorm_forward with xhat NULL.  eps is the caller's (it uses 1e-5). */

/* inp is (B,C,S).  sum[c] += sum of x, sumsq[c] += sum of x*x over this
 * part's B*S values (double accumulators). */
void ck_batchnorm_stats_partial(double *sum, double *sumsq, const float *inp,
                                int B, int C, int S);
/* From totals over N > 0 values per channel: mean, biased var =
 * max(sumsq/N - mean^2, 0), invstd = 1/sqrt(var + eps), all (C).  Scalar. */
void ck_batchnorm_stats_finish(float *mean, float *var, float *invstd,
                               const double *sum, const double *sumsq,
                               long long N, float eps, int C);
/* running = (1 - momentum) * running + momentum * batch, all (C), with the
 * batch variance made unbiased (var * N / (N - 1); used as is when N == 1).
 * Scalar. */
void ck_batchnorm_running_update(float *running_mean, float *running_var,
                                 const float *mean, const float *var,
                                 float momentum, long long N, int C);
/* invstd for evaluation from running variance, (C): invstd[c] =
 * 1/sqrt(var[c] + eps).  Scalar. */
void ck_batchnorm_invstd(float *invstd, const float *var, float eps, int C);
/* totals (n) = the sum of `parts` consecutive slots of n partial sums, added
 * in part order (so every part that combines gets the same totals).  Scalar. */
void ck_batchnorm_combine(double *totals, const double *partials, int parts, int n);
/* grads (n) += totals rounded to float: d gamma and d beta from the totals.  Scalar. */
void ck_batchnorm_add_gradients(float *grads, const double *totals, int n);
/* out, xhat, inp are (B,C,S); mean, invstd, gamma (C).  xhat = (x - mean[c])
 * * invstd[c]; out = gamma[c] * xhat.  xhat may be NULL (evaluation); out
 * may alias inp. */
void ck_batchnorm_forward(float *out, float *xhat, const float *inp,
                          const float *mean, const float *invstd,
                          const float *gamma, int B, int C, int S);
/* dout, xhat are (B,C,S); dout is d cost / d (gamma*xhat + beta).
 * dgamma[c] += sum dout*xhat, dbeta[c] += sum dout, over this part
 * (double). */
void ck_batchnorm_backward_partial(double *dgamma, double *dbeta,
                                   const float *dout, const float *xhat,
                                   int B, int C, int S);
/* dinp, dout, xhat are (B,C,S).  dinp += gamma[c]*invstd[c]/N * (N*dout -
 * dbeta[c] - xhat*dgamma[c]), with dgamma/dbeta the totals over the whole
 * batch and N its values per channel.  dinp NULL does nothing. */
void ck_batchnorm_backward(float *dinp, const float *dout, const float *xhat,
                           const double *dgamma, const double *dbeta,
                           const float *gamma, const float *invstd,
                           long long N, int B, int C, int S);

void ck_batchnorm_stats_partial_ref(double *sum, double *sumsq,
                                    const float *inp, int B, int C, int S);
void ck_batchnorm_forward_ref(float *out, float *xhat, const float *inp,
                              const float *mean, const float *invstd,
                              const float *gamma, int B, int C, int S);
void ck_batchnorm_backward_partial_ref(double *dgamma, double *dbeta,
                                       const float *dout, const float *xhat,
                                       int B, int C, int S);
void ck_batchnorm_backward_ref(float *dinp, const float *dout,
                               const float *xhat, const double *dgamma,
                               const double *dbeta, const float *gamma,
                               const float *invstd, long long N, int B, int C,
                               int S);

/* ---- principal components (principal_components.c, on LAPACKE) ----------- */

/* Floats of scratch ck_principal_components needs for n rows of d values. */
size_t ck_principal_components_scratch_floats(int n, int d);
/* The k leading principal components of x (n rows of d, n >= 2, 1 <= k <= d):
 * components (k, d) unit vectors, largest variance first, each with its
 * largest entry positive; variances (k) their sample variances; mean (d).
 * Returns 0, or LAPACK's info when the eigensolver fails. */
int ck_principal_components(float *components, float *variances, float *mean, float *scratch,
                            const float *restrict x, int n, int d, int k);

#ifdef __cplusplus
}
#endif

#endif /* CKERNELS_H */

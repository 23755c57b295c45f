/*
 * layers.c: the layer kernels, built on ck_sgemm_layer and the vector variants.
 *
 * Convolution is im2col + GEMM, one image at a time, into a caller-owned
 * workspace (as darknet does); its backward recomputes the columns rather
 * than keep B copies of them.  A fully connected layer is one GEMM each
 * way.  The forward products of both may instead go through the
 * variant's packed-panel kernel, and a shallow conv layer's forward
 * product and weight gradient through the variant's direct kernels, which
 * read the image without im2col (see ck_forward_path).  Max-pool saves
 * argmax indices so that its backward is a scatter.  No kernel allocates:
 * the im2col columns, packed panels and GEMM packing all live in scratch
 * the caller sized with ck_conv2d_workspace_floats or
 * ck_linear_scratch_floats.
 */
#include "ckernels.h"
#include "variants.h"

#include <math.h>
#include <string.h>

/* Scratch is carved into parts that start 64 bytes apart. */
static size_t round_up16(size_t floats) { return (floats + 15) & ~(size_t)15; }
static size_t larger(size_t a, size_t b) { return a > b ? a : b; }

/* Output extents along one axis: windows of `kernel` every `stride` over
 * `size` pixels (plus the padding); none when the first does not fit. */
static int window_count(int size, int kernel, int stride) { return size < kernel ? 0 : (size - kernel) / stride + 1; }
static int conv_extent(int size, int kernel, int pad, int stride) { return window_count(size + 2 * pad, kernel, stride); }

/* The workspace of a conv layer: one image's im2col columns, then room for
 * whichever the step needs, the packed weights of the packed forward
 * product or the GEMM's packing (forward, and both backward products). */
size_t ck_conv2d_workspace_floats_ex(int C, int H, int W, int OC, int KH, int KW, int pad, int stride) {
    int OH = conv_extent(H, KH, pad, stride), OW = conv_extent(W, KW, pad, stride);
    int ckk = C * KH * KW, pixels = OH * OW;
    size_t forward = larger(ck_any_variant_packed_panel_floats(OC, ckk), ck_sgemm_scratch_floats(OC, pixels, ckk));
    size_t backward = larger(ck_sgemm_scratch_floats(OC, ckk, pixels), ck_sgemm_scratch_floats(ckk, pixels, OC));
    size_t im2col_path = round_up16((size_t)ckk * pixels) + larger(forward, backward);
    if (stride != 1) return im2col_path;
    return larger(im2col_path, ck_any_variant_direct_conv_floats(C, H, W, OC, KH, KW, pad));
}

size_t ck_conv2d_workspace_floats(int C, int H, int W, int OC, int KH, int KW) {
    return ck_conv2d_workspace_floats_ex(C, H, W, OC, KH, KW, 0, 1);
}

/* The rules ckernels.h gives for ck_forward_path: whether out (M x N) =
 * a (M x K) @ b (K x N) goes through gemm_packed (or ck_sgemm_layer).
 * For a conv layer M is the filter count and the packing is saved once
 * per image; for a dense layer M is the batch, and the packed kernel,
 * which streams b once per panel of a, wins only while there are few. */
static int use_packed_forward(int M, int K, int N, int is_conv) {
    switch (ck_forward_path_current()) {
    case CK_FORWARD_PACKED: return 1;
    case CK_FORWARD_GEMM: return 0;
    case CK_FORWARD_AUTO: default:
        /* against our own GEMM, which packs both operands, it won everywhere */
        if (ck_gemm_backend_current() == CK_GEMM_OWN) return 1;
        if (K < 100 || N < 32) return 0;
        /* OpenBLAS's AVX2 kernels against our AVX-512 one: ours at any batch */
        if (ck_isa_current() == CK_ISA_AVX512 && ck_openblas_is_avx2_only()) return 1;
        return is_conv || M <= 16;
    }
}

/* Whether a conv layer's forward product reads the image directly
 * (direct_conv.h) instead of im2col's columns: see ck_forward_path. */
static int use_direct_forward(int C, int W, int KH, int KW, int pad, int stride) {
    if (stride != 1) return 0;
    switch (ck_forward_path_current()) {
    case CK_FORWARD_DIRECT: return 1;
    case CK_FORWARD_AUTO:
        /* AVX-512, shallow filters wider than a pixel, and at most half
         * the grid's columns dropped */
        return ck_isa_current() == CK_ISA_AVX512 && KH * KW > 1 && C * KH * KW <= CK_DIRECT_MAX_DEPTH &&
               2 * (KW - 1) <= W + 2 * pad;
    default: return 0;
    }
}

/* Whether a conv layer's weight gradient reads the image directly
 * (direct_weight_gradient.h) instead of multiplying im2col's columns: see
 * ck_forward_path.  AUTO: where the forward product is direct, and the
 * GEMM it replaces is our own or OpenBLAS's AVX2 kernels. */
static int use_direct_weight_gradient(int C, int W, int KH, int KW, int pad, int stride) {
    if (stride != 1) return 0;
    switch (ck_forward_path_current()) {
    case CK_FORWARD_DIRECT: return 1;
    case CK_FORWARD_AUTO:
        return use_direct_forward(C, W, KH, KW, pad, stride) &&
               (ck_gemm_backend_current() == CK_GEMM_OWN || ck_openblas_is_avx2_only());
    default: return 0;
    }
}

void ck_conv2d_forward_ex(float *out, float *workspace, const float *inp,
                          const float *weight, const float *bias, int B, int C,
                          int H, int W, int OC, int KH, int KW, int pad, int stride) {
    int OH = conv_extent(H, KH, pad, stride), OW = conv_extent(W, KW, pad, stride);
    int ckk = C * KH * KW, pixels = OH * OW;
    const ck_variant_table *variant = ck_active_variant();
    if (use_direct_forward(C, W, KH, KW, pad, stride)) {
        for (int b = 0; b < B; b++)
            variant->conv_direct(out + (size_t)b * OC * pixels, workspace, inp + (size_t)b * C * H * W, weight,
                                 bias, C, H, W, OC, KH, KW, pad);
        return;
    }
    float *cols = workspace, *rest = workspace + round_up16((size_t)ckk * pixels);
    int packed = use_packed_forward(OC, ckk, pixels, 1);
    if (packed) variant->pack_panels(rest, weight, ckk, OC, ckk, 1.0f);
    for (int b = 0; b < B; b++) {
        const float *image = inp + (size_t)b * C * H * W;
        float *result = out + (size_t)b * OC * pixels;
        variant->im2col(cols, image, C, H, W, KH, KW, pad, stride);
        if (packed)
            variant->gemm_packed(result, pixels, rest, cols, pixels, OC, pixels, ckk);
        else
            ck_sgemm_layer(0, 0, OC, pixels, ckk, 1.0f, weight, ckk, cols, pixels, 0.0f, result, pixels, rest);
        if (bias)
            for (int o = 0; o < OC; o++)
                for (int p = 0; p < pixels; p++) result[(size_t)o * pixels + p] += bias[o];
    }
}

void ck_conv2d_forward(float *out, float *workspace, const float *inp,
                       const float *weight, const float *bias, int B, int C,
                       int H, int W, int OC, int KH, int KW) {
    ck_conv2d_forward_ex(out, workspace, inp, weight, bias, B, C, H, W, OC, KH, KW, 0, 1);
}

void ck_conv2d_backward_ex(float *dinp, float *dweight, float *dbias,
                           float *workspace, const float *dout, const float *inp,
                           const float *weight, int B, int C, int H, int W, int OC,
                           int KH, int KW, int pad, int stride) {
    int OH = conv_extent(H, KH, pad, stride), OW = conv_extent(W, KW, pad, stride);
    int ckk = C * KH * KW, pixels = OH * OW;
    const ck_variant_table *variant = ck_active_variant();
    float *cols = workspace, *gemm_scratch = workspace + round_up16((size_t)ckk * pixels);
    int direct = use_direct_weight_gradient(C, W, KH, KW, pad, stride);
    for (int b = 0; b < B; b++) {
        const float *grad = dout + (size_t)b * OC * pixels;
        if (dbias)
            for (int o = 0; o < OC; o++) {
                float sum = 0.0f;
                for (int p = 0; p < pixels; p++) sum += grad[(size_t)o * pixels + p];
                dbias[o] += sum;
            }
        if (direct) {  /* uses the workspace from its start, before the input gradient's columns do */
            variant->conv_weight_gradient_direct(dweight, workspace, inp + (size_t)b * C * H * W, grad, C, H, W,
                                                 OC, KH, KW, pad);
        } else {
            variant->im2col(cols, inp + (size_t)b * C * H * W, C, H, W, KH, KW, pad, stride);
            ck_sgemm_layer(0, 1, OC, ckk, pixels, 1.0f, grad, pixels, cols, pixels, 1.0f, dweight, ckk, gemm_scratch);
        }
        if (dinp) {
            ck_sgemm_layer(1, 0, ckk, pixels, OC, 1.0f, weight, ckk, grad, pixels, 0.0f, cols, pixels, gemm_scratch);
            variant->col2im_accumulate(dinp + (size_t)b * C * H * W, cols, C, H, W, KH, KW, pad, stride);
        }
    }
}

void ck_conv2d_backward(float *dinp, float *dweight, float *dbias,
                        float *workspace, const float *dout, const float *inp,
                        const float *weight, int B, int C, int H, int W, int OC,
                        int KH, int KW) {
    ck_conv2d_backward_ex(dinp, dweight, dbias, workspace, dout, inp, weight, B, C, H, W, OC, KH, KW, 0, 1);
}

void ck_maxpool2d_forward_ex(float *out, int32_t *argmax, const float *inp, int B,
                             int C, int H, int W, int PH, int PW, int SH, int SW) {
    if (PH == 2 && PW == 2 && SH == 2 && SW == 2) {
        ck_active_variant()->maxpool2x2_forward(out, argmax, inp, B, C, H, W);
        return;
    }
    int OH = window_count(H, PH, SH), OW = window_count(W, PW, SW);
    for (int bc = 0; bc < B * C; bc++) {
        const float *plane = inp + (size_t)bc * H * W;
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                int best_index = (y * SH) * W + x * SW;
                float best = plane[best_index];
                for (int dy = 0; dy < PH; dy++)
                    for (int dx = 0; dx < PW; dx++) {
                        int i = (y * SH + dy) * W + x * SW + dx;
                        if (plane[i] > best) {
                            best = plane[i];
                            best_index = i;
                        }
                    }
                size_t o = ((size_t)bc * OH + y) * OW + x;
                out[o] = best;
                if (argmax) argmax[o] = (int32_t)((size_t)bc * H * W + best_index);
            }
    }
}

void ck_maxpool2d_forward(float *out, int32_t *argmax, const float *inp, int B,
                          int C, int H, int W, int PH, int PW) {
    ck_maxpool2d_forward_ex(out, argmax, inp, B, C, H, W, PH, PW, PH, PW);
}

/* A scatter that adds: overlapping windows may share a winner. */
void ck_maxpool2d_backward_ex(float *dinp, const float *dout,
                              const int32_t *argmax, int B, int C, int H, int W,
                              int PH, int PW, int SH, int SW) {
    size_t n = (size_t)B * C * window_count(H, PH, SH) * window_count(W, PW, SW);
    for (size_t o = 0; o < n; o++) dinp[argmax[o]] += dout[o];
}

void ck_maxpool2d_backward(float *dinp, const float *dout,
                           const int32_t *argmax, int B, int C, int H, int W,
                           int PH, int PW) {
    ck_maxpool2d_backward_ex(dinp, dout, argmax, B, C, H, W, PH, PW, PH, PW);
}

void ck_bias_activation_forward(float *out, const float *inp,
                                const float *bias, int B, int C, int S,
                                ck_activation act) {
    ck_active_variant()->bias_activation_forward(out, inp, bias, B, C, S, act);
}

void ck_bias_activation_backward(float *dinp, float *dbias, const float *dout,
                                 const float *out, int B, int C, int S,
                                 ck_activation act) {
    ck_active_variant()->bias_activation_backward(dinp, dbias, dout, out, B, C, S, act);
}

/* Blocks of rows of ck_linear_backward_update_rows: big enough that the
 * GEMM calls' fixed cost is small, small enough that a block's gradient
 * (ROWS x OUT) stays in L1 and that OpenBLAS multiplies it with its
 * small-matrix kernels, which skip packing.  Measured on the seed's 1440
 * of 2880 rows x 100 at mini-batch 10 (bench-kernels): 82 us a call for 48
 * to 96 rows, 105 us for 128 to 512 (when OpenBLAS packs again), 115 us
 * for all 1440 at once. */
enum { FUSED_ROWS = 64 };

/* The fused backward's scratch for blocks of up to `rows` rows: the
 * block's weight gradient (rows x OUT), its input-gradient products
 * (B x rows), then the GEMM's packing. */
static size_t fused_gradient_floats(int rows, int OUT) { return round_up16((size_t)rows * OUT); }
static size_t fused_products_floats(int B, int rows) { return round_up16((size_t)B * rows); }

size_t ck_linear_scratch_floats(int B, int IN, int OUT) {
    size_t forward = larger(ck_any_variant_packed_panel_floats(B, IN), ck_sgemm_scratch_floats(B, OUT, IN));
    size_t backward = larger(ck_sgemm_scratch_floats(IN, OUT, B), ck_sgemm_scratch_floats(B, IN, OUT));
    int rows = IN < FUSED_ROWS ? IN : FUSED_ROWS;
    size_t fused = fused_gradient_floats(rows, OUT) + fused_products_floats(B, rows) +
                   larger(ck_sgemm_scratch_floats(B, rows, OUT), ck_sgemm_scratch_floats(rows, OUT, B));
    return larger(larger(forward, backward), fused);
}

void ck_linear_forward(float *out, float *scratch, const float *inp, const float *weight,
                       float scale, int B, int IN, int OUT) {
    ck_linear_forward_rows(out, scratch, inp, IN, weight, scale, B, IN, OUT);
}

void ck_linear_forward_rows(float *out, float *scratch, const float *inp, int ld_inp,
                            const float *weight, float scale, int B, int K,
                            int OUT) {
    if (B <= 0 || OUT <= 0) return;
    const ck_variant_table *variant = ck_active_variant();
    if (!use_packed_forward(B, K, OUT, 0) || K <= 0) {  /* the GEMM backend's path */
        ck_sgemm_layer(0, 0, B, OUT, K, scale, inp, ld_inp, weight, OUT, 0.0f, out, OUT, scratch);
        return;
    }
    variant->pack_panels(scratch, inp, ld_inp, B, K, scale);
    variant->gemm_packed(out, OUT, scratch, weight, OUT, B, OUT, K);
}

void ck_linear_backward(float *dinp, float *dweight, float *scratch, const float *dout,
                        const float *inp, const float *weight, int B, int IN,
                        int OUT) {
    ck_sgemm_layer(1, 0, IN, OUT, B, 1.0f, inp, IN, dout, OUT, 1.0f, dweight, OUT, scratch);
    if (dinp) ck_sgemm_layer(0, 1, B, IN, OUT, 1.0f, dout, OUT, weight, OUT, 1.0f, dinp, IN, scratch);
}

float ck_softmax_loglik_forward(float *probs, const float *logits,
                                const int32_t *labels, int B, int K) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        float peak = row[0];
        for (int k = 1; k < K; k++) peak = row[k] > peak ? row[k] : peak;
        float denom = 0.0f;
        for (int k = 0; k < K; k++) {
            p[k] = expf(row[k] - peak);
            denom += p[k];
        }
        float inverse = 1.0f / denom;
        for (int k = 0; k < K; k++) p[k] *= inverse;
        if (labels) total += (double)(logf(denom) - (row[labels[b]] - peak));
    }
    return (float)(total / B);
}

void ck_softmax_loglik_backward(float *dlogits, const float *probs,
                                const int32_t *labels, int B, int K) {
    float inverse_batch = 1.0f / (float)B;
    for (int b = 0; b < B; b++) {
        float *d = dlogits + (size_t)b * K;
        const float *p = probs + (size_t)b * K;
        for (int k = 0; k < K; k++) d[k] += p[k] * inverse_batch;
        d[labels[b]] -= inverse_batch;
    }
}

void ck_argmax_rows(int32_t *predicted, const float *x, int B, int K) {
    for (int b = 0; b < B; b++) {
        const float *row = x + (size_t)b * K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (row[k] > row[best]) best = k;
        predicted[b] = best;
    }
}

void ck_sgd_update(float *params, const float *grads, float eta, float l2,
                   float *velocity, float mu, int nesterov, size_t n) {
    ck_active_variant()->sgd_update(params, grads, eta, l2, velocity, mu, nesterov, n);
}

void ck_sgd_update_combined(float *params, const float *const *grads,
                            const float *weights, int count, float eta,
                            float l2, float *velocity, float mu, int nesterov,
                            size_t n) {
    if (count <= 0 || n == 0) return;
    ck_active_variant()->sgd_update_combined(params, grads, weights, count, eta, l2, velocity, mu, nesterov, n);
}

void ck_linear_backward_update_rows(float *dinp, float *weight, float *scratch,
                                    const float *dout, const float *inp,
                                    const float *mask, int B, int IN, int OUT,
                                    int row_begin, int row_end, float eta,
                                    float l2, float *velocity, float mu,
                                    int nesterov) {
    if (row_end <= row_begin || B <= 0 || OUT <= 0) return;
    int rows_max = row_end - row_begin < FUSED_ROWS ? row_end - row_begin : FUSED_ROWS;
    float *gradient = scratch;                                           /* rows x OUT */
    float *products = gradient + fused_gradient_floats(rows_max, OUT);  /* B x rows   */
    float *gemm_scratch = products + fused_products_floats(B, rows_max);
    for (int r0 = row_begin; r0 < row_end; r0 += FUSED_ROWS) {
        int rows = row_end - r0 < FUSED_ROWS ? row_end - r0 : FUSED_ROWS;
        float *w = weight + (size_t)r0 * OUT;
        if (dinp) {
            /* with the old weights: products = dout @ w^T */
            ck_sgemm_layer(0, 1, B, rows, OUT, 1.0f, dout, OUT, w, OUT, 0.0f, products, rows, gemm_scratch);
            for (int b = 0; b < B; b++) {
                float *target = dinp + (size_t)b * IN + r0;
                const float *p = products + (size_t)b * rows;
                if (mask) {
                    const float *keep = mask + (size_t)b * IN + r0;
                    for (int i = 0; i < rows; i++) target[i] += keep[i] * p[i];
                } else {
                    for (int i = 0; i < rows; i++) target[i] += p[i];
                }
            }
        }
        ck_sgemm_layer(1, 0, rows, OUT, B, 1.0f, inp + r0, IN, dout, OUT, 0.0f, gradient, OUT, gemm_scratch);
        ck_sgd_update(w, gradient, eta, l2, velocity ? velocity + (size_t)r0 * OUT : NULL, mu, nesterov,
                      (size_t)rows * OUT);
    }
}

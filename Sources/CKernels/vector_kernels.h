/*
 * vector_kernels.h: the hot kernels, written once and compiled per ISA.
 *
 * This file is included by variant_scalar.c, variant_avx2.c and
 * variant_avx512.c, each of which first defines
 *   CK_VARIANT_TABLE  the name of the ck_variant_table to fill,
 *   CK_VEC            floats per hardware vector (4, 8 or 16),
 *   CK_MR             rows of the GEMM micro-tile,
 * and wraps the inclusion in a `#pragma clang attribute` that gives every
 * function here its target.  The code uses clang/GCC vector extensions and
 * loops the compiler vectorises, so one source yields SSE2, AVX2 and
 * AVX-512 machine code.
 *
 * The GEMM follows the classic Goto/BLIS structure: pack a KC x NC block of
 * B into NR-wide panels and an MC x KC block of A (times alpha) into MR-high
 * panels, then sweep an MR x NR register-tile micro-kernel over them.  The
 * packing buffers are the caller's scratch (sgemm_scratch_floats says how
 * much); nothing here allocates, and nothing calls back into gemm.c.  The
 * activations and their slopes come from activation_math.h, the oracle's
 * header too.
 */
#include "variants.h"
#include "activation_math.h"

#include <string.h>

#define CK_NR (2 * CK_VEC)
#define CK_KC 256
#define CK_MC 96
#define CK_NC 1024

typedef float ck_vf __attribute__((vector_size(CK_VEC * sizeof(float))));

static inline ck_vf vload(const float *p) {
    ck_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vstore(float *p, ck_vf v) { memcpy(p, &v, sizeof v); }

static inline float a_at(const float *a, int lda, int trans, int i, int p) {
    return trans ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
}

/* dst holds ceil(mc/MR) panels, each kc x MR, rows past mc zero. */
static void pack_a(float *restrict dst, const float *a, int lda, int trans,
                   int i0, int mc, int p0, int kc, float alpha) {
    for (int ir = 0; ir < mc; ir += CK_MR) {
        int rows = mc - ir < CK_MR ? mc - ir : CK_MR;
        for (int p = 0; p < kc; p++) {
            for (int r = 0; r < rows; r++)
                dst[r] = alpha * a_at(a, lda, trans, i0 + ir + r, p0 + p);
            for (int r = rows; r < CK_MR; r++) dst[r] = 0.0f;
            dst += CK_MR;
        }
    }
}

/* dst holds ceil(nc/NR) panels, each kc x NR, columns past nc zero. */
static void pack_b(float *restrict dst, const float *b, int ldb, int trans,
                   int p0, int kc, int j0, int nc) {
    for (int jr = 0; jr < nc; jr += CK_NR) {
        int cols = nc - jr < CK_NR ? nc - jr : CK_NR;
        for (int p = 0; p < kc; p++) {
            if (!trans) {
                memcpy(dst, b + (size_t)(p0 + p) * ldb + j0 + jr, (size_t)cols * sizeof(float));
            } else {
                for (int c = 0; c < cols; c++) dst[c] = b[(size_t)(j0 + jr + c) * ldb + p0 + p];
            }
            for (int c = cols; c < CK_NR; c++) dst[c] = 0.0f;
            dst += CK_NR;
        }
    }
}

/* c[0:rows, 0:cols] += (packed a panel) @ (packed b panel). */
static inline void micro_kernel(int kc, const float *restrict ap,
                                const float *restrict bp, float *c, int ldc,
                                int rows, int cols) {
    ck_vf acc[CK_MR][2];
    for (int r = 0; r < CK_MR; r++) acc[r][0] = acc[r][1] = (ck_vf){0};
    for (int p = 0; p < kc; p++) {
        ck_vf b0 = vload(bp), b1 = vload(bp + CK_VEC);
#pragma clang loop unroll(full)
        for (int r = 0; r < CK_MR; r++) {
            ck_vf av = (ck_vf){0} + ap[r];
            acc[r][0] += av * b0;
            acc[r][1] += av * b1;
        }
        ap += CK_MR;
        bp += CK_NR;
    }
    if (rows == CK_MR && cols == CK_NR) {
        for (int r = 0; r < CK_MR; r++) {
            float *row = c + (size_t)r * ldc;
            vstore(row, vload(row) + acc[r][0]);
            vstore(row + CK_VEC, vload(row + CK_VEC) + acc[r][1]);
        }
    } else {
        float tile[CK_MR][CK_NR];
        for (int r = 0; r < CK_MR; r++) {
            vstore(tile[r], acc[r][0]);
            vstore(tile[r] + CK_VEC, acc[r][1]);
        }
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) c[(size_t)r * ldc + j] += tile[r][j];
    }
}

/* Floats of packed A (the first part of the scratch, rounded up to keep
 * packed B 64-byte aligned) for an m x k operand: one MC x KC block at
 * most, in whole MR-row panels. */
static size_t packed_a_floats(int m, int k) {
    size_t mc = (size_t)(m < CK_MC ? m : CK_MC), kc = (size_t)(k < CK_KC ? k : CK_KC);
    return ((mc + CK_MR - 1) / CK_MR * CK_MR * kc + 15) & ~(size_t)15;
}

/* packed A, then one KC x NC block of B in whole NR-column panels. */
static size_t sgemm_scratch_floats(int m, int n, int k) {
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    size_t nc = (size_t)(n < CK_NC ? n : CK_NC), kc = (size_t)(k < CK_KC ? k : CK_KC);
    return packed_a_floats(m, k) + (nc + CK_NR - 1) / CK_NR * CK_NR * kc;
}

static void sgemm_accumulate(int trans_a, int trans_b, int m, int n, int k,
                             float alpha, const float *a, int lda,
                             const float *b, int ldb, float *c, int ldc,
                             float *scratch) {
    float *packed_a = scratch;
    float *packed_b = scratch + packed_a_floats(m, k);
    for (int p0 = 0; p0 < k; p0 += CK_KC) {
        int kc = k - p0 < CK_KC ? k - p0 : CK_KC;
        for (int j0 = 0; j0 < n; j0 += CK_NC) {
            int nc = n - j0 < CK_NC ? n - j0 : CK_NC;
            pack_b(packed_b, b, ldb, trans_b, p0, kc, j0, nc);
            for (int i0 = 0; i0 < m; i0 += CK_MC) {
                int mc = m - i0 < CK_MC ? m - i0 : CK_MC;
                pack_a(packed_a, a, lda, trans_a, i0, mc, p0, kc, alpha);
                for (int jr = 0; jr < nc; jr += CK_NR) {
                    int cols = nc - jr < CK_NR ? nc - jr : CK_NR;
                    const float *bp = packed_b + (size_t)(jr / CK_NR) * kc * CK_NR;
                    for (int ir = 0; ir < mc; ir += CK_MR) {
                        int rows = mc - ir < CK_MR ? mc - ir : CK_MR;
                        const float *ap = packed_a + (size_t)(ir / CK_MR) * kc * CK_MR;
                        micro_kernel(kc, ap, bp, c + (size_t)(i0 + ir) * ldc + j0 + jr, ldc, rows, cols);
                    }
                }
            }
        }
    }
}

#include "padded_columns.h"

/* col (C*KH*KW, OH*OW): row (c,ky,kx) holds the input pixels that meet
 * weight (c,ky,kx) at every output position.  The rows are short (24 and
 * 8 floats at the seed's shapes), so a copy of unknown length per row
 * costs more than the data: the seed's widths get copies of fixed length,
 * which compile to a few vector moves (4x faster at width 8). */
static inline __attribute__((always_inline)) void im2col_of_width(
    float *restrict col, const float *restrict image, int C, int H, int W,
    int KH, int KW, int OW) {
    int OH = H - KH + 1;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                const float *src = image + ((size_t)c * H + ky) * W + kx;
                for (int y = 0; y < OH; y++) {
                    memcpy(col, src + (size_t)y * W, (size_t)OW * sizeof(float));
                    col += OW;
                }
            }
}

/* pad 0 and stride 1 (the seed's layers) take the fixed-width copies. */
static void im2col(float *restrict col, const float *restrict image, int C,
                   int H, int W, int KH, int KW, int pad, int stride) {
    if (pad != 0 || stride != 1) {
        im2col_padded(col, image, C, H, W, KH, KW, pad, stride);
        return;
    }
    switch (W - KW + 1) {
    case 8: im2col_of_width(col, image, C, H, W, KH, KW, 8); break;
    case 24: im2col_of_width(col, image, C, H, W, KH, KW, 24); break;
    default: im2col_of_width(col, image, C, H, W, KH, KW, W - KW + 1); break;
    }
}

/* image (C,H,W) += the columns folded back onto the pixels they came
 * from; fixed widths as in im2col. */
static inline __attribute__((always_inline)) void col2im_of_width(
    float *restrict image, const float *restrict col, int C, int H, int W,
    int KH, int KW, int OW) {
    int OH = H - KH + 1;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                float *dst = image + ((size_t)c * H + ky) * W + kx;
                for (int y = 0; y < OH; y++) {
                    float *row = dst + (size_t)y * W;
                    for (int x = 0; x < OW; x++) row[x] += col[x];
                    col += OW;
                }
            }
}

static void col2im_accumulate(float *restrict image, const float *restrict col,
                              int C, int H, int W, int KH, int KW, int pad, int stride) {
    if (pad != 0 || stride != 1) {
        col2im_padded(image, col, C, H, W, KH, KW, pad, stride);
        return;
    }
    switch (W - KW + 1) {
    case 8: col2im_of_width(image, col, C, H, W, KH, KW, 8); break;
    case 24: col2im_of_width(image, col, C, H, W, KH, KW, 24); break;
    default: col2im_of_width(image, col, C, H, W, KH, KW, W - KW + 1); break;
    }
}

/* The forward products of conv and dense layers as one kernel:
 * out (M x N) = a (M x K) @ b (K x N), where `a` is small and reused (a
 * conv layer's weights across the images of a call, a dense layer's
 * inputs) and `b` is large and read once, row-major as it lies (im2col's
 * columns, a dense layer's weight rows).  `a` is packed once per call into
 * CK_PANEL_MR-row panels (pack_panels), so a general GEMM's per-call
 * packing of `b` is saved.  Each k step loads CK_PANEL_NV vectors of one
 * row of b and broadcasts CK_PANEL_MR values of a; the whole K stays in
 * the accumulators, so out is written once and never read.  The last
 * columns, fewer than a tile, are read with masked loads. */
#ifndef CK_PANEL_MR
#define CK_PANEL_MR CK_MR
#endif
#define CK_PANEL_NV 2
#define CK_PANEL_NR (CK_PANEL_NV * CK_VEC)

/* p[0:n] and zeros, 0 < n < CK_VEC, without reading past p[n-1]. */
static inline ck_vf vload_first(const float *p, int n) {
#if CK_VEC == 16
    return (ck_vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#elif CK_VEC == 8
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return (ck_vf)_mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes));
#else
    float lanes[CK_VEC] = {0};
    for (int i = 0; i < n; i++) lanes[i] = p[i];
    return vload(lanes);
#endif
}

static size_t packed_panel_floats(int M, int K) {
    return (size_t)((M + CK_PANEL_MR - 1) / CK_PANEL_MR) * CK_PANEL_MR * (size_t)K;
}

/* dst: ceil(M/MR) panels, each K x MR, of alpha * a; rows past M zero. */
static void pack_panels(float *restrict dst, const float *restrict a, int lda, int M, int K, float alpha) {
    for (int i0 = 0; i0 < M; i0 += CK_PANEL_MR) {
        int rows = M - i0 < CK_PANEL_MR ? M - i0 : CK_PANEL_MR;
        for (int k = 0; k < K; k++) {
            for (int r = 0; r < rows; r++) dst[r] = alpha * a[(size_t)(i0 + r) * lda + k];
            for (int r = rows; r < CK_PANEL_MR; r++) dst[r] = 0.0f;
            dst += CK_PANEL_MR;
        }
    }
}

/* out[0:rows, 0:width] = panel @ b[:, 0:width], width <= NR: a tile of
 * MR x NV vectors of accumulators.  Always inlined with width == NR as a
 * constant for the full tiles, so their loop has no masks. */
static inline __attribute__((always_inline)) void packed_tile(
    float *out, int ldo, const float *restrict panel, const float *restrict b,
    int ldb, int K, int rows, int width) {
    ck_vf acc[CK_PANEL_MR][CK_PANEL_NV];
#pragma clang loop unroll(full)
    for (int r = 0; r < CK_PANEL_MR; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < CK_PANEL_NV; v++) acc[r][v] = (ck_vf){0};
    for (int k = 0; k < K; k++) {
        const float *row = b + (size_t)k * ldb;
        ck_vf x[CK_PANEL_NV];
#pragma clang loop unroll(full)
        for (int v = 0; v < CK_PANEL_NV; v++) {
            int lanes = width - v * CK_VEC;
            x[v] = lanes >= CK_VEC ? vload(row + v * CK_VEC) : lanes > 0 ? vload_first(row + v * CK_VEC, lanes) : (ck_vf){0};
        }
#pragma clang loop unroll(full)
        for (int r = 0; r < CK_PANEL_MR; r++)
            /* scalar * vector splats with one broadcast; (ck_vf){0} + w
             * would cost an add first, since 0 + -0 is not -0 */
#pragma clang loop unroll(full)
            for (int v = 0; v < CK_PANEL_NV; v++) acc[r][v] += panel[r] * x[v];
        panel += CK_PANEL_MR;
    }
    if (width == CK_PANEL_NR && rows == CK_PANEL_MR) {
#pragma clang loop unroll(full)
        for (int r = 0; r < CK_PANEL_MR; r++)
#pragma clang loop unroll(full)
            for (int v = 0; v < CK_PANEL_NV; v++) vstore(out + (size_t)r * ldo + v * CK_VEC, acc[r][v]);
    } else {
        float tile[CK_PANEL_NR];
        for (int r = 0; r < rows; r++) {
#pragma clang loop unroll(full)
            for (int v = 0; v < CK_PANEL_NV; v++) vstore(tile + v * CK_VEC, acc[r][v]);
            memcpy(out + (size_t)r * ldo, tile, (size_t)width * sizeof(float));
        }
    }
}

/* out (M x N, rows ldo apart) = the packed a (M x K) @ b (K x N, rows ldb apart). */
static void gemm_packed(float *restrict out, int ldo, const float *restrict packed,
                        const float *restrict b, int ldb, int M, int N, int K) {
    size_t panel_floats = (size_t)CK_PANEL_MR * K;
    /* columns outer: one tile-wide strip of b stays in cache across the panels */
    for (int j = 0; j < N; j += CK_PANEL_NR) {
        int width = N - j < CK_PANEL_NR ? N - j : CK_PANEL_NR;
        for (int i0 = 0; i0 < M; i0 += CK_PANEL_MR) {
            int rows = M - i0 < CK_PANEL_MR ? M - i0 : CK_PANEL_MR;
            float *tile_out = out + (size_t)i0 * ldo + j;
            const float *panel = packed + (size_t)(i0 / CK_PANEL_MR) * panel_floats;
            if (width == CK_PANEL_NR)  /* a constant width: no masks in the loop */
                packed_tile(tile_out, ldo, panel, b + j, ldb, K, rows, CK_PANEL_NR);
            else
                packed_tile(tile_out, ldo, panel, b + j, ldb, K, rows, width);
        }
    }
}

/* out = F(inp + bias[channel]).  Written once for distinct buffers and
 * once in place: with both pointers the compiler must guard against
 * overlap, and an exact alias fails that guard into scalar code. */
#define CK_DEFINE_APPLY(NAME, F)                                               \
    static void NAME##_apart(float *restrict out, const float *restrict inp,  \
                             const float *restrict bias, int B, int C, int S) { \
        if (S == 1) {                                                          \
            for (int bi = 0; bi < B; bi++)                                     \
                for (int c = 0; c < C; c++)                                    \
                    out[(size_t)bi * C + c] = F(inp[(size_t)bi * C + c] + (bias ? bias[c] : 0.0f)); \
        } else {                                                               \
            for (int bc = 0; bc < B * C; bc++) {                               \
                float shift = bias ? bias[bc % C] : 0.0f;                      \
                for (int s = 0; s < S; s++)                                    \
                    out[(size_t)bc * S + s] = F(inp[(size_t)bc * S + s] + shift); \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    static void NAME##_in_place(float *restrict io, const float *restrict bias, \
                                int B, int C, int S) {                         \
        if (S == 1) {                                                          \
            for (int bi = 0; bi < B; bi++)                                     \
                for (int c = 0; c < C; c++)                                    \
                    io[(size_t)bi * C + c] = F(io[(size_t)bi * C + c] + (bias ? bias[c] : 0.0f)); \
        } else {                                                               \
            for (int bc = 0; bc < B * C; bc++) {                               \
                float shift = bias ? bias[bc % C] : 0.0f;                      \
                for (int s = 0; s < S; s++)                                    \
                    io[(size_t)bc * S + s] = F(io[(size_t)bc * S + s] + shift); \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    static void NAME(float *out, const float *inp, const float *bias, int B,   \
                     int C, int S) {                                           \
        if (out == inp) NAME##_in_place(out, bias, B, C, S);                   \
        else NAME##_apart(out, inp, bias, B, C, S);                            \
    }

CK_DEFINE_APPLY(apply_sigmoid, ck_fast_sigmoid)
CK_DEFINE_APPLY(apply_tanh, ck_fast_tanh)
CK_DEFINE_APPLY(apply_relu, ck_relu)
CK_DEFINE_APPLY(apply_linear, ck_identity)

static void bias_activation_forward(float *out, const float *inp,
                                    const float *bias, int B, int C, int S,
                                    ck_activation act) {
    switch (act) {
    case CK_ACT_SIGMOID: apply_sigmoid(out, inp, bias, B, C, S); break;
    case CK_ACT_TANH: apply_tanh(out, inp, bias, B, C, S); break;
    case CK_ACT_RELU: apply_relu(out, inp, bias, B, C, S); break;
    case CK_ACT_LINEAR: default: apply_linear(out, inp, bias, B, C, S); break;
    }
}

#define CK_SLOPE_LOOPS(SLOPE)                                                  \
    if (S == 1) {                                                              \
        for (int bi = 0; bi < B; bi++) {                                       \
            const float *restrict g = dout + (size_t)bi * C;                   \
            const float *restrict y = out + (size_t)bi * C;                    \
            (void)y;                                                           \
            if (dinp) {                                                        \
                float *restrict d = dinp + (size_t)bi * C;                     \
                for (int c = 0; c < C; c++) d[c] += g[c] * (SLOPE);            \
            }                                                                  \
            if (dbias) {                                                       \
                float *restrict sums = dbias;                                  \
                for (int c = 0; c < C; c++) sums[c] += g[c] * (SLOPE);         \
            }                                                                  \
        }                                                                      \
    } else {                                                                   \
        for (int bc = 0; bc < B * C; bc++) {                                   \
            const float *g = dout + (size_t)bc * S, *y = out + (size_t)bc * S; \
            (void)y;                                                           \
            float *d = dinp ? dinp + (size_t)bc * S : NULL;                    \
            float sum = 0.0f;                                                  \
            for (int c = 0; c < S; c++) {                                      \
                float v = g[c] * (SLOPE);                                      \
                if (d) d[c] += v;                                              \
                sum += v;                                                      \
            }                                                                  \
            if (dbias) dbias[bc % C] += sum;                                   \
        }                                                                      \
    }

static void bias_activation_backward(float *dinp, float *dbias,
                                     const float *dout, const float *out,
                                     int B, int C, int S, ck_activation act) {
#pragma clang fp reassociate(on)
    switch (act) {
    case CK_ACT_SIGMOID: CK_SLOPE_LOOPS(CK_SIGMOID_SLOPE(y[c])) break;
    case CK_ACT_TANH: CK_SLOPE_LOOPS(CK_TANH_SLOPE(y[c])) break;
    case CK_ACT_RELU: CK_SLOPE_LOOPS(CK_RELU_SLOPE(y[c])) break;
    case CK_ACT_LINEAR: default: CK_SLOPE_LOOPS(1.0f) break;
    }
}

/* 2x2 max-pool, the seed's shape: out and argmax as ck_maxpool2d_forward,
 * ties to the first maximum in row-major window order, one output row at a
 * time.  argmax may be NULL. */
static void maxpool2x2_by_rows(float *restrict out, int32_t *restrict argmax,
                               const float *restrict inp, int B, int C, int H,
                               int W) {
    int OH = H / 2, OW = W / 2;
    for (int bc = 0; bc < B * C; bc++) {
        const float *plane = inp + (size_t)bc * H * W;
        int32_t plane_start = (int32_t)((size_t)bc * H * W);
        for (int y = 0; y < OH; y++) {
            const float *top = plane + (size_t)(2 * y) * W, *bottom = top + W;
            float *o = out + ((size_t)bc * OH + y) * OW;
            int32_t row_start = plane_start + 2 * y * W;
            for (int x = 0; x < OW; x++) {
                float best = top[2 * x];
                int32_t index = row_start + 2 * x;
                if (top[2 * x + 1] > best) { best = top[2 * x + 1]; index = row_start + 2 * x + 1; }
                if (bottom[2 * x] > best) { best = bottom[2 * x]; index = row_start + W + 2 * x; }
                if (bottom[2 * x + 1] > best) { best = bottom[2 * x + 1]; index = row_start + W + 2 * x + 1; }
                o[x] = best;
                if (argmax) argmax[((size_t)bc * OH + y) * OW + x] = index;
            }
        }
    }
}

/* Without argmax (evaluation), and with H and W even, the input is a run
 * of row pairs, pooled in blocks by two passes: the larger of each
 * top/bottom pair into `column`, then the larger of each left/right pair
 * of those, one long loop over consecutive outputs.  The rows are short
 * (24 and 8 floats at the seed's shapes), so this vectorises where a loop
 * per output row hardly does (4x faster at the seed's first pool). */
enum { POOL_BLOCK = 2048 };

static inline __attribute__((always_inline)) void maxpool2x2_row_pairs(
    float *restrict out, const float *restrict inp, size_t pairs, int W) {
    float column[POOL_BLOCK];
    size_t pairs_per_block = POOL_BLOCK / (size_t)W;
    for (size_t first = 0; first < pairs; first += pairs_per_block) {
        size_t count = pairs - first < pairs_per_block ? pairs - first : pairs_per_block;
        /* along each row, not across rows (which takes gathers and scatters) */
#pragma clang loop vectorize(disable)
        for (size_t r = 0; r < count; r++) {
            const float *top = inp + 2 * (first + r) * (size_t)W, *bottom = top + W;
            float *c = column + r * W;
            for (int x = 0; x < W; x++) c[x] = bottom[x] > top[x] ? bottom[x] : top[x];
        }
        float *o = out + first * (size_t)W / 2;
        for (size_t i = 0; i < count * (size_t)W / 2; i++)
            o[i] = column[2 * i + 1] > column[2 * i] ? column[2 * i + 1] : column[2 * i];
    }
}

static void maxpool2x2_forward(float *restrict out, int32_t *restrict argmax,
                               const float *restrict inp, int B, int C, int H,
                               int W) {
    if (argmax != NULL || H % 2 != 0 || W % 2 != 0 || W > POOL_BLOCK) {
        maxpool2x2_by_rows(out, argmax, inp, B, C, H, W);
        return;
    }
    size_t pairs = (size_t)B * C * (H / 2);
    switch (W) {  /* the seed's widths as constants, so the first pass unrolls */
    case 24: maxpool2x2_row_pairs(out, inp, pairs, 24); break;
    case 8: maxpool2x2_row_pairs(out, inp, pairs, 8); break;
    default: maxpool2x2_row_pairs(out, inp, pairs, W); break;
    }
}

/* A 32-bit integer hash (Wellons' lowbias32), for counter-based dropout
 * masks: mask[i] depends only on the call's key and i, so the loop
 * vectorises and every ISA draws the same mask. */
static inline uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static void dropout_mask(float *restrict mask, uint64_t key, uint32_t first,
                         uint32_t threshold, int n) {
    uint32_t key_low = (uint32_t)key, key_high = (uint32_t)(key >> 32);
    for (int i = 0; i < n; i++) {
        uint32_t bits = mix32(mix32((first + (uint32_t)i) ^ key_low) + key_high);
        mask[i] = bits >= threshold ? 1.0f : 0.0f;
    }
}

/* The update rule of ck_sgd_update; plain SGD keeps the seed's exact expression. */
static inline void apply_update(float *restrict params, const float *restrict grads,
                                float eta, float l2, float *restrict velocity,
                                float mu, int nesterov, size_t n) {
    if (velocity == NULL) {
        for (size_t i = 0; i < n; i++) params[i] -= eta * (grads[i] + l2 * params[i]);
    } else if (nesterov) {
        for (size_t i = 0; i < n; i++) {
            float d = grads[i] + l2 * params[i];
            float v = mu * velocity[i] + d;
            velocity[i] = v;
            params[i] -= eta * (d + mu * v);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float v = mu * velocity[i] + (grads[i] + l2 * params[i]);
            velocity[i] = v;
            params[i] -= eta * v;
        }
    }
}

static void sgd_update(float *restrict params, const float *restrict grads,
                       float eta, float l2, float *velocity, float mu,
                       int nesterov, size_t n) {
    apply_update(params, grads, eta, l2, velocity, mu, nesterov, n);
}

static void sgd_update_combined(float *restrict params,
                                const float *const *grads,
                                const float *weights, int count, float eta,
                                float l2, float *velocity, float mu,
                                int nesterov, size_t n) {
    /* in blocks, so the partial sums stay in L1 between the passes */
    enum { BLOCK = 1024 };
    float sum[BLOCK];
    for (size_t start = 0; start < n; start += BLOCK) {
        size_t len = n - start < BLOCK ? n - start : BLOCK;
        const float *restrict g0 = grads[0] + start;
        for (size_t i = 0; i < len; i++) sum[i] = weights[0] * g0[i];
        for (int t = 1; t < count; t++) {
            const float *restrict g = grads[t] + start;
            float w = weights[t];
            for (size_t i = 0; i < len; i++) sum[i] += w * g[i];
        }
        apply_update(params + start, sum, eta, l2, velocity ? velocity + start : NULL, mu, nesterov, len);
    }
}

#include "direct_conv.h"
#include "direct_weight_gradient.h"

/* Scratch of the direct paths: the larger of the forward product's and
 * the weight gradient's. */
static size_t direct_scratch_floats(int C, int H, int W, int OC, int KH, int KW, int pad) {
    size_t forward = direct_conv_floats(C, H, W, OC, KH, KW, pad);
    size_t backward = direct_weight_gradient_floats(C, H, W, OC, KH, KW, pad);
    return forward > backward ? forward : backward;
}

const ck_variant_table CK_VARIANT_TABLE = {
    .sgemm_scratch_floats = sgemm_scratch_floats,
    .sgemm_accumulate = sgemm_accumulate,
    .bias_activation_forward = bias_activation_forward,
    .bias_activation_backward = bias_activation_backward,
    .sgd_update = sgd_update,
    .maxpool2x2_forward = maxpool2x2_forward,
    .dropout_mask = dropout_mask,
    .sgd_update_combined = sgd_update_combined,
    .packed_panel_floats = packed_panel_floats,
    .pack_panels = pack_panels,
    .gemm_packed = gemm_packed,
    .im2col = im2col,
    .col2im_accumulate = col2im_accumulate,
    .direct_conv_floats = direct_scratch_floats,
    .conv_direct = conv_direct,
    .conv_weight_gradient_direct = conv_weight_gradient_direct,
    .batchnorm_stats_partial = batchnorm_stats_partial,
    .batchnorm_forward = batchnorm_forward,
    .batchnorm_backward_partial = batchnorm_backward_partial,
    .batchnorm_backward = batchnorm_backward,
};

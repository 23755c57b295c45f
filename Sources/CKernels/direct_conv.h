/*
 * direct_conv.h: a conv layer's forward product without im2col, for
 * layers whose filters are shallow (C * KH * KW small: a first layer on
 * grey or colour images), compiled per ISA inside vector_kernels.h.
 *
 * im2col copies every input pixel KH * KW times into columns that the
 * product then reads once; with a 25-deep filter that copy costs about as
 * much as the products.  Here the product reads the image itself.  The
 * image is first copied (zero-padded by `pad`) into scratch, PH x PW per
 * channel; an output pixel (y, x) is then computed at position
 * q = y * PW + x of a row-major PH x PW grid, where the input pixel under
 * filter tap (c, ky, kx) is at c * PH * PW + q + ky * PW + kx.  So CK_VEC
 * consecutive positions read CK_VEC consecutive floats for every tap: a
 * plain vector load.  The positions with x >= OW wrap into the next row
 * and are computed but dropped (PW - OW of every PW).  A tile holds
 * CK_DIRECT_G filters x CK_DIRECT_P vectors of positions in registers and
 * runs the taps in im2col's row order (c, then ky, then kx), one
 * multiply-add each, from zero: the same operations in the same order as
 * gemm_packed on the im2col columns, so both paths give the same bits.
 */

#ifndef CK_DIRECT_G
#define CK_DIRECT_G 4
#endif
#ifndef CK_DIRECT_P
#define CK_DIRECT_P 2
#endif
#define CK_DIRECT_SPAN (CK_DIRECT_P * CK_VEC)

/* The grid of one image: padded planes PH x PW, OH x OW outputs, computed
 * in `blocks` spans of CK_DIRECT_SPAN positions. */
typedef struct {
    int PH, PW, OH, OW, blocks;
} direct_grid;

static direct_grid direct_grid_of(int H, int W, int KH, int KW, int pad) {
    direct_grid g;
    g.PH = H + 2 * pad;
    g.PW = W + 2 * pad;
    g.OH = g.PH - KH + 1;
    g.OW = g.PW - KW + 1;
    int positions = (g.OH - 1) * g.PW + g.OW; /* through the last output pixel */
    g.blocks = (positions + CK_DIRECT_SPAN - 1) / CK_DIRECT_SPAN;
    return g;
}

/* Scratch floats: the padded image (plus the last span's overrun, which
 * reads zeros), then OC rows of blocks * SPAN results. */
static size_t direct_conv_floats(int C, int H, int W, int OC, int KH, int KW, int pad) {
    direct_grid g = direct_grid_of(H, W, KH, KW, pad);
    size_t image = (size_t)C * g.PH * g.PW + CK_DIRECT_SPAN;
    return ((image + 15) & ~(size_t)15) + (size_t)OC * g.blocks * CK_DIRECT_SPAN;
}

/* padded (C planes of `plane` floats, rows PW apart) = image (C, H, W)
 * with `pad` zeros around it. */
static void direct_pad_image(float *restrict padded, const float *restrict image, int C, int H, int W, int pad,
                             int PW, size_t plane) {
    if (pad == 0) {
        memcpy(padded, image, (size_t)C * plane * sizeof(float));
        return;
    }
    memset(padded, 0, (size_t)C * plane * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            memcpy(padded + c * plane + (size_t)(y + pad) * PW + pad, image + ((size_t)c * H + y) * W,
                   (size_t)W * sizeof(float));
}

/* out[r][0:SPAN] = the filters weight[r] (rows ckk apart) over the SPAN
 * positions from `base`, for r < rows (<= G).  Always inlined with rows ==
 * G as a constant for the full groups, so their loop has no tests. */
static inline __attribute__((always_inline)) void direct_tile(
    float *restrict out, size_t ldo, const float *restrict base, size_t plane, int PW,
    const float *restrict weight, int ckk, int C, int KH, int KW, int rows) {
    ck_vf acc[CK_DIRECT_G][CK_DIRECT_P];
#pragma clang loop unroll(full)
    for (int r = 0; r < CK_DIRECT_G; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < CK_DIRECT_P; v++) acc[r][v] = (ck_vf){0};
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++) {
            const float *row = base + (size_t)c * plane + (size_t)ky * PW;
            const float *taps = weight + (size_t)(c * KH + ky) * KW;
            for (int kx = 0; kx < KW; kx++) {
                ck_vf x[CK_DIRECT_P];
#pragma clang loop unroll(full)
                for (int v = 0; v < CK_DIRECT_P; v++) x[v] = vload(row + kx + v * CK_VEC);
#pragma clang loop unroll(full)
                for (int r = 0; r < CK_DIRECT_G; r++) {
                    if (r < rows) {  // a test, not a break: a loop with a break cannot fully unroll
                        float w = taps[(size_t)r * ckk + kx];
#pragma clang loop unroll(full)
                        for (int v = 0; v < CK_DIRECT_P; v++) acc[r][v] += w * x[v];
                    }
                }
            }
        }
#pragma clang loop unroll(full)
    for (int r = 0; r < CK_DIRECT_G; r++) {
        if (r >= rows) break;
#pragma clang loop unroll(full)
        for (int v = 0; v < CK_DIRECT_P; v++) vstore(out + (size_t)r * ldo + v * CK_VEC, acc[r][v]);
    }
}

/* out (OC, OH, OW) = weight (OC, C, KH, KW) over one image (C, H, W),
 * zero-padded by pad, stride 1, then + bias (OC) unless it is NULL.
 * scratch: direct_conv_floats. */
static void conv_direct(float *restrict out, float *restrict scratch, const float *restrict image,
                        const float *restrict weight, const float *restrict bias, int C, int H, int W,
                        int OC, int KH, int KW, int pad) {
    direct_grid g = direct_grid_of(H, W, KH, KW, pad);
    size_t plane = (size_t)g.PH * g.PW, image_floats = (size_t)C * plane + CK_DIRECT_SPAN;
    float *padded = scratch, *results = scratch + ((image_floats + 15) & ~(size_t)15);
    direct_pad_image(padded, image, C, H, W, pad, g.PW, plane);
    memset(padded + (size_t)C * plane, 0, CK_DIRECT_SPAN * sizeof(float));

    int ckk = C * KH * KW;
    size_t ldr = (size_t)g.blocks * CK_DIRECT_SPAN;
    /* spans outer: a span's input rows stay in L1 across the filter groups */
    for (int b = 0; b < g.blocks; b++) {
        const float *base = padded + (size_t)b * CK_DIRECT_SPAN;
        for (int o = 0; o < OC; o += CK_DIRECT_G) {
            float *tile = results + (size_t)o * ldr + (size_t)b * CK_DIRECT_SPAN;
            const float *filters = weight + (size_t)o * ckk;
            if (OC - o >= CK_DIRECT_G)
                direct_tile(tile, ldr, base, plane, g.PW, filters, ckk, C, KH, KW, CK_DIRECT_G);
            else
                direct_tile(tile, ldr, base, plane, g.PW, filters, ckk, C, KH, KW, OC - o);
        }
    }
    /* the grid's rows without their dropped columns, plus the bias (after
     * the sum, as the im2col path adds it); a loop, not memcpy, since the
     * rows are short */
    for (int o = 0; o < OC; o++) {
        float shift = bias ? bias[o] : 0.0f;
        for (int y = 0; y < g.OH; y++) {
            float *restrict dst = out + ((size_t)o * g.OH + y) * g.OW;
            const float *restrict src = results + (size_t)o * ldr + (size_t)y * g.PW;
            if (bias)
                for (int x = 0; x < g.OW; x++) dst[x] = src[x] + shift;
            else
                for (int x = 0; x < g.OW; x++) dst[x] = src[x];
        }
    }
}

/*
 * direct_weight_gradient.h: a conv layer's weight gradient without im2col,
 * for the shallow filters direct_conv.h serves, compiled per ISA inside
 * vector_kernels.h after it.
 *
 * The weight gradient of one image is dweight[o][tap] += the sum over
 * output pixels p of grad[o][p] * (the input pixel under tap at p): a dot
 * product for every (filter, tap) pair.  Through im2col it is a GEMM of a
 * 20 x 576 by a 576 x 25 matrix at the seed's first layer, a shape where a
 * general GEMM packs both operands for a few hundred multiply-adds each.
 * Here both operands are read in place, on direct_conv.h's grid: the
 * zero-padded image, PH x PW a channel, and the output gradient spread onto
 * the same grid (row y of filter o at y * PW, zeros in the PW - OW columns
 * that fall past the output's edge).  At grid position q, tap (c, ky, kx)
 * meets the pixel at c * PH * PW + q + ky * PW + kx, so a vector of
 * consecutive positions is a plain load from the image for every tap, and
 * the dropped columns add exact zeros.  A tile of CK_WGRAD_G filters x
 * CK_WGRAD_T taps keeps one vector accumulator per pair across the grid,
 * then reduces each to one float (a fixed tree of lanes) and adds it to
 * dweight.  The sum's order differs from a GEMM's, so the bits do too:
 * the oracle tests hold it to float32 rounding of the sum.
 */

#ifndef CK_WGRAD_G
#define CK_WGRAD_G 2
#endif
#ifndef CK_WGRAD_T
#define CK_WGRAD_T 5
#endif

/* Positions of the grid through the last output pixel, rounded up to
 * whole vectors (the spread gradient is zero past the last one). */
static int wgrad_positions(int PW, int OH, int OW) {
    int positions = (OH - 1) * PW + OW;
    return (positions + CK_VEC - 1) / CK_VEC * CK_VEC;
}

/* Scratch floats: the padded image plus one vector of zeros (the last
 * vector of positions reads up to CK_VEC - 1 floats past the image), then
 * OC rows of spread gradient. */
static size_t direct_weight_gradient_floats(int C, int H, int W, int OC, int KH, int KW, int pad) {
    int PH = H + 2 * pad, PW = W + 2 * pad, OH = PH - KH + 1, OW = PW - KW + 1;
    size_t image = (size_t)C * PH * PW + CK_VEC;
    return ((image + 15) & ~(size_t)15) + (size_t)OC * wgrad_positions(PW, OH, OW);
}

/* The lanes of v summed as a fixed tree (pairs CK_VEC / 2 apart first). */
static inline float wgrad_lane_sum(ck_vf v) {
    float lanes[CK_VEC];
    vstore(lanes, v);
    for (int half = CK_VEC / 2; half >= 1; half /= 2)
        for (int i = 0; i < half; i++) lanes[i] += lanes[i + half];
    return lanes[0];
}

/* dweight[r][t] += spread row r . the image at tap t's offset, for r <
 * rows (<= G) and t < taps (<= T).  Always inlined with constant rows and
 * taps for the full tiles, so their loops carry no tests. */
static inline __attribute__((always_inline)) void wgrad_tile(
    float *restrict dweight, int ckk, const float *restrict spread, int positions,
    const float *restrict padded, const size_t *restrict offsets, int rows, int taps) {
    ck_vf acc[CK_WGRAD_G][CK_WGRAD_T];
#pragma clang loop unroll(full)
    for (int r = 0; r < CK_WGRAD_G; r++)
#pragma clang loop unroll(full)
        for (int t = 0; t < CK_WGRAD_T; t++) acc[r][t] = (ck_vf){0};
    for (int q = 0; q < positions; q += CK_VEC) {
        ck_vf g[CK_WGRAD_G];
#pragma clang loop unroll(full)
        for (int r = 0; r < CK_WGRAD_G; r++)
            if (r < rows) g[r] = vload(spread + (size_t)r * positions + q);
#pragma clang loop unroll(full)
        for (int t = 0; t < CK_WGRAD_T; t++) {
            if (t < taps) {
                ck_vf x = vload(padded + offsets[t] + q);
#pragma clang loop unroll(full)
                for (int r = 0; r < CK_WGRAD_G; r++)
                    if (r < rows) acc[r][t] += g[r] * x;
            }
        }
    }
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < taps; t++) dweight[(size_t)r * ckk + t] += wgrad_lane_sum(acc[r][t]);
}

/* dweight (OC, C, KH, KW) += the weight gradient of one image (C, H, W),
 * zero-padded by pad, stride 1, for its output gradient grad (OC, OH, OW).
 * scratch: direct_weight_gradient_floats. */
static void conv_weight_gradient_direct(float *restrict dweight, float *restrict scratch,
                                        const float *restrict image, const float *restrict grad, int C,
                                        int H, int W, int OC, int KH, int KW, int pad) {
    int PH = H + 2 * pad, PW = W + 2 * pad, OH = PH - KH + 1, OW = PW - KW + 1;
    int positions = wgrad_positions(PW, OH, OW);
    size_t plane = (size_t)PH * PW, image_floats = (size_t)C * plane + CK_VEC;
    float *padded = scratch, *spread = scratch + ((image_floats + 15) & ~(size_t)15);
    direct_pad_image(padded, image, C, H, W, pad, PW, plane);
    memset(padded + (size_t)C * plane, 0, CK_VEC * sizeof(float));
    for (int o = 0; o < OC; o++) {
        float *row = spread + (size_t)o * positions;
        memset(row, 0, (size_t)positions * sizeof(float));
        for (int y = 0; y < OH; y++)
            memcpy(row + (size_t)y * PW, grad + ((size_t)o * OH + y) * OW, (size_t)OW * sizeof(float));
    }

    int ckk = C * KH * KW;
    for (int t0 = 0; t0 < ckk; t0 += CK_WGRAD_T) {
        int taps = ckk - t0 < CK_WGRAD_T ? ckk - t0 : CK_WGRAD_T;
        size_t offsets[CK_WGRAD_T];
        for (int t = 0; t < taps; t++) {
            int tap = t0 + t, c = tap / (KH * KW), ky = tap / KW % KH, kx = tap % KW;
            offsets[t] = (size_t)c * plane + (size_t)ky * PW + kx;
        }
        for (int o = 0; o < OC; o += CK_WGRAD_G) {
            float *target = dweight + (size_t)o * ckk + t0;
            const float *rows_of = spread + (size_t)o * positions;
            if (OC - o >= CK_WGRAD_G && taps == CK_WGRAD_T)
                wgrad_tile(target, ckk, rows_of, positions, padded, offsets, CK_WGRAD_G, CK_WGRAD_T);
            else
                wgrad_tile(target, ckk, rows_of, positions, padded, offsets,
                           OC - o < CK_WGRAD_G ? OC - o : CK_WGRAD_G, taps);
        }
    }
}

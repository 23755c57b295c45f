// padded_columns.h: im2col and its adjoint for convolutions with zero
// padding or a stride, included by vector_kernels.h.
//
// The seed's layers (pad 0, stride 1) take vector_kernels.h's fixed-width
// copies; everything else comes here.  These are plain loops, the same in
// every ISA variant: an output position that falls in the padding reads 0,
// and in the adjoint its gradient is dropped.  A row with stride 1 is one
// memcpy.

#ifndef CK_PADDED_COLUMNS_H
#define CK_PADDED_COLUMNS_H

#include <string.h>

/* [x_begin, x_end): the output columns whose input column x*stride - pad + kx
 * lies inside an image row of W; the others read (or receive) padding. */
static inline void inside_columns(int *x_begin, int *x_end, int OW, int W, int kx, int pad, int stride) {
    int begin = 0, end = OW;
    while (begin < OW && begin * stride - pad + kx < 0) begin++;
    while (end > begin && (end - 1) * stride - pad + kx >= W) end--;
    *x_begin = begin;
    *x_end = end;
}

/* The general case, zero padding `pad` and stride `stride`: entries that
 * fall in the padding are 0.  Output row y of filter row ky reads input
 * row y*stride - pad + ky; along it, column x reads x*stride - pad + kx,
 * so [x_begin, x_end) below are the x that land inside the image. */
static void im2col_padded(float *restrict col, const float *restrict image, int C, int H, int W,
                          int KH, int KW, int pad, int stride) {
    int OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                int x_begin, x_end;
                inside_columns(&x_begin, &x_end, OW, W, kx, pad, stride);
                for (int y = 0; y < OH; y++, col += OW) {
                    int iy = y * stride - pad + ky;
                    if (iy < 0 || iy >= H) {
                        memset(col, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    const float *row = image + ((size_t)c * H + iy) * W;
                    int shift = kx - pad;
                    for (int x = 0; x < x_begin; x++) col[x] = 0.0f;
                    if (stride == 1)
                        memcpy(col + x_begin, row + x_begin + shift, (size_t)(x_end - x_begin) * sizeof(float));
                    else
                        for (int x = x_begin; x < x_end; x++) col[x] = row[x * stride + shift];
                    for (int x = x_end; x < OW; x++) col[x] = 0.0f;
                }
            }
}

/* The adjoint of im2col_padded: entries that came from the padding are
 * dropped, the rest added back onto their pixels. */
static void col2im_padded(float *restrict image, const float *restrict col, int C, int H, int W,
                          int KH, int KW, int pad, int stride) {
    int OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < KH; ky++)
            for (int kx = 0; kx < KW; kx++) {
                int x_begin, x_end;
                inside_columns(&x_begin, &x_end, OW, W, kx, pad, stride);
                for (int y = 0; y < OH; y++, col += OW) {
                    int iy = y * stride - pad + ky;
                    if (iy < 0 || iy >= H) continue;
                    float *row = image + ((size_t)c * H + iy) * W;
                    int shift = kx - pad;
                    for (int x = x_begin; x < x_end; x++) row[x * stride + shift] += col[x];
                }
            }
}

#endif /* CK_PADDED_COLUMNS_H */

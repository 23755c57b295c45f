/* augmentation.c: random distortions of training images, for --augment.
 *
 * Each training sample can be drawn moved by a fraction of a pixel,
 * rotated by a few degrees and elastically distorted (Simard, Steinkraus
 * and Platt 2003: a random displacement field, smoothed by a Gaussian of
 * width sigma and scaled by alpha).  Everything random comes from one
 * 64-bit key per sample, so a sample looks the same on any thread count
 * and in a resumed run.
 *
 * The geometry lives in ck_warp_image, a plain deterministic resampler
 * (bilinear, zero outside the image) that the tests check on known
 * transforms; ck_augment_image only draws its parameters. */
#include "ckernels.h"

#include <math.h>
#include <string.h>

void ck_warp_image(float *restrict out, const uint8_t *restrict in, float scale,
                   int C, int H, int W, const float affine[6],
                   const float *field_dy, const float *field_dx) {
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            float fy = (float)y + (field_dy ? field_dy[y * W + x] : 0.0f);
            float fx = (float)x + (field_dx ? field_dx[y * W + x] : 0.0f);
            float sy = affine[0] * fy + affine[1] * fx + affine[2];
            float sx = affine[3] * fy + affine[4] * fx + affine[5];
            int y0 = (int)floorf(sy), x0 = (int)floorf(sx);
            float wy = sy - (float)y0, wx = sx - (float)x0;
            for (int c = 0; c < C; c++) {
                const uint8_t *plane = in + (size_t)c * H * W;
                float sum = 0.0f;
                for (int dy = 0; dy <= 1; dy++) {
                    int yy = y0 + dy;
                    if (yy < 0 || yy >= H) continue;
                    float weight_y = dy ? wy : 1.0f - wy;
                    for (int dx = 0; dx <= 1; dx++) {
                        int xx = x0 + dx;
                        if (xx < 0 || xx >= W) continue;
                        float weight = weight_y * (dx ? wx : 1.0f - wx);
                        if (weight != 0.0f) sum += weight * (float)plane[yy * W + xx];
                    }
                }
                out[((size_t)c * H + y) * W + x] = sum * scale;
            }
        }
    }
}

size_t ck_augment_scratch_floats(int H, int W) { return (size_t)3 * H * W; }

/* dst = src blurred by kernel[0 .. 2 * radius] along x, or along y when
 * vertical; borders use the pixels that exist. */
static void blur_pass(float *restrict dst, const float *restrict src, int H, int W,
                      const float *kernel, int radius, int vertical) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float sum = 0.0f;
            for (int i = -radius; i <= radius; i++) {
                int yy = vertical ? y + i : y, xx = vertical ? x : x + i;
                if (yy >= 0 && yy < H && xx >= 0 && xx < W) sum += kernel[i + radius] * src[yy * W + xx];
            }
            dst[y * W + x] = sum;
        }
}

/* Smooths a H x W field in place with a normalised Gaussian of width
 * sigma (separable; borders use the pixels that exist). */
static void gaussian_smooth(float *field, float *temp, int H, int W, float sigma) {
    int radius = (int)ceilf(3.0f * sigma);
    if (radius > 32) radius = 32;
    float kernel[65];
    float total = 0.0f;
    for (int i = -radius; i <= radius; i++) {
        kernel[i + radius] = expf(-(float)(i * i) / (2.0f * sigma * sigma));
        total += kernel[i + radius];
    }
    for (int i = 0; i <= 2 * radius; i++) kernel[i] /= total;
    blur_pass(temp, field, H, W, kernel, radius, 0);  /* along rows */
    blur_pass(field, temp, H, W, kernel, radius, 1);  /* along columns */
}

void ck_augment_image(float *out, const uint8_t *in, float scale, int C, int H,
                      int W, uint64_t key, float base_dy, float base_dx,
                      float max_shift, float max_rotation_degrees,
                      float elastic_alpha, float elastic_sigma,
                      float *scratch) {
    ck_rng rng;
    ck_rng_seed(&rng, key);
    float shift_y = base_dy + max_shift * (2.0f * ck_rng_uniform(&rng) - 1.0f);
    float shift_x = base_dx + max_shift * (2.0f * ck_rng_uniform(&rng) - 1.0f);
    float angle = max_rotation_degrees * (2.0f * ck_rng_uniform(&rng) - 1.0f) * 3.14159265358979f / 180.0f;
    /* Output (y, x) reads the input at the inverse transform: rotate by
     * -angle about the centre, then undo the shift. */
    float cy = 0.5f * (float)(H - 1), cx = 0.5f * (float)(W - 1);
    float cosine = cosf(angle), sine = sinf(angle);
    float affine[6] = {
        cosine, sine, cy - cosine * (cy + shift_y) - sine * (cx + shift_x),
        -sine, cosine, cx + sine * (cy + shift_y) - cosine * (cx + shift_x),
    };
    float *field_dy = NULL, *field_dx = NULL;
    if (elastic_alpha > 0.0f && elastic_sigma > 0.0f && scratch != NULL) {
        field_dy = scratch;
        field_dx = scratch + (size_t)H * W;
        float *temp = scratch + (size_t)2 * H * W;
        for (int i = 0; i < H * W; i++) field_dy[i] = 2.0f * ck_rng_uniform(&rng) - 1.0f;
        for (int i = 0; i < H * W; i++) field_dx[i] = 2.0f * ck_rng_uniform(&rng) - 1.0f;
        gaussian_smooth(field_dy, temp, H, W, elastic_sigma);
        gaussian_smooth(field_dx, temp, H, W, elastic_sigma);
        for (int i = 0; i < H * W; i++) {
            field_dy[i] *= elastic_alpha;
            field_dx[i] *= elastic_alpha;
        }
    }
    ck_warp_image(out, in, scale, C, H, W, affine, field_dy, field_dx);
}

// principal_components.c: the leading principal components of a set of rows,
// on LAPACKE.
//
// `cnn embed` projects a network's penultimate activations on their first
// two principal components.  Those are the eigenvectors of the covariance
// with the largest eigenvalues: the rows are centred (into the caller's
// scratch), their covariance is one SYRK (OpenBLAS), and LAPACKE_ssyevd (the
// divide-and-conquer symmetric eigensolver) gives every eigenpair in
// ascending order.  Like zlib in gzip_input.c this is a shim over a system
// library rather than a kernel: LAPACKE sizes and allocates its own
// workspace.  Each component's sign is fixed so that its largest entry is
// positive, so the same rows always give the same picture.

#include "ckernels.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

size_t ck_principal_components_scratch_floats(int n, int d) {
    return (size_t)n * (size_t)d + (size_t)d * (size_t)d + (size_t)d;
}

// components is (k, d), variances (k), mean (d); x is (n, d), n >= 2, 1 <= k <= d.
int ck_principal_components(float *components, float *variances, float *mean, float *scratch,
                            const float *restrict x, int n, int d, int k) {
    float *centred = scratch;
    float *covariance = scratch + (size_t)n * d;
    float *eigenvalues = covariance + (size_t)d * d;
    for (int j = 0; j < d; j++) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += x[(size_t)i * d + j];
        mean[j] = (float)(sum / n);
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) centred[(size_t)i * d + j] = x[(size_t)i * d + j] - mean[j];
    }
    // covariance = centred^T centred / (n - 1), upper triangle.
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0f / (float)(n - 1), centred, d, 0.0f, covariance, d);
    int info = LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, covariance, d, eigenvalues);
    if (info != 0) return info;
    // Ascending order: the last k columns, largest first.
    for (int c = 0; c < k; c++) {
        int column = d - 1 - c;
        variances[c] = eigenvalues[column] > 0 ? eigenvalues[column] : 0;
        int largest = 0;
        for (int j = 0; j < d; j++) {
            components[(size_t)c * d + j] = covariance[(size_t)j * d + column];
            if (fabsf(components[(size_t)c * d + j]) > fabsf(components[(size_t)c * d + largest])) largest = j;
        }
        if (components[(size_t)c * d + largest] < 0) {
            for (int j = 0; j < d; j++) components[(size_t)c * d + j] = -components[(size_t)c * d + j];
        }
    }
    return 0;
}

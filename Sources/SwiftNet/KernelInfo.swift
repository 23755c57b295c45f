// KernelInfo.swift: which kernel variants this process runs, for reports.
//
// Benchmarks and bug reports should say which instruction set, which GEMM
// and which forward path the C kernels chose (SWIFTNET_ISA, SWIFTNET_GEMM
// and SWIFTNET_FORWARD override them).

import CKernels

/// The C kernels' run-time choices.
package enum KernelInfo {
    /// "avx512", "avx2" or "scalar".
    package static var isaName: String { String(cString: ck_isa_name(ck_isa_current())) }
    /// "openblas" or "own".
    package static var gemmName: String { String(cString: ck_gemm_backend_name(ck_gemm_backend_current())) }
    /// "auto", "packed" or "gemm".
    package static var forwardPathName: String { String(cString: ck_forward_path_name(ck_forward_path_current())) }
}

// KernelInfo.swift: which kernel variants this process runs, for reports.
//
// Benchmarks and bug reports should say which instruction set and which
// GEMM the C kernels chose (SWIFTNET_ISA and SWIFTNET_GEMM override both).

import CKernels

/// The C kernels' run-time choices.
public enum KernelInfo {
    /// "avx512", "avx2" or "scalar".
    public static var isaName: String { String(cString: ck_isa_name(ck_isa_current())) }
    /// "openblas" or "own".
    public static var gemmName: String { String(cString: ck_gemm_backend_name(ck_gemm_backend_current())) }
}

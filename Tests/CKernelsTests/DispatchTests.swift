// DispatchTests.swift: choosing the vector variant at run time.
//
// The other tests rely on ck_isa_select to run every variant on one machine,
// so its contract is pinned here: the scalar variant and the best one are
// always selectable, a selection is observed by ck_isa_current, and a request
// the CPU or the enum cannot honour is refused without changing anything.  On
// Linux the best variant is also checked against the CPU flags the kernel
// reports, so a machine with AVX-512 really does test all three.  The layer
// kernels' GEMM backend switch is pinned the same way.
import CKernels
import Foundation
import XCTest

final class DispatchTests: KernelTestCase {
    func testScalarAndBestAreAlwaysSelectable() {
        XCTAssertEqual(ck_isa_select(CK_ISA_SCALAR), 0)
        XCTAssertEqual(ck_isa_current(), CK_ISA_SCALAR)
        let best = ck_isa_best_supported()
        XCTAssertEqual(ck_isa_select(best), 0)
        XCTAssertEqual(ck_isa_current(), best)
        for isa in allISAs where isa.rawValue <= best.rawValue {
            XCTAssertEqual(ck_isa_select(isa), 0, "\(String(cString: ck_isa_name(isa))) is below the best, \(best)")
        }
    }

    func testRefusedRequestsChangeNothing() {
        XCTAssertEqual(ck_isa_select(CK_ISA_SCALAR), 0)
        for raw: UInt32 in [3, 100, .max] {
            XCTAssertEqual(ck_isa_select(ck_isa(rawValue: raw)), -1, "no variant \(raw)")
            XCTAssertEqual(ck_isa_current(), CK_ISA_SCALAR, "a refused request changed the variant")
        }
        for isa in allISAs where isa.rawValue > ck_isa_best_supported().rawValue {
            XCTAssertEqual(ck_isa_select(isa), -1, "\(isa) is beyond this CPU")
            XCTAssertEqual(ck_isa_current(), CK_ISA_SCALAR)
        }
    }

    func testNames() {
        XCTAssertEqual(allISAs.map { String(cString: ck_isa_name($0)) }, ["scalar", "avx2", "avx512"])
    }

    /// The layer kernels' GEMM backend (restored by tearDown).
    func testGemmBackendSelectionIsObserved() {
        for backend in [CK_GEMM_OWN, CK_GEMM_OPENBLAS, CK_GEMM_OWN] {
            ck_gemm_backend_select(backend)
            XCTAssertEqual(ck_gemm_backend_current(), backend)
        }
        XCTAssertEqual(String(cString: ck_gemm_backend_name(CK_GEMM_OWN)), "own")
        XCTAssertEqual(String(cString: ck_gemm_backend_name(CK_GEMM_OPENBLAS)), "openblas")
    }

    func testBestSupportedAgreesWithCPUFlags() throws {
        #if os(Linux) && arch(x86_64)
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { throw XCTSkip("/proc/cpuinfo has no flags line") }
        let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        let avx2 = flags.isSuperset(of: ["avx2", "fma"])
        let avx512 = avx2 && flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"])
        let expected = avx512 ? CK_ISA_AVX512 : (avx2 ? CK_ISA_AVX2 : CK_ISA_SCALAR)
        XCTAssertEqual(ck_isa_best_supported(), expected, "CPU flags call for \(String(cString: ck_isa_name(expected)))")
        #else
        throw XCTSkip("CPU flags are read from /proc/cpuinfo on x86-64 Linux only")
        #endif
    }
}

// GemmTests.swift: ck_sgemm (every vector variant) and ck_sgemm_openblas
// against the double-accumulating oracle ck_sgemm_ref.
//
// Shapes are odd and straddle the packing blocks (MC = 96 rows of A, KC = 256
// of depth, NC = 1024 columns of B) and the micro-tile edges; every operand is
// stored with a leading dimension wider than its width.  The padding of A and
// B is NaN, so reading it poisons the result, and the padding of C holds a
// finite sentinel that any write or scaling would change.
import CKernels
import XCTest

final class GemmTests: KernelTestCase {
    private static let scalings: [(alpha: Float, beta: Float)] = [(1, 0), (-1.5, 1), (0.7, 0.5)]

    func testSgemmMatchesReferenceOnOddShapes() {
        let shapes = [(1, 1, 1), (1, 7, 13), (7, 1, 13), (13, 7, 1), (7, 13, 97), (97, 13, 7),
                      (100, 33, 13),  // m > MC
                      (13, 17, 300),  // k > KC
                      (7, 1100, 5)]  // n > NC
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in Self.scalings {
                        checkGemm(m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta)
                    }
                }
            }
        }
    }

    /// One product that crosses all three blocking boundaries at once, so the
    /// packed panels are reused across several blocks in every direction.
    func testSgemmCrossingEveryBlockBoundary() {
        for transA in [false, true] {
            for transB in [false, true] {
                checkGemm(m: 100, n: 1100, k: 300, transA: transA, transB: transB, alpha: -0.75, beta: 0.5)
            }
        }
    }

    /// k == 0 and alpha == 0 leave only beta * c (and beta == 0 still clears NaN).
    func testSgemmWithoutAProductOnlyScalesC() {
        for (k, alpha, beta) in [(0, Float(1), Float(0.5)), (0, 1, 0), (5, 0, 1), (5, 0, 0), (5, 0, -2)] {
            checkGemm(m: 7, n: 9, k: k, transA: false, transB: true, alpha: alpha, beta: beta)
        }
    }

    /// A product small enough to do by hand, so that the oracle itself is
    /// checked against numbers nobody computed with it: 2 * A @ B + 0.5 * C
    /// with A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12], C = ones.  Every value
    /// is exact in float32.
    /// OpenBLAS stays the default where its kernels for the CPU use AVX2 or
    /// AVX-512; where it falls back to SSE ones, our GEMM takes over, but
    /// only on a CPU where ours has AVX2 to run on.
    func testDefaultBackendFollowsOpenBLASsCore() {
        for core in ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "cooperlake"] {
            XCTAssertEqual(ck_gemm_backend_default_for(core, CK_ISA_AVX512), CK_GEMM_OPENBLAS, core)
            XCTAssertEqual(ck_gemm_backend_default_for(core, CK_ISA_AVX2), CK_GEMM_OPENBLAS, core)
        }
        for core in ["Prescott", "Core2", "Nehalem", "Sandybridge", "Bulldozer", "Katmai", ""] {
            XCTAssertEqual(ck_gemm_backend_default_for(core, CK_ISA_AVX512), CK_GEMM_OWN, core)
            XCTAssertEqual(ck_gemm_backend_default_for(core, CK_ISA_AVX2), CK_GEMM_OWN, core)
            XCTAssertEqual(ck_gemm_backend_default_for(core, CK_ISA_SCALAR), CK_GEMM_OPENBLAS, core)
        }
        XCTAssertEqual(ck_gemm_backend_default_for(nil, CK_ISA_AVX512), CK_GEMM_OWN)
    }

    func testKnownProductInEveryLayout() {
        let a: [Float] = [1, 2, 3, 4, 5, 6], aT: [Float] = [1, 4, 2, 5, 3, 6]
        let b: [Float] = [7, 8, 9, 10, 11, 12], bT: [Float] = [7, 9, 11, 8, 10, 12]
        let want: [Float] = [116.5, 128.5, 278.5, 308.5]
        typealias Gemm = (Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                          UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
        var scratch = [Float](repeating: .nan, count: ck_sgemm_scratch_floats(2, 2, 3))
        let fast: Gemm = { ck_sgemm($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, &scratch) }
        let implementations: [(String, Gemm)] = [("ref", ck_sgemm_ref), ("fast", fast), ("openblas", ck_sgemm_openblas)]
        forEachISA { isa in
            for (name, gemm) in implementations {
                for transA in [false, true] {
                    for transB in [false, true] {
                        var c: [Float] = [1, 1, 1, 1]
                        gemm(transA ? 1 : 0, transB ? 1 : 0, 2, 2, 3, 2, transA ? aT : a, transA ? 2 : 3,
                             transB ? bT : b, transB ? 3 : 2, 0.5, &c, 2)
                        assertClose(c, want, .exact, "\(name) transA \(transA) transB \(transB) [\(isa)]")
                    }
                }
            }
        }
    }

    // MARK: - Helpers

    /// Builds the operands, runs the oracle once, then every variant of
    /// ck_sgemm and OpenBLAS on copies of the same C.
    private func checkGemm(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float,
                           file: StaticString = #filePath, line: UInt = #line) {
        var random = TestRandom(seed: UInt64(m * 1_000_003 + n * 1009 + k))
        let (aRows, aCols) = transA ? (k, m) : (m, k)
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        let lda = aCols + 3, ldb = bCols + 5, ldc = n + 2
        let a = paddedMatrix(rows: max(aRows, 1), cols: aCols, ld: lda, padding: .nan, &random)
        let b = paddedMatrix(rows: max(bRows, 1), cols: bCols, ld: ldb, padding: .nan, &random)
        var c = paddedMatrix(rows: m, cols: n, ld: ldc, padding: 777, &random)
        if beta == 0 {  // garbage that only an ignored C survives
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = .nan } }
        }
        let what = "sgemm m \(m) n \(n) k \(k) transA \(transA) transB \(transB) alpha \(alpha) beta \(beta)"

        var want = c
        ck_sgemm_ref(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                     a, Int32(lda), b, Int32(ldb), beta, &want, Int32(ldc))
        XCTAssertTrue(want.allSatisfy { $0.isFinite }, "\(what): the oracle left NaN", file: file, line: line)

        // Operands lie in [-1, 1]: each of the k products is at most |alpha|.
        let tolerance = Tolerance.float32Sum(terms: k, termScale: abs(alpha), extra: abs(beta))
        forEachISA(file: file, line: line) { isa in
            var got = c
            var scratch = GuardedScratch(ck_sgemm_scratch_floats(Int32(m), Int32(n), Int32(k)))
            ck_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                     a, Int32(lda), b, Int32(ldb), beta, &got, Int32(ldc), &scratch.values)
            assertClose(got, want, tolerance, "\(what) [\(isa)]", file: file, line: line)
            scratch.assertIntact("\(what) [\(isa)]", file: file, line: line)
        }
        var blas = c
        ck_sgemm_openblas(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                          a, Int32(lda), b, Int32(ldb), beta, &blas, Int32(ldc))
        assertClose(blas, want, tolerance, "\(what) [openblas]", file: file, line: line)
    }

    /// A rows x ld row-major matrix: random values in [-1, 1] in its first
    /// `cols` columns, `padding` in the rest.
    private func paddedMatrix(rows: Int, cols: Int, ld: Int, padding: Float,
                              _ random: inout TestRandom) -> [Float] {
        var matrix = random.floats(rows * ld)
        for i in 0..<rows { for j in cols..<ld { matrix[i * ld + j] = padding } }
        return matrix
    }
}

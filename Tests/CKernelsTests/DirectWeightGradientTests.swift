// DirectWeightGradientTests.swift: the conv weight gradient that reads the
// image directly (direct_weight_gradient.h, SWIFTNET_FORWARD=direct) against
// the scalar oracle and against finite differences, under every vector
// variant, and AUTO's choice of it (ckernels.h, ck_forward_path).
//
// Its sums run in another order than the im2col GEMM's, so it is held to the
// oracle's float32-sum tolerance, not to the GEMM path's bits.  The shapes
// are DirectConvolutionTests' (partial tiles of filters and of taps, grids
// shorter than a vector and many long, padding 0 to 2, one and many
// channels), each backward accumulating into prefilled gradients, with and
// without the input gradient and the bias gradient.  The workspace starts as
// NaN and is exactly the advertised size, then sentinels: a gradient that
// read unset scratch would be NaN, and an overrun would clobber a sentinel.
import CKernels
import XCTest

private struct GradientShape: CustomStringConvertible {
    var B, C, H, W, OC, K, P: Int
    var OH: Int { H + 2 * P - K + 1 }
    var OW: Int { W + 2 * P - K + 1 }
    var inputCount: Int { B * C * H * W }
    var weightCount: Int { OC * C * K * K }
    var outputCount: Int { B * OC * OH * OW }
    var workspaceCount: Int {
        Int(ck_conv2d_workspace_floats_ex(Int32(C), Int32(H), Int32(W), Int32(OC), Int32(K), Int32(K), Int32(P), 1))
    }
    var description: String { "B \(B) C \(C) \(H)x\(W) OC \(OC) kernel \(K)x\(K) pad \(P)" }
}

private let sentinel: Float = -9876.25

final class DirectWeightGradientTests: KernelTestCase {
    private let shapes = [
        GradientShape(B: 3, C: 1, H: 28, W: 28, OC: 20, K: 5, P: 0),  // the seed's first layer
        GradientShape(B: 2, C: 3, H: 32, W: 32, OC: 33, K: 3, P: 1),  // colour, "same" size, partial tiles
        GradientShape(B: 2, C: 20, H: 12, W: 12, OC: 40, K: 5, P: 0), // the seed's second layer (depth 500)
        GradientShape(B: 1, C: 1, H: 5, W: 5, OC: 1, K: 5, P: 0),     // one output pixel
        GradientShape(B: 2, C: 2, H: 7, W: 9, OC: 3, K: 3, P: 2),     // borders of mostly padding
        GradientShape(B: 2, C: 4, H: 6, W: 31, OC: 7, K: 2, P: 0),    // wide and flat
        GradientShape(B: 2, C: 3, H: 40, W: 3, OC: 5, K: 3, P: 1),    // tall and narrow
    ]

    func testDirectWeightGradientMatchesTheOracleUnderEveryVariant() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 4400 + UInt64(index))
            let inp = random.floats(shape.inputCount), weight = random.floats(shape.weightCount)
            let dout = random.floats(shape.outputCount)
            let prefillInput = random.floats(shape.inputCount), prefillWeight = random.floats(shape.weightCount)
            let prefillBias = random.floats(shape.OC)
            var wantInput = prefillInput, wantWeight = prefillWeight, wantBias = prefillBias
            ck_conv2d_backward_ex_ref(&wantInput, &wantWeight, &wantBias, dout, inp, weight, Int32(shape.B), Int32(shape.C),
                                      Int32(shape.H), Int32(shape.W), Int32(shape.OC), Int32(shape.K), Int32(shape.K),
                                      Int32(shape.P), 1)
            let weightTolerance = Tolerance.float32Sum(terms: shape.B * shape.OH * shape.OW, termScale: 1, extra: 1)
            let inputTolerance = Tolerance.float32Sum(terms: shape.OC * shape.K * shape.K, termScale: 1, extra: 1)
            for withInput in [true, false] {
                forEachISA { isa in
                    let what = "direct weight gradient \(shape) dinp \(withInput) [\(isa)]"
                    var gotInput: [Float]? = withInput ? prefillInput : nil
                    var gotWeight = prefillWeight
                    var gotBias: [Float]? = prefillBias
                    backward(&gotInput, &gotWeight, &gotBias, shape, dout, inp, weight, path: CK_FORWARD_DIRECT, what)
                    assertClose(gotWeight, wantWeight, weightTolerance, "\(what) dweight")
                    assertClose(gotBias!, wantBias, weightTolerance, "\(what) dbias")
                    if withInput { assertClose(gotInput!, wantInput, inputTolerance, "\(what) dinp") }
                }
            }
        }
    }

    /// Linear in the weights, so central differences are exact up to float32
    /// rounding (see ConvolutionTests).
    func testDirectWeightGradientMatchesFiniteDifferences() {
        for (index, shape) in [GradientShape(B: 2, C: 2, H: 7, W: 9, OC: 3, K: 3, P: 1),
                               GradientShape(B: 2, C: 1, H: 9, W: 8, OC: 5, K: 5, P: 0)].enumerated() {
            var random = TestRandom(seed: 4500 + UInt64(index))
            let inp = random.floats(shape.inputCount)
            var weight = random.floats(shape.weightCount)
            let upstream = random.floats(shape.outputCount)
            func loss(_ weight: [Float]) -> Double {
                var out = [Float](repeating: 0, count: shape.outputCount)
                ck_conv2d_forward_ex_ref(&out, inp, weight, nil, Int32(shape.B), Int32(shape.C), Int32(shape.H),
                                         Int32(shape.W), Int32(shape.OC), Int32(shape.K), Int32(shape.K), Int32(shape.P), 1)
                return weightedSum(out, upstream)
            }
            let numeric = centralDifferences(&weight, eps: 1e-2, loss)
            forEachISA { isa in
                var noInput: [Float]? = nil, noBias: [Float]? = nil
                var dweight = [Float](repeating: 0, count: shape.weightCount)
                backward(&noInput, &dweight, &noBias, shape, upstream, inp, weight, path: CK_FORWARD_DIRECT, "\(shape) [\(isa)]")
                assertGradient(dweight, matches: numeric, rtol: 1e-3, "direct conv dweight \(shape) [\(isa)]")
            }
        }
    }

    /// AUTO takes the direct weight gradient under AVX-512 for the seed's
    /// first layer where the GEMM it replaces is OpenBLAS's AVX2 kernels or our
    /// own, and keeps OpenBLAS's product where OpenBLAS has AVX-512 kernels.
    func testAutoTakesTheDirectWeightGradientWhereCkernelsHSaysSo() throws {
        guard ck_isa_select(CK_ISA_AVX512) == 0 else { throw XCTSkip("this CPU has no AVX-512") }
        let shape = shapes[0]
        var random = TestRandom(seed: 4600)
        let inp = random.floats(shape.inputCount), weight = random.floats(shape.weightCount)
        let dout = random.floats(shape.outputCount)
        func weightGradient(path: ck_forward_path, backend: ck_gemm_backend) -> [UInt32] {
            ck_gemm_backend_select(backend)
            var noInput: [Float]? = nil, noBias: [Float]? = nil
            var dweight = [Float](repeating: 0, count: shape.weightCount)
            backward(&noInput, &dweight, &noBias, shape, dout, inp, weight, path: path, "\(path) \(backend)")
            return dweight.map(\.bitPattern)
        }
        let direct = weightGradient(path: CK_FORWARD_DIRECT, backend: CK_GEMM_OPENBLAS)
        let openblas = weightGradient(path: CK_FORWARD_GEMM, backend: CK_GEMM_OPENBLAS)
        let own = weightGradient(path: CK_FORWARD_GEMM, backend: CK_GEMM_OWN)
        XCTAssertNotEqual(direct, openblas, "the check below needs the paths to round differently")
        XCTAssertNotEqual(direct, own, "the check below needs the paths to round differently")
        XCTAssertEqual(weightGradient(path: CK_FORWARD_AUTO, backend: CK_GEMM_OWN), direct,
                       "AUTO under our own GEMM did not take the direct weight gradient")
        let auto = weightGradient(path: CK_FORWARD_AUTO, backend: CK_GEMM_OPENBLAS)
        if ck_openblas_is_avx2_only() != 0 {
            XCTAssertEqual(auto, direct, "AUTO beside OpenBLAS's AVX2 kernels did not take the direct weight gradient")
        } else {
            XCTAssertEqual(auto, openblas, "AUTO beside OpenBLAS's AVX-512 kernels did not keep OpenBLAS's product")
        }
    }

    private func backward(_ dinp: inout [Float]?, _ dweight: inout [Float], _ dbias: inout [Float]?, _ shape: GradientShape,
                          _ dout: [Float], _ inp: [Float], _ weight: [Float], path: ck_forward_path, _ what: String,
                          file: StaticString = #filePath, line: UInt = #line) {
        ck_forward_path_select(path)
        var workspace = [Float](repeating: .nan, count: shape.workspaceCount) + [Float](repeating: sentinel, count: 64)
        withOptionalPointer(&dinp) { dinp in
            withOptionalPointer(&dbias) { dbias in
                ck_conv2d_backward_ex(dinp, &dweight, dbias, &workspace, dout, inp, weight, Int32(shape.B), Int32(shape.C),
                                      Int32(shape.H), Int32(shape.W), Int32(shape.OC), Int32(shape.K), Int32(shape.K),
                                      Int32(shape.P), 1)
            }
        }
        XCTAssertTrue(workspace[shape.workspaceCount...].allSatisfy { $0 == sentinel },
                      "\(what): the workspace's sentinels were overwritten", file: file, line: line)
        XCTAssertFalse(dweight.contains { $0.isNaN }, "\(what): the weight gradient read unset scratch", file: file, line: line)
    }
}

// PaddedConvolutionTests.swift: ck_conv2d_forward_ex / ck_conv2d_backward_ex
// (zero padding and a stride) under every vector variant against the
// direct-loop oracles, the oracles against a padded-then-subsampled plain
// convolution, and the backward against central differences.
//
// Shapes are odd: pad 1 and 2, strides 2 and 3, non-square images and
// kernels, strides that leave trailing pixels no window reaches, and a
// deep layer (C*KH*KW > the GEMM's depth block).  Backward buffers start
// nonzero, so a kernel that overwrites instead of accumulating fails; the
// workspace is exactly ck_conv2d_workspace_floats_ex's size, then sentinels.
import CKernels
import XCTest

/// B images of C x H x W convolved with OC kernels of C x KH x KW, padded by P, every S pixels.
private struct PaddedConvShape: CustomStringConvertible {
    var B, C, H, W, OC, KH, KW, P, S: Int
    var OH: Int { (H + 2 * P - KH) / S + 1 }
    var OW: Int { (W + 2 * P - KW) / S + 1 }
    var inputCount: Int { B * C * H * W }
    var weightCount: Int { OC * C * KH * KW }
    var outputCount: Int { B * OC * OH * OW }
    var workspaceCount: Int {
        Int(ck_conv2d_workspace_floats_ex(Int32(C), Int32(H), Int32(W), Int32(OC), Int32(KH), Int32(KW), Int32(P), Int32(S)))
    }
    var description: String { "B \(B) C \(C) \(H)x\(W) OC \(OC) kernel \(KH)x\(KW) pad \(P) stride \(S)" }
    var args: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) {
        (Int32(B), Int32(C), Int32(H), Int32(W), Int32(OC), Int32(KH), Int32(KW), Int32(P), Int32(S))
    }
}

private let sentinel: Float = -12345.5

final class PaddedConvolutionTests: KernelTestCase {
    private let shapes = [
        PaddedConvShape(B: 2, C: 3, H: 9, W: 7, OC: 5, KH: 3, KW: 3, P: 1, S: 1),   // "same" size
        PaddedConvShape(B: 2, C: 2, H: 8, W: 11, OC: 4, KH: 3, KW: 2, P: 1, S: 2),  // non-square kernel, stride 2
        PaddedConvShape(B: 1, C: 3, H: 10, W: 9, OC: 3, KH: 5, KW: 5, P: 2, S: 3),  // pad 2, stride 3, trailing pixels
        PaddedConvShape(B: 3, C: 1, H: 7, W: 6, OC: 2, KH: 3, KW: 3, P: 2, S: 1),   // border outputs see mostly padding
        PaddedConvShape(B: 2, C: 2, H: 5, W: 13, OC: 3, KH: 1, KW: 1, P: 0, S: 2),  // 1x1 kernel, stride only
        PaddedConvShape(B: 2, C: 4, H: 4, W: 4, OC: 2, KH: 4, KW: 4, P: 3, S: 3),   // kernel as large as the image
        PaddedConvShape(B: 2, C: 24, H: 12, W: 10, OC: 16, KH: 3, KW: 3, P: 1, S: 2), // C*KH*KW = 216, a deeper stack
        PaddedConvShape(B: 2, C: 20, H: 12, W: 12, OC: 13, KH: 5, KW: 5, P: 2, S: 2), // 500 > the GEMM's depth block
    ]

    func testForwardMatchesReference() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 1100 + UInt64(index))
            let inp = random.floats(shape.inputCount)
            let weight = random.floats(shape.weightCount)
            let bias = random.floats(shape.OC)
            let tolerance = Tolerance.float32Sum(terms: shape.C * shape.KH * shape.KW, termScale: 1, extra: 1)
            let (B, C, H, W, OC, KH, KW, P, S) = shape.args
            for useBias in [true, false] {
                var want = [Float](repeating: .nan, count: shape.outputCount)
                ck_conv2d_forward_ex_ref(&want, inp, weight, useBias ? bias : nil, B, C, H, W, OC, KH, KW, P, S)
                forEachForwardVariant { variant in
                    var got = [Float](repeating: .nan, count: shape.outputCount)
                    var workspace = makeWorkspace(shape)
                    ck_conv2d_forward_ex(&got, &workspace, inp, weight, useBias ? bias : nil, B, C, H, W, OC, KH, KW, P, S)
                    assertClose(got, want, tolerance, "padded conv forward \(shape) bias \(useBias) [\(variant)]")
                    assertTailIntact(workspace, shape, "padded conv forward \(shape) [\(variant)]")
                }
            }
        }
    }

    /// The oracle against a second, independent reading of padding and stride:
    /// the plain valid convolution of the explicitly zero-padded image, kept at
    /// every S-th row and column.
    func testReferenceIsPaddedThenSubsampledValidConvolution() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 1200 + UInt64(index))
            let inp = random.floats(shape.inputCount)
            let weight = random.floats(shape.weightCount)
            let bias = random.floats(shape.OC)
            let (B, C, H, W, OC, KH, KW, P, S) = shape.args
            var got = [Float](repeating: .nan, count: shape.outputCount)
            ck_conv2d_forward_ex_ref(&got, inp, weight, bias, B, C, H, W, OC, KH, KW, P, S)

            let (PHt, PWt) = (shape.H + 2 * shape.P, shape.W + 2 * shape.P)
            var padded = [Float](repeating: 0, count: shape.B * shape.C * PHt * PWt)
            for plane in 0..<(shape.B * shape.C) {
                for y in 0..<shape.H {
                    for x in 0..<shape.W {
                        padded[(plane * PHt + y + shape.P) * PWt + x + shape.P] = inp[(plane * shape.H + y) * shape.W + x]
                    }
                }
            }
            let (FH, FW) = (PHt - shape.KH + 1, PWt - shape.KW + 1)
            var full = [Float](repeating: .nan, count: shape.B * shape.OC * FH * FW)
            ck_conv2d_forward_ref(&full, padded, weight, bias, B, C, Int32(PHt), Int32(PWt), OC, KH, KW)
            var want = [Float](repeating: .nan, count: shape.outputCount)
            for plane in 0..<(shape.B * shape.OC) {
                for y in 0..<shape.OH {
                    for x in 0..<shape.OW {
                        want[(plane * shape.OH + y) * shape.OW + x] = full[(plane * FH + y * shape.S) * FW + x * shape.S]
                    }
                }
            }
            assertClose(got, want, .exact, "padded conv oracle \(shape) against the padded plain oracle")
        }
    }

    func testBackwardMatchesReferenceAndAccumulates() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 1300 + UInt64(index))
            let inp = random.floats(shape.inputCount)
            let weight = random.floats(shape.weightCount)
            let dout = random.floats(shape.outputCount)
            let prefillInput = random.floats(shape.inputCount)
            let prefillWeight = random.floats(shape.weightCount)
            let prefillBias = random.floats(shape.OC)
            let (B, C, H, W, OC, KH, KW, P, S) = shape.args

            var wantInput = prefillInput, wantWeight = prefillWeight, wantBias = prefillBias
            ck_conv2d_backward_ex_ref(&wantInput, &wantWeight, &wantBias, dout, inp, weight, B, C, H, W, OC, KH, KW, P, S)
            let inputTolerance = Tolerance.float32Sum(terms: shape.OC * shape.KH * shape.KW, termScale: 1, extra: 1)
            let weightTolerance = Tolerance.float32Sum(terms: shape.B * shape.OH * shape.OW, termScale: 1, extra: 1)

            for withInput in [true, false] {
                let what = "padded conv backward \(shape) dinp \(withInput)"
                forEachLayerVariant { variant in
                    var gotInput: [Float]? = withInput ? prefillInput : nil
                    var gotWeight = prefillWeight
                    var gotBias: [Float]? = prefillBias
                    var workspace = makeWorkspace(shape)
                    withOptionalPointer(&gotInput) { dinp in
                        withOptionalPointer(&gotBias) { dbias in
                            ck_conv2d_backward_ex(dinp, &gotWeight, dbias, &workspace, dout, inp, weight,
                                                  B, C, H, W, OC, KH, KW, P, S)
                        }
                    }
                    assertClose(gotWeight, wantWeight, weightTolerance, "\(what) [\(variant)] dweight")
                    assertClose(gotBias!, wantBias, weightTolerance, "\(what) [\(variant)] dbias")
                    if withInput { assertClose(gotInput!, wantInput, inputTolerance, "\(what) [\(variant)] dinp") }
                    assertTailIntact(workspace, shape, "\(what) [\(variant)]")
                }
            }
        }
    }

    /// Linear in each argument, so central differences are exact up to float32
    /// rounding (see ConvolutionTests); the stride-3 shape leaves input pixels
    /// that no window reaches, whose derivative must be exactly 0 both ways.
    func testGradientsMatchFiniteDifferences() {
        let cases = [
            PaddedConvShape(B: 2, C: 2, H: 7, W: 6, OC: 3, KH: 3, KW: 3, P: 1, S: 2),
            PaddedConvShape(B: 1, C: 2, H: 8, W: 7, OC: 2, KH: 3, KW: 2, P: 2, S: 3),
        ]
        for (index, shape) in cases.enumerated() {
            let (B, C, H, W, OC, KH, KW, P, S) = shape.args
            var random = TestRandom(seed: 1400 + UInt64(index))
            var inp = random.floats(shape.inputCount)
            var weight = random.floats(shape.weightCount)
            var bias = random.floats(shape.OC)
            let upstream = random.floats(shape.outputCount)  // non-uniform
            let eps: Float = 1e-2, rtol = 1e-3

            func loss(_ inp: [Float], _ weight: [Float], _ bias: [Float]) -> Double {
                var out = [Float](repeating: 0, count: shape.outputCount)
                ck_conv2d_forward_ex_ref(&out, inp, weight, bias, B, C, H, W, OC, KH, KW, P, S)
                return weightedSum(out, upstream)
            }
            let numericInput = centralDifferences(&inp, eps: eps) { loss($0, weight, bias) }
            let numericWeight = centralDifferences(&weight, eps: eps) { loss(inp, $0, bias) }
            let numericBias = centralDifferences(&bias, eps: eps) { loss(inp, weight, $0) }

            var dinp = [Float](repeating: 0, count: shape.inputCount)
            var dweight = [Float](repeating: 0, count: shape.weightCount)
            var dbias = [Float](repeating: 0, count: shape.OC)
            ck_conv2d_backward_ex_ref(&dinp, &dweight, &dbias, upstream, inp, weight, B, C, H, W, OC, KH, KW, P, S)
            assertGradient(dinp, matches: numericInput, rtol: rtol, "padded conv dinp \(shape) [ref]")
            assertGradient(dweight, matches: numericWeight, rtol: rtol, "padded conv dweight \(shape) [ref]")
            assertGradient(dbias, matches: numericBias, rtol: rtol, "padded conv dbias \(shape) [ref]")

            forEachLayerVariant { variant in
                var dinp = [Float](repeating: 0, count: shape.inputCount)
                var dweight = [Float](repeating: 0, count: shape.weightCount)
                var dbias = [Float](repeating: 0, count: shape.OC)
                var workspace = makeWorkspace(shape)
                ck_conv2d_backward_ex(&dinp, &dweight, &dbias, &workspace, upstream, inp, weight, B, C, H, W, OC, KH, KW, P, S)
                assertGradient(dinp, matches: numericInput, rtol: rtol, "padded conv dinp \(shape) [\(variant)]")
                assertGradient(dweight, matches: numericWeight, rtol: rtol, "padded conv dweight \(shape) [\(variant)]")
                assertGradient(dbias, matches: numericBias, rtol: rtol, "padded conv dbias \(shape) [\(variant)]")
            }
        }
    }

    /// Pad 0 and stride 1 are the seed's convolution: the _ex calls must give
    /// the plain calls' bits, forward and backward, under every variant.
    func testNoPaddingStrideOneIsThePlainConvolutionBitForBit() {
        let (B, C, H, W, OC, KH, KW): (Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (2, 20, 12, 12, 40, 5, 5)
        let shape = PaddedConvShape(B: 2, C: 20, H: 12, W: 12, OC: 40, KH: 5, KW: 5, P: 0, S: 1)
        var random = TestRandom(seed: 1500)
        let inp = random.floats(shape.inputCount), weight = random.floats(shape.weightCount)
        let dout = random.floats(shape.outputCount)
        XCTAssertEqual(shape.workspaceCount, Int(ck_conv2d_workspace_floats(C, H, W, OC, KH, KW)))
        forEachForwardVariant { variant in
            var plain = [Float](repeating: .nan, count: shape.outputCount), ex = plain
            var workspace = makeWorkspace(shape)
            ck_conv2d_forward(&plain, &workspace, inp, weight, nil, B, C, H, W, OC, KH, KW)
            ck_conv2d_forward_ex(&ex, &workspace, inp, weight, nil, B, C, H, W, OC, KH, KW, 0, 1)
            assertClose(ex, plain, .exact, "conv forward pad 0 stride 1 [\(variant)]")
        }
        forEachLayerVariant { variant in
            var plainInput = [Float](repeating: 0, count: shape.inputCount), exInput = plainInput
            var plainWeight = [Float](repeating: 0, count: shape.weightCount), exWeight = plainWeight
            var workspace = makeWorkspace(shape)
            ck_conv2d_backward(&plainInput, &plainWeight, nil, &workspace, dout, inp, weight, B, C, H, W, OC, KH, KW)
            ck_conv2d_backward_ex(&exInput, &exWeight, nil, &workspace, dout, inp, weight, B, C, H, W, OC, KH, KW, 0, 1)
            assertClose(exInput, plainInput, .exact, "conv backward dinp pad 0 stride 1 [\(variant)]")
            assertClose(exWeight, plainWeight, .exact, "conv backward dweight pad 0 stride 1 [\(variant)]")
        }
    }

    // MARK: - Helpers

    private func makeWorkspace(_ shape: PaddedConvShape) -> [Float] {
        [Float](repeating: .nan, count: shape.workspaceCount) + [Float](repeating: sentinel, count: 64)
    }

    private func assertTailIntact(_ workspace: [Float], _ shape: PaddedConvShape, _ what: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(workspace[shape.workspaceCount...].allSatisfy { $0 == sentinel },
                      "\(what): wrote past the \(shape.workspaceCount)-float workspace", file: file, line: line)
    }
}

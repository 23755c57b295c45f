// ConvolutionTests.swift: ck_conv2d_forward / ck_conv2d_backward (im2col +
// GEMM, under every vector variant; forward also through the packed-weight
// kernel) against the direct-loop oracles, and both backward passes against
// central differences.
//
// Shapes are odd: non-square images and kernels, 1x1 and full-image kernels,
// and a network3-sized second layer whose C*KH*KW = 500 exceeds the GEMM's
// depth block.  Backward buffers start nonzero, so a kernel that overwrites
// instead of accumulating fails.  The workspace is exactly the advertised size
// followed by sentinels that must survive.
import CKernels
import XCTest

/// B images of C x H x W convolved with OC kernels of C x KH x KW.
private struct ConvShape: CustomStringConvertible {
    var B, C, H, W, OC, KH, KW: Int
    var OH: Int { H - KH + 1 }
    var OW: Int { W - KW + 1 }
    var inputCount: Int { B * C * H * W }
    var weightCount: Int { OC * C * KH * KW }
    var outputCount: Int { B * OC * OH * OW }
    var workspaceCount: Int {
        Int(ck_conv2d_workspace_floats(Int32(C), Int32(H), Int32(W), Int32(OC), Int32(KH), Int32(KW)))
    }
    var description: String { "B \(B) C \(C) \(H)x\(W) OC \(OC) kernel \(KH)x\(KW)" }
    /// The shape arguments every conv kernel takes, in order.
    var args: (Int32, Int32, Int32, Int32, Int32, Int32, Int32) {
        (Int32(B), Int32(C), Int32(H), Int32(W), Int32(OC), Int32(KH), Int32(KW))
    }
}

private let workspaceSentinel: Float = -12345.5

final class ConvolutionTests: KernelTestCase {
    private let shapes = [
        ConvShape(B: 2, C: 3, H: 9, W: 7, OC: 5, KH: 3, KW: 2),
        ConvShape(B: 1, C: 1, H: 5, W: 5, OC: 1, KH: 5, KW: 5),  // one output pixel
        ConvShape(B: 3, C: 2, H: 13, W: 11, OC: 4, KH: 1, KW: 1),  // 1x1 kernel
        ConvShape(B: 2, C: 1, H: 28, W: 28, OC: 7, KH: 5, KW: 5),  // network3's first layer
        ConvShape(B: 2, C: 20, H: 12, W: 12, OC: 13, KH: 5, KW: 5),  // C*KH*KW = 500 > KC
        ConvShape(B: 3, C: 20, H: 12, W: 12, OC: 40, KH: 5, KW: 5),  // network3's second layer
    ]

    func testForwardMatchesReference() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 100 + UInt64(index))
            let inp = random.floats(shape.inputCount)
            let weight = random.floats(shape.weightCount)
            let bias = random.floats(shape.OC)
            // Each output sums C*KH*KW products of values in [-1, 1], plus a bias.
            let tolerance = Tolerance.float32Sum(terms: shape.C * shape.KH * shape.KW, termScale: 1, extra: 1)
            for useBias in [true, false] {
                var want = [Float](repeating: .nan, count: shape.outputCount)
                let (B, C, H, W, OC, KH, KW) = shape.args
                ck_conv2d_forward_ref(&want, inp, weight, useBias ? bias : nil, B, C, H, W, OC, KH, KW)
                forEachForwardVariant { variant in
                    var got = [Float](repeating: .nan, count: shape.outputCount)
                    var workspace = makeWorkspace(shape)
                    ck_conv2d_forward(&got, &workspace, inp, weight, useBias ? bias : nil, B, C, H, W, OC, KH, KW)
                    assertClose(got, want, tolerance, "conv forward \(shape) bias \(useBias) [\(variant)]")
                    assertWorkspaceTailIntact(workspace, shape, "conv forward \(shape) [\(variant)]")
                }
            }
        }
    }

    func testBackwardMatchesReferenceAndAccumulates() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 200 + UInt64(index))
            let inp = random.floats(shape.inputCount)
            let weight = random.floats(shape.weightCount)
            let dout = random.floats(shape.outputCount)
            let prefillInput = random.floats(shape.inputCount)
            let prefillWeight = random.floats(shape.weightCount)
            let prefillBias = random.floats(shape.OC)
            let (B, C, H, W, OC, KH, KW) = shape.args

            // The oracle's gradients from zero, added to the prefill once.
            var dinp0 = [Float](repeating: 0, count: shape.inputCount)
            var dweight0 = [Float](repeating: 0, count: shape.weightCount)
            var dbias0 = [Float](repeating: 0, count: shape.OC)
            ck_conv2d_backward_ref(&dinp0, &dweight0, &dbias0, dout, inp, weight, B, C, H, W, OC, KH, KW)
            let wantInput = accumulated(prefillInput, dinp0)
            let wantWeight = accumulated(prefillWeight, dweight0)
            let wantBias = accumulated(prefillBias, dbias0)

            // An input pixel meets at most OC*KH*KW products; a weight or a bias
            // sums over every output pixel of every image.  Terms are at most 1,
            // and the prefill (at most 1) is rounded in once more.
            let inputTolerance = Tolerance.float32Sum(terms: shape.OC * shape.KH * shape.KW, termScale: 1, extra: 1)
            let weightTolerance = Tolerance.float32Sum(terms: shape.B * shape.OH * shape.OW, termScale: 1, extra: 1)

            for withInput in [true, false] {
                for withBias in [true, false] {
                    let what = "conv backward \(shape) dinp \(withInput) dbias \(withBias)"
                    var refInput: [Float]? = withInput ? prefillInput : nil
                    var refWeight = prefillWeight
                    var refBias: [Float]? = withBias ? prefillBias : nil
                    withOptionalPointer(&refInput) { dinp in
                        withOptionalPointer(&refBias) { dbias in
                            ck_conv2d_backward_ref(dinp, &refWeight, dbias, dout, inp, weight, B, C, H, W, OC, KH, KW)
                        }
                    }
                    assertClose(refWeight, wantWeight, weightTolerance, "\(what) [ref] dweight")
                    if withInput { assertClose(refInput!, wantInput, inputTolerance, "\(what) [ref] dinp") }
                    if withBias { assertClose(refBias!, wantBias, weightTolerance, "\(what) [ref] dbias") }

                    forEachLayerVariant { variant in
                        var gotInput: [Float]? = withInput ? prefillInput : nil
                        var gotWeight = prefillWeight
                        var gotBias: [Float]? = withBias ? prefillBias : nil
                        var workspace = makeWorkspace(shape)
                        withOptionalPointer(&gotInput) { dinp in
                            withOptionalPointer(&gotBias) { dbias in
                                ck_conv2d_backward(dinp, &gotWeight, dbias, &workspace, dout, inp, weight,
                                                   B, C, H, W, OC, KH, KW)
                            }
                        }
                        assertClose(gotWeight, wantWeight, weightTolerance, "\(what) [\(variant)] dweight")
                        if withInput { assertClose(gotInput!, wantInput, inputTolerance, "\(what) [\(variant)] dinp") }
                        if withBias { assertClose(gotBias!, wantBias, weightTolerance, "\(what) [\(variant)] dbias") }
                        assertWorkspaceTailIntact(workspace, shape, "\(what) [\(variant)]")
                    }
                }
            }
        }
    }

    /// Convolution is linear in each of input, weight and bias, so a central
    /// difference has no truncation error: what remains is the float32
    /// rounding of the ~50 outputs in the loss (about 1e-7 each), divided by
    /// the step 2 * eps = 2e-2, around 1e-5 of a gradient of order 1.  A 1e-3
    /// relative tolerance is therefore safe, and still far below the O(1)
    /// error of a gradient routed to the wrong pixel or weight.
    func testGradientsMatchFiniteDifferences() {
        let shape = ConvShape(B: 2, C: 2, H: 6, W: 5, OC: 3, KH: 3, KW: 2)
        let (B, C, H, W, OC, KH, KW) = shape.args
        var random = TestRandom(seed: 300)
        var inp = random.floats(shape.inputCount)
        var weight = random.floats(shape.weightCount)
        var bias = random.floats(shape.OC)
        let upstream = random.floats(shape.outputCount)
        let eps: Float = 1e-2, rtol = 1e-3

        func loss(_ inp: [Float], _ weight: [Float], _ bias: [Float]) -> Double {
            var out = [Float](repeating: 0, count: shape.outputCount)
            ck_conv2d_forward_ref(&out, inp, weight, bias, B, C, H, W, OC, KH, KW)
            return weightedSum(out, upstream)
        }
        let numericInput = centralDifferences(&inp, eps: eps) { loss($0, weight, bias) }
        let numericWeight = centralDifferences(&weight, eps: eps) { loss(inp, $0, bias) }
        let numericBias = centralDifferences(&bias, eps: eps) { loss(inp, weight, $0) }

        var dinp = [Float](repeating: 0, count: shape.inputCount)
        var dweight = [Float](repeating: 0, count: shape.weightCount)
        var dbias = [Float](repeating: 0, count: shape.OC)
        ck_conv2d_backward_ref(&dinp, &dweight, &dbias, upstream, inp, weight, B, C, H, W, OC, KH, KW)
        assertGradient(dinp, matches: numericInput, rtol: rtol, "conv dinp [ref]")
        assertGradient(dweight, matches: numericWeight, rtol: rtol, "conv dweight [ref]")
        assertGradient(dbias, matches: numericBias, rtol: rtol, "conv dbias [ref]")

        forEachLayerVariant { variant in
            var dinp = [Float](repeating: 0, count: shape.inputCount)
            var dweight = [Float](repeating: 0, count: shape.weightCount)
            var dbias = [Float](repeating: 0, count: shape.OC)
            var workspace = makeWorkspace(shape)
            ck_conv2d_backward(&dinp, &dweight, &dbias, &workspace, upstream, inp, weight, B, C, H, W, OC, KH, KW)
            assertGradient(dinp, matches: numericInput, rtol: rtol, "conv dinp [\(variant)]")
            assertGradient(dweight, matches: numericWeight, rtol: rtol, "conv dweight [\(variant)]")
            assertGradient(dbias, matches: numericBias, rtol: rtol, "conv dbias [\(variant)]")
        }
    }

    // MARK: - Helpers

    /// Exactly the advertised workspace, then 64 sentinels; its contents start
    /// as NaN so that the kernels must not read before they write.
    private func makeWorkspace(_ shape: ConvShape) -> [Float] {
        [Float](repeating: .nan, count: shape.workspaceCount) + [Float](repeating: workspaceSentinel, count: 64)
    }

    private func assertWorkspaceTailIntact(_ workspace: [Float], _ shape: ConvShape, _ what: String,
                                           file: StaticString = #filePath, line: UInt = #line) {
        let tail = Array(workspace[shape.workspaceCount...])
        XCTAssertTrue(tail.allSatisfy { $0 == workspaceSentinel },
                      "\(what): wrote past the \(shape.workspaceCount)-float workspace", file: file, line: line)
    }
}

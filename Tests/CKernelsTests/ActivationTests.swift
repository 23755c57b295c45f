// ActivationTests.swift: ck_bias_activation_forward / _backward for the four
// activations, under every vector variant, against the scalar oracles (which
// use libm's expf and tanhf), and both backward passes against central
// differences.
//
// The fast kernels have two paths, S == 1 (a fully connected layer: the bias
// follows the channel index) and S > 1 (a conv layer: one bias per plane), so
// both are tested, with channel counts that leave vector remainders, with and
// without a bias, in place, and with pre-activations large enough to reach the
// clamps of the vector exp.
import CKernels
import XCTest

private let activations: [(ck_activation, String)] = [
    (CK_ACT_LINEAR, "linear"), (CK_ACT_SIGMOID, "sigmoid"), (CK_ACT_TANH, "tanh"), (CK_ACT_RELU, "relu"),
]

/// (B, C, S): S == 1 is the fully connected path.
private let shapes = [(3, 37, 1), (1, 1, 1), (2, 100, 1), (3, 5, 7), (2, 3, 37), (4, 20, 144)]

final class ActivationTests: KernelTestCase {
    /// The vector exp is a polynomial good to about 2 ulp, and the vector tanh
    /// is 1 - 2 / (1 + e^2x), which near 0 loses relative (but not absolute)
    /// accuracy: a few epsilon absolute plus a few epsilon relative covers both,
    /// while a wrong formula or a wrong bias errs by far more.
    private let forwardTolerance = Tolerance(atol: 8 * float32Epsilon, rtol: 8 * float32Epsilon)

    func testForwardMatchesReference() {
        for (index, (B, C, S)) in shapes.enumerated() {
            var random = TestRandom(seed: 700 + UInt64(index))
            var inp = random.floats(B * C * S, in: -4...4)
            // A few pre-activations far out, where exp overflows or underflows.
            for (i, value) in [Float(-100), 100, -30, 30, 88, -88].enumerated() where i < inp.count {
                inp[(i * 7919) % inp.count] = value
            }
            let bias = random.floats(C)
            for (act, name) in activations {
                for useBias in [true, false] {
                    let what = "bias_activation \(name) B \(B) C \(C) S \(S) bias \(useBias)"
                    var want = [Float](repeating: .nan, count: inp.count)
                    ck_bias_activation_forward_ref(&want, inp, useBias ? bias : nil, Int32(B), Int32(C), Int32(S), act)
                    XCTAssertTrue(want.allSatisfy { $0.isFinite }, "\(what): the oracle produced non-finite values")
                    forEachISA { isa in
                        var got = [Float](repeating: .nan, count: inp.count)
                        ck_bias_activation_forward(&got, inp, useBias ? bias : nil, Int32(B), Int32(C), Int32(S), act)
                        assertClose(got, want, forwardTolerance, "\(what) [\(isa)]")

                        var inPlace = inp  // out may equal inp
                        inPlace.withUnsafeMutableBufferPointer { buffer in
                            ck_bias_activation_forward(buffer.baseAddress, buffer.baseAddress, useBias ? bias : nil,
                                                       Int32(B), Int32(C), Int32(S), act)
                        }
                        assertClose(inPlace, want, forwardTolerance, "\(what) in place [\(isa)]")
                    }
                }
            }
        }
    }

    func testBackwardMatchesReferenceAndAccumulates() {
        for (index, (B, C, S)) in shapes.enumerated() {
            var random = TestRandom(seed: 800 + UInt64(index))
            let dout = random.floats(B * C * S)
            let prefillInput = random.floats(B * C * S)
            let prefillBias = random.floats(C)
            for (act, name) in activations {
                // The saved forward output, as the kernel would have written it.
                let preActivation = random.floats(B * C * S, in: -3...3)
                var out = [Float](repeating: 0, count: B * C * S)
                ck_bias_activation_forward_ref(&out, preActivation, nil, Int32(B), Int32(C), Int32(S), act)

                var dinp0 = [Float](repeating: 0, count: B * C * S)
                var dbias0 = [Float](repeating: 0, count: C)
                ck_bias_activation_backward_ref(&dinp0, &dbias0, dout, out, Int32(B), Int32(C), Int32(S), act)
                let wantInput = accumulated(prefillInput, dinp0)
                let wantBias = accumulated(prefillBias, dbias0)
                // dinp is one product per element; dbias sums B*S of them (each at
                // most 1, as |dout| <= 1 and every slope is at most 1).
                let inputTolerance = Tolerance.float32Sum(terms: 1, termScale: 1, extra: 1)
                let biasTolerance = Tolerance.float32Sum(terms: B * S, termScale: 1, extra: 1)

                for withInput in [true, false] {
                    for withBias in [true, false] {
                        let what = "bias_activation backward \(name) B \(B) C \(C) S \(S) dinp \(withInput) dbias \(withBias)"
                        var refInput: [Float]? = withInput ? prefillInput : nil
                        var refBias: [Float]? = withBias ? prefillBias : nil
                        withOptionalPointer(&refInput) { dinp in
                            withOptionalPointer(&refBias) { dbias in
                                ck_bias_activation_backward_ref(dinp, dbias, dout, out, Int32(B), Int32(C), Int32(S), act)
                            }
                        }
                        if withInput { assertClose(refInput!, wantInput, inputTolerance, "\(what) [ref] dinp") }
                        if withBias { assertClose(refBias!, wantBias, biasTolerance, "\(what) [ref] dbias") }

                        forEachISA { isa in
                            var gotInput: [Float]? = withInput ? prefillInput : nil
                            var gotBias: [Float]? = withBias ? prefillBias : nil
                            withOptionalPointer(&gotInput) { dinp in
                                withOptionalPointer(&gotBias) { dbias in
                                    ck_bias_activation_backward(dinp, dbias, dout, out, Int32(B), Int32(C), Int32(S), act)
                                }
                            }
                            if withInput { assertClose(gotInput!, wantInput, inputTolerance, "\(what) [\(isa)] dinp") }
                            if withBias { assertClose(gotBias!, wantBias, biasTolerance, "\(what) [\(isa)] dbias") }
                        }
                    }
                }
            }
        }
    }

    /// Loss = sum(act(inp + bias) * G).  For sigmoid and tanh the central
    /// difference with eps = 1e-2 has a truncation error of eps^2 |f'''| / 6,
    /// at most about 3e-5 (tanh''' peaks at 2), and the float32 forward adds
    /// rounding noise of about 1e-7 / 2e-2 = 5e-6 per output; a 1e-2 tolerance
    /// on the gradient's scale leaves a wide margin and still catches any wrong
    /// slope, which errs by O(1).  Linear and ReLU have no curvature away from
    /// 0, so they get 1e-3; ReLU pre-activations are kept at least 0.1 from the
    /// kink so that no step crosses it.
    func testGradientsMatchFiniteDifferences() {
        for (B, C, S) in [(3, 5, 1), (2, 3, 4)] {
            for (act, name) in activations {
                var random = TestRandom(seed: 900 + UInt64(S))
                var bias = random.floats(C)
                var inp = random.floats(B * C * S, in: -2...2)
                if act == CK_ACT_RELU {  // |inp + bias| >= 0.1
                    for i in 0..<inp.count {
                        let z = inp[i] + bias[(i / S) % C]
                        if abs(z) < 0.1 { inp[i] += z < 0 ? -0.2 : 0.2 }
                    }
                }
                let upstream = random.floats(B * C * S)
                let rtol = (act == CK_ACT_SIGMOID || act == CK_ACT_TANH) ? 1e-2 : 1e-3
                let what = "bias_activation \(name) B \(B) C \(C) S \(S)"

                func loss(_ inp: [Float], _ bias: [Float]) -> Double {
                    var out = [Float](repeating: 0, count: inp.count)
                    ck_bias_activation_forward_ref(&out, inp, bias, Int32(B), Int32(C), Int32(S), act)
                    return weightedSum(out, upstream)
                }
                let numericInput = centralDifferences(&inp, eps: 1e-2) { loss($0, bias) }
                let numericBias = centralDifferences(&bias, eps: 1e-2) { loss(inp, $0) }

                var out = [Float](repeating: 0, count: inp.count)
                ck_bias_activation_forward_ref(&out, inp, bias, Int32(B), Int32(C), Int32(S), act)
                var dinp = [Float](repeating: 0, count: inp.count)
                var dbias = [Float](repeating: 0, count: C)
                ck_bias_activation_backward_ref(&dinp, &dbias, upstream, out, Int32(B), Int32(C), Int32(S), act)
                assertGradient(dinp, matches: numericInput, rtol: rtol, "\(what) dinp [ref]")
                assertGradient(dbias, matches: numericBias, rtol: rtol, "\(what) dbias [ref]")

                forEachISA { isa in
                    var out = [Float](repeating: 0, count: inp.count)
                    ck_bias_activation_forward(&out, inp, bias, Int32(B), Int32(C), Int32(S), act)
                    var dinp = [Float](repeating: 0, count: inp.count)
                    var dbias = [Float](repeating: 0, count: C)
                    ck_bias_activation_backward(&dinp, &dbias, upstream, out, Int32(B), Int32(C), Int32(S), act)
                    assertGradient(dinp, matches: numericInput, rtol: rtol, "\(what) dinp [\(isa)]")
                    assertGradient(dbias, matches: numericBias, rtol: rtol, "\(what) dbias [\(isa)]")
                }
            }
        }
    }
}

// LinearSoftmaxTests.swift: the fully connected and output-layer kernels:
// ck_linear_forward / _backward (one GEMM each way), ck_softmax_loglik_forward
// / _backward and ck_argmax_rows, against their oracles and central
// differences.
//
// Linear shapes straddle the GEMM's blocks (IN > KC = 256, OUT > NC = 1024)
// and use a forward scale other than 1, as dropout evaluation does.  Softmax is
// also checked with logits of +-80, whose naive exponentials overflow, against
// a log-sum-exp computed here in double, so the oracle itself is checked too.
import CKernels
import Foundation
import XCTest

final class LinearSoftmaxTests: KernelTestCase {
    // MARK: - Linear

    /// (B, IN, OUT)
    private let linearShapes = [(1, 1, 1), (7, 13, 5), (3, 97, 13), (10, 300, 100), (5, 7, 1100),
                                (10, 1440, 100), (17, 300, 33)]

    func testLinearForwardMatchesReference() {
        for (index, (B, IN, OUT)) in linearShapes.enumerated() {
            var random = TestRandom(seed: 1000 + UInt64(index))
            let inp = random.floats(B * IN)
            let weight = random.floats(IN * OUT)
            for scale: Float in [1, 0.5] {
                let what = "linear forward B \(B) IN \(IN) OUT \(OUT) scale \(scale)"
                var want = [Float](repeating: .nan, count: B * OUT)
                ck_linear_forward_ref(&want, inp, weight, scale, Int32(B), Int32(IN), Int32(OUT))
                let tolerance = Tolerance.float32Sum(terms: IN, termScale: scale)
                forEachForwardVariant { variant in
                    var got = [Float](repeating: .nan, count: B * OUT)  // must be overwritten, not added to
                    var scratch = GuardedScratch(ck_linear_scratch_floats(Int32(B), Int32(IN), Int32(OUT)))
                    ck_linear_forward(&got, &scratch.values, inp, weight, scale, Int32(B), Int32(IN), Int32(OUT))
                    assertClose(got, want, tolerance, "\(what) [\(variant)]")
                    scratch.assertIntact("\(what) [\(variant)]")
                }
            }
        }
    }

    /// A dense layer split by rows: each thread multiplies a block of input
    /// features (rows ld_inp = IN apart) by their weight rows.
    func testLinearForwardOfARowBlockMatchesTheBlocksOwnProduct() {
        let (B, IN, OUT) = (10, 2880, 100)
        var random = TestRandom(seed: 1100)
        let inp = random.floats(B * IN)
        let weight = random.floats(IN * OUT)
        for rows in [0..<1440, 1440..<2880, 7..<300] {
            let block = (0..<B).flatMap { b in inp[(b * IN + rows.lowerBound)..<(b * IN + rows.upperBound)] }
            let blockWeights = Array(weight[(rows.lowerBound * OUT)..<(rows.upperBound * OUT)])
            var want = [Float](repeating: .nan, count: B * OUT)
            ck_linear_forward_ref(&want, block, blockWeights, 0.7, Int32(B), Int32(rows.count), Int32(OUT))
            let tolerance = Tolerance.float32Sum(terms: rows.count, termScale: 0.7)
            forEachForwardVariant { variant in
                var got = [Float](repeating: .nan, count: B * OUT)
                // Sized for the block's rows only, as a thread's share is.
                var scratch = GuardedScratch(ck_linear_scratch_floats(Int32(B), Int32(rows.count), Int32(OUT)))
                inp.withUnsafeBufferPointer { all in
                    weight.withUnsafeBufferPointer { weights in
                        ck_linear_forward_rows(&got, &scratch.values, all.baseAddress! + rows.lowerBound, Int32(IN),
                                               weights.baseAddress! + rows.lowerBound * OUT, 0.7,
                                               Int32(B), Int32(rows.count), Int32(OUT))
                    }
                }
                assertClose(got, want, tolerance, "linear forward rows \(rows) [\(variant)]")
                scratch.assertIntact("linear forward rows \(rows) [\(variant)]")
            }
        }
    }

    func testLinearBackwardMatchesReferenceAndAccumulates() {
        for (index, (B, IN, OUT)) in linearShapes.enumerated() {
            var random = TestRandom(seed: 1100 + UInt64(index))
            let inp = random.floats(B * IN)
            let weight = random.floats(IN * OUT)
            let dout = random.floats(B * OUT)
            let prefillInput = random.floats(B * IN)
            let prefillWeight = random.floats(IN * OUT)

            var dinp0 = [Float](repeating: 0, count: B * IN)
            var dweight0 = [Float](repeating: 0, count: IN * OUT)
            ck_linear_backward_ref(&dinp0, &dweight0, dout, inp, weight, Int32(B), Int32(IN), Int32(OUT))
            let wantInput = accumulated(prefillInput, dinp0)
            let wantWeight = accumulated(prefillWeight, dweight0)
            // dinp sums OUT products, dweight sums B; all operands lie in [-1, 1].
            let inputTolerance = Tolerance.float32Sum(terms: OUT, termScale: 1, extra: 1)
            let weightTolerance = Tolerance.float32Sum(terms: B, termScale: 1, extra: 1)

            for withInput in [true, false] {
                let what = "linear backward B \(B) IN \(IN) OUT \(OUT) dinp \(withInput)"
                var refInput: [Float]? = withInput ? prefillInput : nil
                var refWeight = prefillWeight
                withOptionalPointer(&refInput) { dinp in
                    ck_linear_backward_ref(dinp, &refWeight, dout, inp, weight, Int32(B), Int32(IN), Int32(OUT))
                }
                assertClose(refWeight, wantWeight, weightTolerance, "\(what) [ref] dweight")
                if withInput { assertClose(refInput!, wantInput, inputTolerance, "\(what) [ref] dinp") }

                forEachLayerVariant { variant in
                    var gotInput: [Float]? = withInput ? prefillInput : nil
                    var gotWeight = prefillWeight
                    var scratch = GuardedScratch(ck_linear_scratch_floats(Int32(B), Int32(IN), Int32(OUT)))
                    withOptionalPointer(&gotInput) { dinp in
                        ck_linear_backward(dinp, &gotWeight, &scratch.values, dout, inp, weight,
                                           Int32(B), Int32(IN), Int32(OUT))
                    }
                    scratch.assertIntact("\(what) [\(variant)]")
                    assertClose(gotWeight, wantWeight, weightTolerance, "\(what) [\(variant)] dweight")
                    if withInput { assertClose(gotInput!, wantInput, inputTolerance, "\(what) [\(variant)] dinp") }
                }
            }
        }
    }

    /// The layer is bilinear in input and weight, so central differences have
    /// no truncation error; only the float32 rounding of the outputs (about
    /// 1e-7 / 2e-2 relative) remains, and 1e-3 is a safe yet tight tolerance.
    /// Backward takes no scale (training always runs at scale 1), so neither
    /// does the loss.
    func testLinearGradientsMatchFiniteDifferences() {
        let (B, IN, OUT) = (3, 7, 5)
        var random = TestRandom(seed: 1200)
        var inp = random.floats(B * IN)
        var weight = random.floats(IN * OUT)
        let upstream = random.floats(B * OUT)
        func loss(_ inp: [Float], _ weight: [Float]) -> Double {
            var out = [Float](repeating: 0, count: B * OUT)
            ck_linear_forward_ref(&out, inp, weight, 1, Int32(B), Int32(IN), Int32(OUT))
            return weightedSum(out, upstream)
        }
        let numericInput = centralDifferences(&inp, eps: 1e-2) { loss($0, weight) }
        let numericWeight = centralDifferences(&weight, eps: 1e-2) { loss(inp, $0) }

        var dinp = [Float](repeating: 0, count: B * IN)
        var dweight = [Float](repeating: 0, count: IN * OUT)
        ck_linear_backward_ref(&dinp, &dweight, upstream, inp, weight, Int32(B), Int32(IN), Int32(OUT))
        assertGradient(dinp, matches: numericInput, rtol: 1e-3, "linear dinp [ref]")
        assertGradient(dweight, matches: numericWeight, rtol: 1e-3, "linear dweight [ref]")
        forEachLayerVariant { variant in
            var dinp = [Float](repeating: 0, count: B * IN)
            var dweight = [Float](repeating: 0, count: IN * OUT)
            var scratch = [Float](repeating: .nan, count: ck_linear_scratch_floats(Int32(B), Int32(IN), Int32(OUT)))
            ck_linear_backward(&dinp, &dweight, &scratch, upstream, inp, weight, Int32(B), Int32(IN), Int32(OUT))
            assertGradient(dinp, matches: numericInput, rtol: 1e-3, "linear dinp [\(variant)]")
            assertGradient(dweight, matches: numericWeight, rtol: 1e-3, "linear dweight [\(variant)]")
        }
    }

    // MARK: - Softmax and log-likelihood

    func testSoftmaxForwardMatchesReferenceAndDoubleLogSumExp() {
        var cases: [(B: Int, K: Int, logits: [Float], labels: [Int32], name: String)] = []
        for (index, (B, K)) in [(1, 1), (5, 10), (3, 97), (64, 10)].enumerated() {
            var random = TestRandom(seed: 1300 + UInt64(index))
            cases.append((B, K, random.floats(B * K, in: -5...5), random.labels(B, below: K), "random"))
        }
        // Large logits: exp(100) overflows float32 and exp(-80 - 80) underflows,
        // unless the row's peak is taken out first; the label of the first row
        // sits 160 below its peak.
        cases.append((4, 5, [80, -80, 0, 79.5, -3,
                             -80, -80, -80, -80, -80,
                             80, 80, -80, 0, 1,
                             -100, 100, 3, -2, 99], [1, 2, 0, 1], "large logits"))

        for (B, K, logits, labels, name) in cases {
            let what = "softmax_loglik B \(B) K \(K) \(name)"
            let (wantProbs, wantLoss) = doubleSoftmax(logits, labels, B: B, K: K)
            let range = Double(logits.max()! - logits.min()!)
            // probs: K exponentials summed and divided, so a relative error of
            // about K epsilon; entries that underflow differ only below 1e-30.
            let probsTolerance = Tolerance(atol: 1e-30, rtol: Float(K + 4) * float32Epsilon)
            // loss: each row's log-sum-exp minus the label's logit is rounded
            // relative to the logit range, and the mean relative to itself.
            let lossTolerance = 4 * Double(float32Epsilon) * (range + log(Double(K)) + abs(wantLoss))

            var refProbs = [Float](repeating: .nan, count: B * K)
            let refLoss = ck_softmax_loglik_forward_ref(&refProbs, logits, labels, Int32(B), Int32(K))
            assertClose(refProbs, wantProbs, probsTolerance, "\(what) probs [ref vs double]")
            XCTAssertEqual(Double(refLoss), wantLoss, accuracy: lossTolerance, "\(what) loss [ref vs double]")

            forEachISA { isa in
                var probs = [Float](repeating: .nan, count: B * K)
                let loss = ck_softmax_loglik_forward(&probs, logits, labels, Int32(B), Int32(K))
                assertClose(probs, refProbs, probsTolerance, "\(what) probs [\(isa)]")
                XCTAssertEqual(Double(loss), Double(refLoss), accuracy: lossTolerance, "\(what) loss [\(isa)]")
            }
        }
    }

    func testSoftmaxBackwardMatchesReferenceAndAccumulates() {
        for (index, (B, K)) in [(1, 1), (5, 10), (3, 97)].enumerated() {
            var random = TestRandom(seed: 1400 + UInt64(index))
            let logits = random.floats(B * K, in: -5...5)
            let labels = random.labels(B, below: K)
            var probs = [Float](repeating: 0, count: B * K)
            _ = ck_softmax_loglik_forward_ref(&probs, logits, labels, Int32(B), Int32(K))
            let prefill = random.floats(B * K)
            var gradient0 = [Float](repeating: 0, count: B * K)
            ck_softmax_loglik_backward_ref(&gradient0, probs, labels, Int32(B), Int32(K))
            let want = accumulated(prefill, gradient0)
            // One term of at most 1/B per element, on top of the prefill.
            let tolerance = Tolerance.float32Sum(terms: 1, termScale: 1, extra: 1)
            let what = "softmax_loglik backward B \(B) K \(K)"

            var ref = prefill
            ck_softmax_loglik_backward_ref(&ref, probs, labels, Int32(B), Int32(K))
            assertClose(ref, want, tolerance, "\(what) [ref]")
            forEachISA { isa in
                var got = prefill
                ck_softmax_loglik_backward(&got, probs, labels, Int32(B), Int32(K))
                assertClose(got, want, tolerance, "\(what) [\(isa)]")
            }
        }
    }

    /// Here the loss is the returned mean negative log-likelihood itself.  It
    /// is smooth with third derivatives of order 1/B, so eps = 1e-2 leaves a
    /// truncation error near 1e-5, and the float32 loss adds about
    /// 1e-7 / 2e-2 = 5e-6; a 1e-2 tolerance on the gradient's scale (about 1/B)
    /// is comfortable and still catches a missing 1/B or a wrong label.
    func testSoftmaxGradientMatchesFiniteDifferences() {
        let (B, K) = (4, 7)
        var random = TestRandom(seed: 1500)
        var logits = random.floats(B * K, in: -3...3)
        let labels = random.labels(B, below: K)
        var scratch = [Float](repeating: 0, count: B * K)
        let numeric = centralDifferences(&logits, eps: 1e-2) { logits in
            Double(ck_softmax_loglik_forward_ref(&scratch, logits, labels, Int32(B), Int32(K)))
        }
        var probs = [Float](repeating: 0, count: B * K)
        _ = ck_softmax_loglik_forward_ref(&probs, logits, labels, Int32(B), Int32(K))
        var gradient = [Float](repeating: 0, count: B * K)
        ck_softmax_loglik_backward_ref(&gradient, probs, labels, Int32(B), Int32(K))
        assertGradient(gradient, matches: numeric, rtol: 1e-2, "softmax_loglik dlogits [ref]")
        forEachISA { isa in
            var probs = [Float](repeating: 0, count: B * K)
            _ = ck_softmax_loglik_forward(&probs, logits, labels, Int32(B), Int32(K))
            var gradient = [Float](repeating: 0, count: B * K)
            ck_softmax_loglik_backward(&gradient, probs, labels, Int32(B), Int32(K))
            assertGradient(gradient, matches: numeric, rtol: 1e-2, "softmax_loglik dlogits [\(isa)]")
        }
    }

    // MARK: - Argmax

    func testArgmaxRowsPicksTheFirstLargest() {
        var random = TestRandom(seed: 1600)
        let (B, K) = (9, 1000)
        var x = random.floats(B * K)
        let handMade: [([Float], Int32)] = [([1, 3, 3, 2], 1), ([7, 7, 7, 7], 0), ([-5, -4, -3, -2], 3),
                                            ([-1, -9, -2, -3], 0)]
        for (row, (values, _)) in handMade.enumerated() {  // into the first columns, the rest far below
            for k in 0..<K { x[row * K + k] = k < values.count ? values[k] : -100 }
        }
        let want = (0..<B).map { b in firstArgmax(x[b * K..<(b + 1) * K]) }
        for (row, (_, expected)) in handMade.enumerated() { XCTAssertEqual(want[row], expected, "row \(row) by hand") }
        forEachISA { isa in
            var got = [Int32](repeating: -1, count: B)
            ck_argmax_rows(&got, x, Int32(B), Int32(K))
            XCTAssertEqual(got, want, "argmax_rows [\(isa)]")
        }
        var single = [Int32](repeating: -1, count: 1)
        ck_argmax_rows(&single, [42], 1, 1)
        XCTAssertEqual(single, [0], "a single column is its own maximum")
    }

    // MARK: - Helpers

    /// The column of the first largest value in `row`.
    private func firstArgmax(_ row: ArraySlice<Float>) -> Int32 {
        var best = row.startIndex
        for k in row.indices where row[k] > row[best] { best = k }
        return Int32(best - row.startIndex)
    }

    /// Softmax and the mean negative log-likelihood in double, by log-sum-exp.
    private func doubleSoftmax(_ logits: [Float], _ labels: [Int32], B: Int, K: Int) -> ([Float], Double) {
        var probs = [Float](repeating: 0, count: B * K)
        var total = 0.0
        for b in 0..<B {
            let row = logits[b * K..<(b + 1) * K].map(Double.init)
            let peak = row.max()!
            let logSum = peak + log(row.reduce(0) { $0 + exp($1 - peak) })
            for k in 0..<K { probs[b * K + k] = Float(exp(row[k] - logSum)) }
            total += logSum - row[Int(labels[b])]
        }
        return (probs, total / Double(B))
    }
}

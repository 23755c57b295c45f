// BatchNormTests.swift: the batch-normalization kernels (ck_batchnorm_*).
//
// The four kernels that touch every value run under every vector variant
// against their scalar oracles on odd shapes: S == 1 (after a dense layer,
// where the kernels run across channels) and S > 1 (after a conv layer, along
// each plane), with channel counts and plane sizes that leave vector
// remainders, and sentinels after every output to catch a write past the end.
// The whole batch-norm function y = gamma * xhat + beta, statistics taken from
// the batch itself, is checked against central differences; a batch split in
// two parts, as threads split it, against one call; and the scalar helpers
// (finishing the statistics, running averages, evaluation) against values
// worked out by hand.
import CKernels
import XCTest

/// The odd shapes every variant is held to the oracle on.
private let batchSizes = [1, 3, 7]
private let channelCounts = [1, 5, 17, 33]
private let planeSizes = [1, 7, 25, 144]

/// Floats written after each output buffer; a kernel must leave them alone.
private let sentinelCount = 19
private let sentinel = Float(-7.25e30)

/// Asserts that doubles match under |got - want| <= atol + rtol * |want|,
/// printing the first mismatches (the double twin of assertClose).
private func assertCloseDoubles(_ got: [Double], _ want: [Double], atol: Double, rtol: Double,
                                _ what: @autoclosure () -> String,
                                file: StaticString = #filePath, line: UInt = #line) {
    guard got.count == want.count else {
        XCTFail("\(what()): \(got.count) values, expected \(want.count)", file: file, line: line)
        return
    }
    var mismatches: [String] = []
    var mismatchCount = 0
    for i in 0..<got.count where !(abs(got[i] - want[i]) <= atol + rtol * abs(want[i])) {
        mismatchCount += 1
        if mismatches.count < 5 { mismatches.append("[\(i)] got \(got[i]) want \(want[i])") }
    }
    if mismatchCount > 0 {
        XCTFail("\(what()): \(mismatchCount) of \(got.count) values differ beyond atol \(atol), rtol \(rtol); "
                + mismatches.joined(separator: ", "), file: file, line: line)
    }
}

/// For double sums of `terms` terms, each exact in double (a float, or a
/// product of two floats) and at most `termScale` in magnitude, compared with
/// a sum in another order.  The classic bound for recursive summation: each
/// addition errs by at most half an epsilon of the running sum, so a sum of n
/// terms errs by at most n * epsilon/2 * sum|terms|, and the two orders
/// together by epsilon * n * (n * termScale + extra).  Sums of squares (all
/// positive, so the running sum only grows) come within a tenth of it.  At
/// these shapes it is below 1e-9 of one term, so a missing, doubled or
/// misplaced term still fails by orders of magnitude.
private func doubleSumTolerance(terms: Int, termScale: Double, extra: Double) -> (atol: Double, rtol: Double) {
    let n = Double(max(terms, 1))
    return (Double.ulpOfOne * n * (n * termScale + extra), 4 * Double.ulpOfOne)
}

/// `values` followed by the sentinels.
private func withSentinels(_ values: [Float]) -> [Float] {
    values + [Float](repeating: sentinel, count: sentinelCount)
}

/// Splits a buffer made by withSentinels back into its values, asserting the
/// sentinels survived.
private func checkedValues(_ buffer: [Float], count: Int, _ what: @autoclosure () -> String,
                           file: StaticString = #filePath, line: UInt = #line) -> [Float] {
    assertClose(Array(buffer[count...]), [Float](repeating: sentinel, count: sentinelCount), .exact,
                "\(what()): the floats after the output", file: file, line: line)
    return Array(buffer[..<count])
}

/// A batch whose channels have their own offsets and spreads, so that a
/// kernel mixing channels up, or ignoring the mean, errs visibly.
private func channelData(_ random: inout TestRandom, B: Int, C: Int, S: Int) -> [Float] {
    let offsets = random.floats(C, in: -2...2)
    let spreads = random.floats(C, in: 0.25...1.5)
    var x = random.floats(B * C * S)
    for i in 0..<x.count {
        let c = (i / S) % C
        x[i] = offsets[c] + spreads[c] * x[i]
    }
    return x
}

/// Mean and invstd of a batch by the kernels under test, with N = B * S.
private func batchStatistics(_ x: [Float], B: Int, C: Int, S: Int, eps: Float = 1e-5)
    -> (mean: [Float], variance: [Float], invstd: [Float]) {
    var sum = [Double](repeating: 0, count: C), sumsq = [Double](repeating: 0, count: C)
    ck_batchnorm_stats_partial(&sum, &sumsq, x, Int32(B), Int32(C), Int32(S))
    var mean = [Float](repeating: 0, count: C), variance = mean, invstd = mean
    ck_batchnorm_stats_finish(&mean, &variance, &invstd, sum, sumsq, Int64(B * S), eps, Int32(C))
    return (mean, variance, invstd)
}

final class BatchNormTests: KernelTestCase {
    private func forEachShape(_ body: (Int, Int, Int, inout TestRandom) -> Void) {
        for B in batchSizes {
            for C in channelCounts {
                for S in planeSizes {
                    var random = TestRandom(seed: UInt64(10_000 + 1000 * B + 10 * C + S))
                    body(B, C, S, &random)
                }
            }
        }
    }

    // MARK: - Every variant against the oracles

    func testStatsPartialMatchesReferenceAndAccumulates() {
        forEachShape { B, C, S, random in
            let x = channelData(&random, B: B, C: C, S: S)
            let prefillSum = random.floats(C).map(Double.init)
            let prefillSquares = random.floats(C, in: 0...1).map(Double.init)
            var wantSum = prefillSum, wantSquares = prefillSquares
            ck_batchnorm_stats_partial_ref(&wantSum, &wantSquares, x, Int32(B), Int32(C), Int32(S))
            let largest = Double(maxMagnitude(x))
            let sumTolerance = doubleSumTolerance(terms: B * S, termScale: largest, extra: 1)
            let squaresTolerance = doubleSumTolerance(terms: B * S, termScale: largest * largest, extra: 1)
            forEachISA { isa in
                let what = "stats_partial B \(B) C \(C) S \(S) [\(isa)]"
                var sum = prefillSum, squares = prefillSquares
                ck_batchnorm_stats_partial(&sum, &squares, x, Int32(B), Int32(C), Int32(S))
                assertCloseDoubles(sum, wantSum, atol: sumTolerance.atol, rtol: sumTolerance.rtol, "\(what) sum")
                assertCloseDoubles(squares, wantSquares, atol: squaresTolerance.atol, rtol: squaresTolerance.rtol,
                                   "\(what) sumsq")
            }
        }
    }

    /// The oracle rounds once from double; the kernels round x - mean, the
    /// product with invstd and (for out) the one with gamma, each correctly
    /// rounded, so both are within a few epsilon of the exact value relative
    /// to itself, whatever the cancellation in x - mean.
    func testForwardMatchesReferenceWithAndWithoutXhatAndInPlace() {
        let tolerance = Tolerance(atol: Float.leastNormalMagnitude, rtol: 4 * float32Epsilon)
        forEachShape { B, C, S, random in
            let n = B * C * S
            let x = channelData(&random, B: B, C: C, S: S)
            let mean = random.floats(C, in: -2...2)
            let invstd = random.floats(C, in: 0.5...3)
            let gamma = random.floats(C, in: -2...2)
            var wantOut = [Float](repeating: .nan, count: n), wantXhat = wantOut
            ck_batchnorm_forward_ref(&wantOut, &wantXhat, x, mean, invstd, gamma, Int32(B), Int32(C), Int32(S))
            forEachISA { isa in
                let what = "forward B \(B) C \(C) S \(S) [\(isa)]"
                var out = withSentinels([Float](repeating: .nan, count: n)), xhat = out
                ck_batchnorm_forward(&out, &xhat, x, mean, invstd, gamma, Int32(B), Int32(C), Int32(S))
                let gotOut = checkedValues(out, count: n, "\(what) out")
                assertClose(gotOut, wantOut, tolerance, "\(what) out")
                assertClose(checkedValues(xhat, count: n, "\(what) xhat"), wantXhat, tolerance, "\(what) xhat")

                var evaluationOut = withSentinels([Float](repeating: .nan, count: n))
                ck_batchnorm_forward(&evaluationOut, nil, x, mean, invstd, gamma, Int32(B), Int32(C), Int32(S))
                assertClose(checkedValues(evaluationOut, count: n, "\(what) xhat NULL"), gotOut, .exact,
                            "\(what) out with xhat NULL")

                var inPlace = withSentinels(x)
                inPlace.withUnsafeMutableBufferPointer { buffer in
                    ck_batchnorm_forward(buffer.baseAddress, nil, buffer.baseAddress, mean, invstd, gamma,
                                         Int32(B), Int32(C), Int32(S))
                }
                assertClose(checkedValues(inPlace, count: n, "\(what) in place"), gotOut, .exact,
                            "\(what) out in place")
            }
        }
    }

    func testBackwardPartialMatchesReferenceAndAccumulates() {
        forEachShape { B, C, S, random in
            let dout = random.floats(B * C * S)
            let xhat = random.floats(B * C * S, in: -2.5...2.5)
            let prefillGamma = random.floats(C).map(Double.init)
            let prefillBeta = random.floats(C).map(Double.init)
            var wantGamma = prefillGamma, wantBeta = prefillBeta
            ck_batchnorm_backward_partial_ref(&wantGamma, &wantBeta, dout, xhat, Int32(B), Int32(C), Int32(S))
            let gammaTolerance = doubleSumTolerance(terms: B * S, termScale: 2.5, extra: 1)
            let betaTolerance = doubleSumTolerance(terms: B * S, termScale: 1, extra: 1)
            forEachISA { isa in
                let what = "backward_partial B \(B) C \(C) S \(S) [\(isa)]"
                var dgamma = prefillGamma, dbeta = prefillBeta
                ck_batchnorm_backward_partial(&dgamma, &dbeta, dout, xhat, Int32(B), Int32(C), Int32(S))
                assertCloseDoubles(dgamma, wantGamma, atol: gammaTolerance.atol, rtol: gammaTolerance.rtol,
                                   "\(what) dgamma")
                assertCloseDoubles(dbeta, wantBeta, atol: betaTolerance.atol, rtol: betaTolerance.rtol,
                                   "\(what) dbeta")
            }
        }
    }

    /// The kernels compute scale * (dout - dbeta/N - xhat * dgamma/N) in
    /// float, from factors rounded to float once: a few roundings, each at
    /// most epsilon times |scale| * (|dout| + |dbeta/N| + |xhat * dgamma/N|),
    /// plus one for adding into the prefilled gradient.  N is twice this
    /// part's values, as when another thread holds the other half.
    func testBackwardMatchesReferenceAndAccumulates() {
        forEachShape { B, C, S, random in
            let n = B * C * S
            let N = 2 * B * S
            let dout = random.floats(n)
            let xhat = random.floats(n, in: -2.5...2.5)
            let dgamma = random.floats(C, in: -0.5...0.5).map { Double($0) * Double(N) }
            let dbeta = random.floats(C, in: -0.5...0.5).map { Double($0) * Double(N) }
            let gamma = random.floats(C, in: -2...2)
            let invstd = random.floats(C, in: 0.5...3)
            let prefill = random.floats(n)
            var want = prefill
            ck_batchnorm_backward_ref(&want, dout, xhat, dgamma, dbeta, gamma, invstd, Int64(N),
                                      Int32(B), Int32(C), Int32(S))
            let termScale = 2 * 3 * (1 + 0.5 + 2.5 * 0.5) as Float  // |scale| * (|dout| + |mb| + |xhat * mg|)
            let tolerance = Tolerance(atol: 4 * float32Epsilon * termScale + 2 * float32Epsilon,
                                      rtol: 4 * float32Epsilon)
            forEachISA { isa in
                let what = "backward B \(B) C \(C) S \(S) [\(isa)]"
                var dinp = withSentinels(prefill)
                ck_batchnorm_backward(&dinp, dout, xhat, dgamma, dbeta, gamma, invstd, Int64(N),
                                      Int32(B), Int32(C), Int32(S))
                assertClose(checkedValues(dinp, count: n, "\(what) dinp"), want, tolerance, "\(what) dinp")
                // No input gradient (the first layer): nothing to do, nothing touched.
                ck_batchnorm_backward(nil, dout, xhat, dgamma, dbeta, gamma, invstd, Int64(N),
                                      Int32(B), Int32(C), Int32(S))
            }
        }
    }

    // MARK: - Gradients

    /// Loss = sum(G * y), y = gamma * xhat + beta with the statistics of the
    /// batch itself, against the analytic chain the network runs:
    /// ck_bias_activation_backward (linear) for dpre, then backward_partial
    /// and backward.
    ///
    /// With eps = 1e-2 on inputs of spread about 1, the truncation error of a
    /// central difference is eps^2 / 6 times a third derivative of order
    /// invstd^3 / N, below 1e-5 of the gradient's scale.  The float32 forward
    /// rounds each of a channel's outputs (and its mean and invstd) by half an
    /// epsilon, which perturbs the loss by about sqrt(N) * 1e-7 and the
    /// difference quotient by that over 2 eps: a few 1e-5 of the scale (dbeta,
    /// whose loss is exactly linear, shows this noise alone, 7e-6).  Measured,
    /// every derivative here agrees within 1e-4 of its gradient's scale; 1e-3
    /// leaves ten times that and still catches any wrong term (dropping the
    /// mean or the variance path errs by a good fraction of the scale at
    /// N = 7 and 21).
    func testGradientsMatchFiniteDifferences() {
        for (B, C, S) in [(3, 4, 7), (7, 5, 1)] {
            var random = TestRandom(seed: 4242 + UInt64(S))
            var x = channelData(&random, B: B, C: C, S: S)
            var gamma = random.floats(C, in: 0.5...2).enumerated().map { $0.offset % 2 == 0 ? $0.element : -$0.element }
            var beta = random.floats(C)
            let upstream = random.floats(B * C * S)
            let n = B * C * S, N = Int64(B * S)

            func forward(_ x: [Float], _ gamma: [Float], _ beta: [Float])
                -> (out: [Float], xhat: [Float], invstd: [Float]) {
                let stats = batchStatistics(x, B: B, C: C, S: S)
                var out = [Float](repeating: 0, count: n), xhat = out
                ck_batchnorm_forward(&out, &xhat, x, stats.mean, stats.invstd, gamma, Int32(B), Int32(C), Int32(S))
                out.withUnsafeMutableBufferPointer { buffer in
                    ck_bias_activation_forward(buffer.baseAddress, buffer.baseAddress, beta,
                                               Int32(B), Int32(C), Int32(S), CK_ACT_LINEAR)
                }
                return (out, xhat, stats.invstd)
            }

            forEachISA { isa in
                let what = "batch norm B \(B) C \(C) S \(S) [\(isa)]"
                let numericInput = centralDifferences(&x, eps: 1e-2) { weightedSum(forward($0, gamma, beta).out, upstream) }
                let numericGamma = centralDifferences(&gamma, eps: 1e-2) { weightedSum(forward(x, $0, beta).out, upstream) }
                let numericBeta = centralDifferences(&beta, eps: 1e-2) { weightedSum(forward(x, gamma, $0).out, upstream) }

                let saved = forward(x, gamma, beta)
                var dpre = [Float](repeating: 0, count: n)
                ck_bias_activation_backward(&dpre, nil, upstream, saved.out, Int32(B), Int32(C), Int32(S), CK_ACT_LINEAR)
                var dgamma = [Double](repeating: 0, count: C), dbeta = dgamma
                ck_batchnorm_backward_partial(&dgamma, &dbeta, dpre, saved.xhat, Int32(B), Int32(C), Int32(S))
                var dinp = [Float](repeating: 0, count: n)
                ck_batchnorm_backward(&dinp, dpre, saved.xhat, dgamma, dbeta, gamma, saved.invstd, N,
                                      Int32(B), Int32(C), Int32(S))

                assertGradient(dinp, matches: numericInput, rtol: 1e-3, "\(what) dinp")
                assertGradient(dgamma.map(Float.init), matches: numericGamma, rtol: 1e-3, "\(what) dgamma")
                assertGradient(dbeta.map(Float.init), matches: numericBeta, rtol: 1e-3, "\(what) dbeta")
            }
        }
    }

    // MARK: - A batch split across threads

    /// Two parts (3 and 4 samples of 7), their partial sums added in part
    /// order, give one call's sums within double rounding and its statistics
    /// within a float rounding; with the same statistics and totals, the
    /// per-part forward and backward are element by element the one call's.
    func testSplitBatchMatchesOneCall() {
        for (C, S) in [(5, 25), (33, 1), (17, 7)] {
            let B = 7, first = 3
            var random = TestRandom(seed: 5151 + UInt64(C * S))
            let x = channelData(&random, B: B, C: C, S: S)
            let gamma = random.floats(C, in: -2...2)
            let dout = random.floats(B * C * S)
            let prefill = random.floats(B * C * S)
            let n = B * C * S, split = first * C * S, N = Int64(B * S)
            let parts = [(offset: 0, samples: first), (offset: split, samples: B - first)]
            let largest = Double(maxMagnitude(x))
            let sumTolerance = doubleSumTolerance(terms: B * S, termScale: largest * largest, extra: 0)

            forEachISA { isa in
                let what = "split batch C \(C) S \(S) [\(isa)]"
                var wholeSum = [Double](repeating: 0, count: C), wholeSquares = wholeSum
                ck_batchnorm_stats_partial(&wholeSum, &wholeSquares, x, Int32(B), Int32(C), Int32(S))
                var sum = [Double](repeating: 0, count: C), squares = sum
                for part in parts {
                    var partSum = [Double](repeating: 0, count: C), partSquares = partSum
                    x.withUnsafeBufferPointer { p in
                        ck_batchnorm_stats_partial(&partSum, &partSquares, p.baseAddress! + part.offset,
                                                   Int32(part.samples), Int32(C), Int32(S))
                    }
                    for c in 0..<C { sum[c] += partSum[c]; squares[c] += partSquares[c] }
                }
                assertCloseDoubles(sum, wholeSum, atol: sumTolerance.atol, rtol: sumTolerance.rtol, "\(what) sum")
                assertCloseDoubles(squares, wholeSquares, atol: sumTolerance.atol, rtol: sumTolerance.rtol,
                                   "\(what) sumsq")

                var mean = [Float](repeating: 0, count: C), variance = mean, invstd = mean
                ck_batchnorm_stats_finish(&mean, &variance, &invstd, sum, squares, N, 1e-5, Int32(C))
                let whole = batchStatistics(x, B: B, C: C, S: S)
                let statsTolerance = Tolerance(atol: 0, rtol: 2 * float32Epsilon)
                assertClose(mean, whole.mean, Tolerance(atol: 1e-6, rtol: 2 * float32Epsilon), "\(what) mean")
                assertClose(variance, whole.variance, statsTolerance, "\(what) var")
                assertClose(invstd, whole.invstd, statsTolerance, "\(what) invstd")

                var wholeOut = [Float](repeating: .nan, count: n), wholeXhat = wholeOut
                ck_batchnorm_forward(&wholeOut, &wholeXhat, x, mean, invstd, gamma, Int32(B), Int32(C), Int32(S))
                var out = [Float](repeating: .nan, count: n), xhat = out
                out.withUnsafeMutableBufferPointer { o in
                    xhat.withUnsafeMutableBufferPointer { h in
                        x.withUnsafeBufferPointer { p in
                            for part in parts {
                                ck_batchnorm_forward(o.baseAddress! + part.offset, h.baseAddress! + part.offset,
                                                     p.baseAddress! + part.offset, mean, invstd, gamma,
                                                     Int32(part.samples), Int32(C), Int32(S))
                            }
                        }
                    }
                }
                assertClose(out, wholeOut, .exact, "\(what) out")
                assertClose(xhat, wholeXhat, .exact, "\(what) xhat")

                var wholeGamma = [Double](repeating: 0, count: C), wholeBeta = wholeGamma
                ck_batchnorm_backward_partial(&wholeGamma, &wholeBeta, dout, xhat, Int32(B), Int32(C), Int32(S))
                var dgamma = [Double](repeating: 0, count: C), dbeta = dgamma
                for part in parts {
                    var partGamma = [Double](repeating: 0, count: C), partBeta = partGamma
                    dout.withUnsafeBufferPointer { d in
                        xhat.withUnsafeBufferPointer { h in
                            ck_batchnorm_backward_partial(&partGamma, &partBeta, d.baseAddress! + part.offset,
                                                          h.baseAddress! + part.offset,
                                                          Int32(part.samples), Int32(C), Int32(S))
                        }
                    }
                    for c in 0..<C { dgamma[c] += partGamma[c]; dbeta[c] += partBeta[c] }
                }
                let gradientTolerance = doubleSumTolerance(terms: B * S, termScale: 4, extra: 0)
                assertCloseDoubles(dgamma, wholeGamma, atol: gradientTolerance.atol, rtol: gradientTolerance.rtol,
                                   "\(what) dgamma")
                assertCloseDoubles(dbeta, wholeBeta, atol: gradientTolerance.atol, rtol: gradientTolerance.rtol,
                                   "\(what) dbeta")

                var wholeInput = prefill
                ck_batchnorm_backward(&wholeInput, dout, xhat, dgamma, dbeta, gamma, invstd, N,
                                      Int32(B), Int32(C), Int32(S))
                var dinp = prefill
                dinp.withUnsafeMutableBufferPointer { di in
                    dout.withUnsafeBufferPointer { d in
                        xhat.withUnsafeBufferPointer { h in
                            for part in parts {
                                ck_batchnorm_backward(di.baseAddress! + part.offset, d.baseAddress! + part.offset,
                                                      h.baseAddress! + part.offset, dgamma, dbeta, gamma, invstd, N,
                                                      Int32(part.samples), Int32(C), Int32(S))
                            }
                        }
                    }
                }
                assertClose(dinp, wholeInput, .exact, "\(what) dinp")
                XCTAssertTrue(dinp != prefill, "\(what): backward changed nothing")
            }
        }
    }

    // MARK: - The scalar helpers, by hand

    /// Channel 0 holds 1, 2, 3, 4: mean 2.5, E[x^2] 7.5, var 7.5 - 6.25 =
    /// 1.25.  Channel 1's sums say E[x^2] falls below mean^2 (rounding in a
    /// near-constant channel): var clamps to 0 and invstd is 1/sqrt(eps).
    func testStatsFinishByHand() {
        let eps: Float = 1e-5
        let sum: [Double] = [10, 4]
        let squares: [Double] = [30, 4 * (1 - 1e-12)]
        var mean = [Float](repeating: .nan, count: 2), variance = mean, invstd = mean
        ck_batchnorm_stats_finish(&mean, &variance, &invstd, sum, squares, 4, eps, 2)
        assertClose(mean, [2.5, 1], .exact, "mean")
        assertClose(variance, [1.25, 0], .exact, "biased var, clamped at 0")
        assertClose(invstd, [Float(1 / (1.25 + Double(eps)).squareRoot()), Float(1 / Double(eps).squareRoot())],
                    Tolerance(atol: 0, rtol: float32Epsilon), "invstd")
    }

    /// momentum 0.1, N 10 (so the batch variance is scaled by 10/9):
    /// mean 0.9 * 1 + 0.1 * 3 = 1.2 and 0.9 * -2 + 0 = -1.8; var 0.9 * 0.5 +
    /// 0.1 * 0.9 * 10/9 = 0.55 and 0.9 * 2 + 0.1 * 0.36 * 10/9 = 1.84.  With
    /// N == 1 there is no unbiased variance, and the batch's is used as is.
    func testCombineAddsThePartsInOrderAndGradientsAccumulate() {
        // Three parts of two sums each; 1e16 + 1 - 1e16 shows the order (left to right gives 0).
        let partials: [Double] = [1e16, 3, 1, 4, -1e16, 5]
        var totals = [Double](repeating: .nan, count: 2)
        ck_batchnorm_combine(&totals, partials, 3, 2)
        XCTAssertEqual(totals, [(1e16 + 1) - 1e16, 12])
        var one = [Double](repeating: .nan, count: 2)
        ck_batchnorm_combine(&one, partials, 1, 2)
        XCTAssertEqual(one, [1e16, 3])
        var grads: [Float] = [0.5, -1]
        ck_batchnorm_add_gradients(&grads, [2.25, 1e-3], 2)
        XCTAssertEqual(grads, [2.75, -1 + Float(1e-3)])
    }

    func testRunningUpdateByHand() {
        var runningMean: [Float] = [1, -2], runningVar: [Float] = [0.5, 2]
        ck_batchnorm_running_update(&runningMean, &runningVar, [3, 0], [0.9, 0.36], 0.1, 10, 2)
        let tolerance = Tolerance(atol: 0, rtol: 2 * float32Epsilon)
        assertClose(runningMean, [1.2, -1.8], tolerance, "running mean")
        assertClose(runningVar, [0.55, 1.84], tolerance, "running var")

        var singleMean: [Float] = [0], singleVar: [Float] = [1]
        ck_batchnorm_running_update(&singleMean, &singleVar, [4], [2], 0.5, 1, 1)
        assertClose(singleMean, [2], .exact, "running mean, N 1")
        assertClose(singleVar, [1.5], .exact, "running var, N 1")
    }

    /// Evaluation: invstd from the running variance, then the forward without
    /// xhat.  With eps 0 and variances 4 and 0.25, invstd is exactly 0.5 and
    /// 2, and gamma * (x - mean) * invstd is exact: (5 - 1) * 0.5 * 1.5 = 3,
    /// (-1 - 1) * 0.5 * 1.5 = -1.5, (0.5 - -0.25) * 2 * -2 = -3, and so on.
    /// With eps 1e-5 the result is checked against the same in double.
    func testEvaluationFormByHand() {
        let B = 2, C = 2, S = 2
        let x: [Float] = [5, -1, 0.5, 1, 3, 1, -0.25, 0]  // (b, c, s)
        let runningMean: [Float] = [1, -0.25], runningVar: [Float] = [4, 0.25]
        let gamma: [Float] = [1.5, -2]
        forEachISA { isa in
            var invstd = [Float](repeating: .nan, count: C)
            ck_batchnorm_invstd(&invstd, runningVar, 0, Int32(C))
            assertClose(invstd, [0.5, 2], .exact, "invstd, eps 0 [\(isa)]")
            var out = [Float](repeating: .nan, count: x.count)
            ck_batchnorm_forward(&out, nil, x, runningMean, invstd, gamma, Int32(B), Int32(C), Int32(S))
            assertClose(out, [3, -1.5, -3, -5, 1.5, 0, 0, -1], .exact, "evaluation out, eps 0 [\(isa)]")

            let eps: Float = 1e-5
            ck_batchnorm_invstd(&invstd, runningVar, eps, Int32(C))
            ck_batchnorm_forward(&out, nil, x, runningMean, invstd, gamma, Int32(B), Int32(C), Int32(S))
            let want = x.indices.map { i -> Float in
                let c = (i / S) % C
                return Float(Double(gamma[c]) * (Double(x[i]) - Double(runningMean[c]))
                             / (Double(runningVar[c]) + Double(eps)).squareRoot())
            }
            assertClose(out, want, Tolerance(atol: 0, rtol: 4 * float32Epsilon), "evaluation out, eps 1e-5 [\(isa)]")
        }
    }
}

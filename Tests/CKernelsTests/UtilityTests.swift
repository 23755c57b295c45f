// UtilityTests.swift: the SGD step (vectorised, so run under every variant)
// and the small helpers the Swift layer leans on: ck_sum_squares,
// ck_all_finite and ck_u8_to_float.
import CKernels
import XCTest

final class UtilityTests: KernelTestCase {
    /// One step is p - eta (g + l2 p) with |p|, |g| <= 1: a handful of
    /// roundings of values at most about 1, which FMA contraction in the
    /// vector variants may fuse differently from the oracle.  Momentum adds
    /// v = mu v + d (|v| <= about 3) and, for Nesterov, d + mu v: a few more.
    func testSgdUpdateMatchesReferenceAndDouble() {
        for n in [1, 15, 16, 17, 31, 1003] {
            var random = TestRandom(seed: 2100 + UInt64(n))
            let params = random.floats(n)
            let grads = random.floats(n)
            let startVelocity = random.floats(n)
            for (eta, l2): (Float, Float) in [(0.1, 0), (0.03, 5e-4), (1, 0.3)] {
                for (mu, nesterov): (Float, Int32) in [(0, 0), (0.9, 0), (0.5, 1)] {
                    let tolerance = mu == 0
                        ? Tolerance(atol: 4 * float32Epsilon, rtol: 4 * float32Epsilon)
                        : Tolerance(atol: 16 * float32Epsilon, rtol: 4 * float32Epsilon)
                    let what = "sgd_update n \(n) eta \(eta) l2 \(l2) mu \(mu) nesterov \(nesterov)"
                    var want = params, wantVelocity = startVelocity
                    withOptionalPointer(to: &wantVelocity, if: mu > 0) { velocity in
                        ck_sgd_update_ref(&want, grads, eta, l2, velocity, mu, nesterov, n)
                    }
                    var exact: [Float] = [], exactVelocity: [Float] = []
                    for i in 0..<n {
                        let d = Double(grads[i]) + Double(l2) * Double(params[i])
                        let v = mu > 0 ? Double(mu) * Double(startVelocity[i]) + d : 0
                        let step = mu == 0 ? d : (nesterov != 0 ? d + Double(mu) * v : v)
                        exact.append(Float(Double(params[i]) - Double(eta) * step))
                        exactVelocity.append(mu > 0 ? Float(v) : startVelocity[i])
                    }
                    assertClose(want, exact, tolerance, "\(what) [ref vs double]")
                    assertClose(wantVelocity, exactVelocity, tolerance, "\(what) [ref velocity vs double]")
                    forEachISA { isa in
                        var got = params, gotVelocity = startVelocity
                        withOptionalPointer(to: &gotVelocity, if: mu > 0) { velocity in
                            ck_sgd_update(&got, grads, eta, l2, velocity, mu, nesterov, n)
                        }
                        assertClose(got, want, tolerance, "\(what) [\(isa)]")
                        assertClose(gotVelocity, wantVelocity, tolerance, "\(what) [\(isa)] velocity")
                    }
                }
            }
        }
    }

    /// The threaded update sums per-thread gradients (weighted) in thread
    /// order, then steps like ck_sgd_update: checked against that
    /// composition through the oracle, across its 1024-value blocks.
    func testCombinedUpdateEqualsSummedGradientsThroughTheOracle() {
        for n in [1, 17, 1024, 2500] {
            var random = TestRandom(seed: 2300 + UInt64(n))
            let params = random.floats(n), startVelocity = random.floats(n)
            let parts = (0..<3).map { _ in random.floats(n) }
            let weights: [Float] = [1, 0.5, 2]
            var summed = [Float](repeating: 0, count: n)
            for i in 0..<n { summed[i] = weights[0] * parts[0][i] + weights[1] * parts[1][i] + weights[2] * parts[2][i] }
            for (mu, nesterov): (Float, Int32) in [(0, 0), (0.9, 0), (0.9, 1)] {
                let what = "sgd_update_combined n \(n) mu \(mu) nesterov \(nesterov)"
                var want = params, wantVelocity = startVelocity
                withOptionalPointer(to: &wantVelocity, if: mu > 0) { velocity in
                    ck_sgd_update_ref(&want, summed, 0.05, 0.01, velocity, mu, nesterov, n)
                }
                forEachISA { isa in
                    var got = params, gotVelocity = startVelocity
                    parts[0].withUnsafeBufferPointer { p0 in
                        parts[1].withUnsafeBufferPointer { p1 in
                            parts[2].withUnsafeBufferPointer { p2 in
                                let sources: [UnsafePointer<Float>?] = [p0.baseAddress, p1.baseAddress, p2.baseAddress]
                                withOptionalPointer(to: &gotVelocity, if: mu > 0) { velocity in
                                    ck_sgd_update_combined(&got, sources, weights, 3, 0.05, 0.01,
                                                           velocity, mu, nesterov, n)
                                }
                            }
                        }
                    }
                    // Three products summed (|sum| <= 3.5), then the step's roundings.
                    let tolerance = Tolerance(atol: 24 * float32Epsilon, rtol: 4 * float32Epsilon)
                    assertClose(got, want, tolerance, "\(what) [\(isa)]")
                    assertClose(gotVelocity, wantVelocity, tolerance, "\(what) [\(isa)] velocity")
                    XCTAssertNotEqual(got, params, "\(what) [\(isa)]: nothing moved")
                }
            }
        }
    }

    /// The expansion's shifted load against a plain loop, for every shift
    /// of up to two pixels, on a 3-channel odd-sized image.
    func testShiftedByteLoadMatchesAPlainLoop() {
        let (C, H, W) = (3, 5, 7)
        var random = TestRandom(seed: 2400)
        let bytes = (0..<(C * H * W)).map { _ in UInt8(truncatingIfNeeded: Int(random.unit() * 256)) }
        for dy in -2...2 {
            for dx in -2...2 {
                var got = [Float](repeating: -1, count: C * H * W)
                ck_u8_to_float_shifted(&got, bytes, 1.0 / 256.0, Int32(C), Int32(H), Int32(W), Int32(dy), Int32(dx))
                var want = [Float](repeating: 0, count: C * H * W)
                for c in 0..<C {
                    for y in 0..<H {
                        for x in 0..<W where (0..<H).contains(y - dy) && (0..<W).contains(x - dx) {
                            want[(c * H + y) * W + x] = Float(bytes[(c * H + y - dy) * W + x - dx]) / 256
                        }
                    }
                }
                XCTAssertEqual(got, want, "shift (\(dy), \(dx))")
            }
        }
    }

    func testSumSquaresAccumulatesInDouble() {
        XCTAssertEqual(ck_sum_squares(nil, 0), 0, "an empty sum is 0")
        var random = TestRandom(seed: 2200)
        let x = random.floats(10_001, in: -3...3)
        let want = x.reduce(0.0) { $0 + Double($1) * Double($1) }
        XCTAssertEqual(ck_sum_squares(x, x.count), want, accuracy: 1e-12 * want)
        // Squares that overflow or underflow float32 but not double.
        let huge: Float = 1e20, tiny: Float = 1e-30
        XCTAssertEqual(ck_sum_squares([huge, 3, -2], 3), Double(huge) * Double(huge) + 13,
                       accuracy: 1e-12 * Double(huge) * Double(huge))
        XCTAssertEqual(ck_sum_squares([tiny, -tiny, tiny, tiny], 4), 4 * Double(tiny) * Double(tiny),
                       accuracy: 1e-12 * Double(tiny) * Double(tiny))
    }

    func testAllFiniteRejectsNaNAndInfinitiesAnywhere() {
        XCTAssertEqual(ck_all_finite(nil, 0), 1, "nothing is non-finite in an empty buffer")
        var random = TestRandom(seed: 2300)
        let clean = random.floats(37) + [.greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                         .leastNonzeroMagnitude, -0.0]
        XCTAssertEqual(ck_all_finite(clean, clean.count), 1, "finite values, extremes included")
        for bad: Float in [.nan, -.nan, .signalingNaN, .infinity, -.infinity] {
            for position in [0, 20, clean.count - 1] {
                var x = clean
                x[position] = bad
                XCTAssertEqual(ck_all_finite(x, x.count), 0, "\(bad) at \(position) of \(x.count)")
            }
        }
    }

    func testU8ToFloatScalesEveryByte() {
        let bytes = (0..<517).map { UInt8($0 % 256) }
        for scale: Float in [1.0 / 256, 1.0 / 255, 1] {
            var out = [Float](repeating: .nan, count: bytes.count)
            ck_u8_to_float(&out, bytes, scale, bytes.count)
            assertClose(out, bytes.map { Float($0) * scale }, .exact, "u8_to_float scale \(scale)")
        }
        var pixel = [Float](repeating: .nan, count: 1)
        ck_u8_to_float(&pixel, [255], 1.0 / 256, 1)
        XCTAssertEqual(pixel, [0.99609375], "MNIST's brightest pixel")
    }

    /// The FMA peak `cnn bench` compares against: a positive rate, 0 for impossible requests.
    func testTheFMAPeakIsMeasuredAndRefusesBadArguments() {
        XCTAssertEqual(ck_fma_peak_gflops(0, 0.1), 0)
        XCTAssertEqual(ck_fma_peak_gflops(1, 0), 0)
        XCTAssertEqual(ck_fma_peak_gflops(1025, 0.1), 0)
        let one = ck_fma_peak_gflops(1, 0.05)
        XCTAssertGreaterThan(one, 0.1, "even scalar code does more than 0.1 GFLOP/s")
        XCTAssertLessThan(one, 10_000, "one core cannot do 10 TFLOP/s: the count or the clock is wrong")
    }
}

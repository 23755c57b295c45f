// FusedDenseTests.swift: ck_linear_backward_update_rows, the dense layer's
// backward pass fused with its SGD update over a slice of weight rows.
//
// Two claims are checked.  First, the oracle of the fused kernel equals the
// unfused composition it replaces: ck_linear_backward_ref into a zeroed
// gradient, the dropout mask on the input gradient, then ck_sgd_update_ref.
// Second, the vector variants match that oracle on odd shapes, touch only
// their own slice of rows (and the matching columns of dinp), and agree
// when the rows are split between two calls, as two threads split them.
import CKernels
import XCTest

final class FusedDenseTests: KernelTestCase {
    /// (B, IN, OUT): OUT below, at and past one vector, with remainders.
    private let shapes = [(1, 1, 1), (3, 7, 15), (10, 37, 100), (13, 300, 33), (10, 64, 16)]

    private struct Case {
        let inp: [Float], dout: [Float], weight: [Float], mask: [Float], prefill: [Float]
    }

    private func makeCase(_ B: Int, _ IN: Int, _ OUT: Int, seed: UInt64) -> Case {
        var random = TestRandom(seed: seed)
        let mask = (0..<(B * IN)).map { _ in random.unit() < 0.3 ? Float(0) : Float(1) }
        return Case(inp: random.floats(B * IN), dout: random.floats(B * OUT), weight: random.floats(IN * OUT),
                    mask: mask, prefill: random.floats(B * IN))
    }

    func testOracleEqualsUnfusedBackwardMaskAndUpdate() {
        let eta: Float = 0.37, l2: Float = 0.01
        for (index, (B, IN, OUT)) in shapes.enumerated() {
            let c = makeCase(B, IN, OUT, seed: 500 + UInt64(index))
            var rawInput = [Float](repeating: 0, count: B * IN)
            var gradient = [Float](repeating: 0, count: IN * OUT)
            ck_linear_backward_ref(&rawInput, &gradient, c.dout, c.inp, c.weight, Int32(B), Int32(IN), Int32(OUT))
            let wantInput = (0..<(B * IN)).map { c.prefill[$0] + c.mask[$0] * rawInput[$0] }
            var wantWeight = c.weight
            ck_sgd_update_ref(&wantWeight, gradient, eta, l2, nil, 0, 0, IN * OUT)

            var gotInput = c.prefill
            var gotWeight = c.weight
            ck_linear_backward_update_rows_ref(&gotInput, &gotWeight, c.dout, c.inp, c.mask, Int32(B), Int32(IN),
                                               Int32(OUT), 0, Int32(IN), eta, l2, nil, 0, 0)
            let what = "fused oracle B \(B) IN \(IN) OUT \(OUT)"
            assertClose(gotInput, wantInput, .float32Sum(terms: OUT, termScale: 1, extra: 1), "\(what) dinp")
            assertClose(gotWeight, wantWeight, .float32Sum(terms: B, termScale: eta, extra: 1), "\(what) weight")
            XCTAssertNotEqual(gotWeight, c.weight, "\(what): the update changed nothing")
        }
    }

    func testVariantsMatchTheOracleSliceBySlice() {
        let eta: Float = 0.1, l2: Float = 0.002
        // Plain SGD (no velocity), momentum and Nesterov momentum.
        let rules: [(mu: Float, nesterov: Int32)] = [(0, 0), (0.9, 0), (0.9, 1)]
        for (index, (B, IN, OUT)) in shapes.enumerated() {
            let c = makeCase(B, IN, OUT, seed: 900 + UInt64(index))
            var random = TestRandom(seed: 950 + UInt64(index))
            let startVelocity = random.floats(IN * OUT)
            let begin = IN / 3, end = IN - IN / 4
            for useMask in [true, false] {
                for rule in rules {
                    let withVelocity = rule.mu > 0
                    var wantInput = c.prefill, wantWeight = c.weight, wantVelocity = startVelocity
                    withOptionalPointer(to: &wantVelocity, if: withVelocity) { velocity in
                        ck_linear_backward_update_rows_ref(&wantInput, &wantWeight, c.dout, c.inp, useMask ? c.mask : nil,
                                                           Int32(B), Int32(IN), Int32(OUT), Int32(begin), Int32(end), eta, l2,
                                                           velocity, rule.mu, rule.nesterov)
                    }
                    let what = "fused B \(B) IN \(IN) OUT \(OUT) rows \(begin)..<\(end) mask \(useMask) mu \(rule.mu) nesterov \(rule.nesterov)"
                    forEachISA { isa in
                        var gotInput = c.prefill, gotWeight = c.weight, gotVelocity = startVelocity
                        // Sized for the slice's rows only, as a thread's share is.
                        var scratch = GuardedScratch(ck_linear_scratch_floats(Int32(B), Int32(end - begin), Int32(OUT)))
                        withOptionalPointer(to: &gotVelocity, if: withVelocity) { velocity in
                            ck_linear_backward_update_rows(&gotInput, &gotWeight, &scratch.values, c.dout, c.inp, useMask ? c.mask : nil,
                                                           Int32(B), Int32(IN), Int32(OUT), Int32(begin), Int32(end), eta, l2,
                                                           velocity, rule.mu, rule.nesterov)
                        }
                        scratch.assertIntact("\(what) [\(isa)]")
                        // Rows and columns outside the slice are copied through: exact.
                        assertClose(gotInput, wantInput, .float32Sum(terms: OUT, termScale: 1, extra: 1), "\(what) [\(isa)] dinp")
                        // A velocity adds one rounding of mu * v (|v| <= about 2)
                        // and, for Nesterov, one more of d + mu * v.
                        let roundings: Float = withVelocity ? 3 : 1
                        assertClose(gotWeight, wantWeight, .float32Sum(terms: B, termScale: eta, extra: roundings),
                                    "\(what) [\(isa)] weight")
                        assertClose(gotVelocity, wantVelocity, .float32Sum(terms: B, termScale: 1, extra: roundings),
                                    "\(what) [\(isa)] velocity")
                        if withVelocity {
                            XCTAssertNotEqual(gotVelocity, startVelocity, "\(what) [\(isa)]: the velocity did not move")
                        }
                        for row in 0..<IN where row < begin || row >= end {
                            let outside = (row * OUT)..<((row + 1) * OUT)
                            XCTAssertEqual(Array(gotWeight[outside]), Array(c.weight[outside]), "\(what) [\(isa)] row \(row) touched")
                            XCTAssertEqual(Array(gotVelocity[outside]), Array(startVelocity[outside]), "\(what) [\(isa)] velocity row \(row) touched")
                            for b in 0..<B { XCTAssertEqual(gotInput[b * IN + row], c.prefill[b * IN + row]) }
                        }
                        // Without dinp the weights still update identically.
                        var weightOnly = c.weight, velocityOnly = startVelocity
                        withOptionalPointer(to: &velocityOnly, if: withVelocity) { velocity in
                            ck_linear_backward_update_rows(nil, &weightOnly, &scratch.values, c.dout, c.inp, nil, Int32(B), Int32(IN), Int32(OUT),
                                                           Int32(begin), Int32(end), eta, l2,
                                                           velocity, rule.mu, rule.nesterov)
                        }
                        XCTAssertEqual(weightOnly, gotWeight, "\(what) [\(isa)]: dinp changed the update")
                        XCTAssertEqual(velocityOnly, gotVelocity, "\(what) [\(isa)]: dinp changed the velocity")
                    }
                }
            }
        }
    }

    /// Rows are independent, so splitting them between calls (as threads
    /// do) changes nothing but the blocks the kernel cuts them into.  With
    /// our own GEMM, which sums every element in the same order whatever
    /// the block, a split is bit-identical.  OpenBLAS's kernels may sum in
    /// another order for another block size (its Cooperlake kernels do for
    /// dinp, its Prescott ones also for the weights), so there a split
    /// agrees to rounding.
    func testTwoSlicesEqualOneCall() {
        let (B, IN, OUT) = (10, 300, 100)
        let c = makeCase(B, IN, OUT, seed: 77)
        for backend in [CK_GEMM_OWN, CK_GEMM_OPENBLAS] {
            ck_gemm_backend_select(backend)
            let gemm = String(cString: ck_gemm_backend_name(backend))
            forEachISA { isa in
                var scratch = [Float](repeating: .nan, count: ck_linear_scratch_floats(Int32(B), Int32(IN), Int32(OUT)))
                var wholeInput = c.prefill, wholeWeight = c.weight
                ck_linear_backward_update_rows(&wholeInput, &wholeWeight, &scratch, c.dout, c.inp, c.mask, Int32(B), Int32(IN),
                                               Int32(OUT), 0, Int32(IN), 0.1, 0.001, nil, 0, 0)
                var splitInput = c.prefill, splitWeight = c.weight
                for (begin, end) in [(0, 150), (150, IN)] {
                    ck_linear_backward_update_rows(&splitInput, &splitWeight, &scratch, c.dout, c.inp, c.mask, Int32(B), Int32(IN),
                                                   Int32(OUT), Int32(begin), Int32(end), 0.1, 0.001, nil, 0, 0)
                }
                let what = "[\(isa), \(gemm) gemm]"
                if backend == CK_GEMM_OWN {
                    XCTAssertEqual(splitInput, wholeInput, "\(what) a split's dinp must be bit-identical")
                    XCTAssertEqual(splitWeight, wholeWeight, "\(what) a split's weights must be bit-identical")
                } else {
                    assertClose(splitInput, wholeInput, .float32Sum(terms: OUT, termScale: 1, extra: 1),
                                "\(what) a split's dinp")
                    assertClose(splitWeight, wholeWeight, .float32Sum(terms: B, termScale: 0.1, extra: 1),
                                "\(what) a split's weights")
                }
            }
        }
    }
}

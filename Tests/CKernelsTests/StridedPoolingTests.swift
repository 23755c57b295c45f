// StridedPoolingTests.swift: ck_maxpool2d_forward_ex / ck_maxpool2d_backward_ex
// (windows every SH rows and SW columns) against the oracles that search each
// window again, and against central differences.
//
// Strides smaller than the window make windows overlap, so one input can
// win several and its gradient must be the SUM of theirs; strides larger
// than the window skip pixels, which get no gradient.  Selection is exact,
// so fast and oracle results agree bit for bit, ties included (the first
// maximum in row-major window order wins).
import CKernels
import XCTest

/// B x C planes of H x W pooled by PH x PW windows every SH x SW.
private struct StridedPoolShape: CustomStringConvertible {
    var B, C, H, W, PH, PW, SH, SW: Int
    var OH: Int { (H - PH) / SH + 1 }
    var OW: Int { (W - PW) / SW + 1 }
    var inputCount: Int { B * C * H * W }
    var outputCount: Int { B * C * OH * OW }
    var description: String { "B \(B) C \(C) \(H)x\(W) pool \(PH)x\(PW) stride \(SH)x\(SW)" }
    var args: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) {
        (Int32(B), Int32(C), Int32(H), Int32(W), Int32(PH), Int32(PW), Int32(SH), Int32(SW))
    }
}

final class StridedPoolingTests: KernelTestCase {
    private let shapes = [
        StridedPoolShape(B: 2, C: 3, H: 9, W: 9, PH: 3, PW: 3, SH: 2, SW: 2),    // AlexNet's overlapping pool
        StridedPoolShape(B: 1, C: 2, H: 10, W: 7, PH: 3, PW: 2, SH: 2, SW: 1),   // non-square, stride 1 across
        StridedPoolShape(B: 2, C: 2, H: 11, W: 12, PH: 2, PW: 2, SH: 3, SW: 3),  // stride past the window: gaps
        StridedPoolShape(B: 1, C: 1, H: 5, W: 8, PH: 5, PW: 2, SH: 1, SW: 2),    // one window high
        StridedPoolShape(B: 3, C: 4, H: 8, W: 8, PH: 2, PW: 2, SH: 2, SW: 2),    // the 2x2 fast path
        StridedPoolShape(B: 2, C: 3, H: 12, W: 10, PH: 2, PW: 2, SH: 1, SW: 1),  // 2x2 overlapping, not the fast path
    ]

    func testForwardAndBackwardMatchReferenceWithDistinctValues() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 2100 + UInt64(index))
            checkPool(shape, inp: random.floats(shape.inputCount), &random, "distinct")
        }
    }

    func testTiesGoToTheFirstMaximum() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 2200 + UInt64(index))
            let inp = (0..<shape.inputCount).map { _ in Float(random.int(below: 4) - 1) }
            checkPool(shape, inp: inp, &random, "ties")
        }
    }

    /// A 1x5 row pooled 1x3 every 1: the middle value wins all three windows
    /// and must receive the sum of their gradients.
    func testOverlappingWindowsAddTheirGradients() {
        let row: [Float] = [0, 1, 9, 2, 3]
        var out = [Float](repeating: .nan, count: 3)
        var argmax = [Int32](repeating: -1, count: 3)
        ck_maxpool2d_forward_ex(&out, &argmax, row, 1, 1, 1, 5, 1, 3, 1, 1)
        XCTAssertEqual(out, [9, 9, 9])
        XCTAssertEqual(argmax, [2, 2, 2])
        var dinp: [Float] = [1, 1, 1, 1, 1]
        ck_maxpool2d_backward_ex(&dinp, [0.5, 2, 4], argmax, 1, 1, 1, 5, 1, 3, 1, 1)
        XCTAssertEqual(dinp, [1, 1, 7.5, 1, 1], "the shared winner gets every window's gradient, added to what was there")
        var reference: [Float] = [1, 1, 1, 1, 1]
        ck_maxpool2d_backward_ex_ref(&reference, [0.5, 2, 4], row, 1, 1, 1, 5, 1, 3, 1, 1)
        XCTAssertEqual(reference, dinp)
    }

    /// Piecewise linear: with inputs 0.01 apart and a step of 1e-3 no window
    /// changes its winner, so central differences are exact up to rounding.
    func testGradientMatchesFiniteDifferences() {
        let cases = [
            StridedPoolShape(B: 2, C: 2, H: 9, W: 7, PH: 3, PW: 3, SH: 2, SW: 2),  // overlapping
            StridedPoolShape(B: 1, C: 2, H: 8, W: 9, PH: 2, PW: 3, SH: 3, SW: 2),  // gaps down, overlap across
        ]
        for (index, shape) in cases.enumerated() {
            let (B, C, H, W, PH, PW, SH, SW) = shape.args
            var random = TestRandom(seed: 2300 + UInt64(index))
            var inp = random.distinctFloats(shape.inputCount, gap: 0.01)
            let upstream = random.floats(shape.outputCount)
            let numeric = centralDifferences(&inp, eps: 1e-3) { inp in
                var out = [Float](repeating: 0, count: shape.outputCount)
                ck_maxpool2d_forward_ex_ref(&out, inp, B, C, H, W, PH, PW, SH, SW)
                return weightedSum(out, upstream)
            }
            var refGradient = [Float](repeating: 0, count: shape.inputCount)
            ck_maxpool2d_backward_ex_ref(&refGradient, upstream, inp, B, C, H, W, PH, PW, SH, SW)
            assertGradient(refGradient, matches: numeric, rtol: 1e-3, "strided maxpool dinp \(shape) [ref]")
            forEachISA { isa in
                var out = [Float](repeating: 0, count: shape.outputCount)
                var argmax = [Int32](repeating: -1, count: shape.outputCount)
                ck_maxpool2d_forward_ex(&out, &argmax, inp, B, C, H, W, PH, PW, SH, SW)
                var gradient = [Float](repeating: 0, count: shape.inputCount)
                ck_maxpool2d_backward_ex(&gradient, upstream, argmax, B, C, H, W, PH, PW, SH, SW)
                assertGradient(gradient, matches: numeric, rtol: 1e-3, "strided maxpool dinp \(shape) [\(isa)]")
            }
        }
    }

    /// A stride equal to the window is the plain non-overlapping pool, bit for bit.
    func testStrideOfThePoolSizeIsThePlainPool() {
        for shape in [StridedPoolShape(B: 2, C: 3, H: 9, W: 7, PH: 2, PW: 2, SH: 2, SW: 2),
                      StridedPoolShape(B: 1, C: 2, H: 10, W: 11, PH: 3, PW: 2, SH: 3, SW: 2)] {
            let (B, C, H, W, PH, PW, SH, SW) = shape.args
            var random = TestRandom(seed: 2400)
            let inp = random.floats(shape.inputCount), dout = random.floats(shape.outputCount)
            forEachISA { isa in
                var plain = [Float](repeating: .nan, count: shape.outputCount), ex = plain
                var plainArgmax = [Int32](repeating: -1, count: shape.outputCount), exArgmax = plainArgmax
                ck_maxpool2d_forward(&plain, &plainArgmax, inp, B, C, H, W, PH, PW)
                ck_maxpool2d_forward_ex(&ex, &exArgmax, inp, B, C, H, W, PH, PW, SH, SW)
                assertClose(ex, plain, .exact, "\(shape) forward [\(isa)]")
                XCTAssertEqual(exArgmax, plainArgmax, "\(shape) argmax [\(isa)]")
                var plainGradient = [Float](repeating: 0, count: shape.inputCount), exGradient = plainGradient
                ck_maxpool2d_backward(&plainGradient, dout, plainArgmax, B, C, H, W, PH, PW)
                ck_maxpool2d_backward_ex(&exGradient, dout, exArgmax, B, C, H, W, PH, PW, SH, SW)
                assertClose(exGradient, plainGradient, .exact, "\(shape) backward [\(isa)]")
            }
        }
    }

    // MARK: - Helpers

    private func checkPool(_ shape: StridedPoolShape, inp: [Float], _ random: inout TestRandom, _ data: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        let (B, C, H, W, PH, PW, SH, SW) = shape.args
        let what = "strided maxpool \(shape) \(data)"
        var want = [Float](repeating: .nan, count: shape.outputCount)
        ck_maxpool2d_forward_ex_ref(&want, inp, B, C, H, W, PH, PW, SH, SW)
        let dout = random.floats(shape.outputCount)
        let prefill = random.floats(shape.inputCount)
        var wantGradient = prefill
        ck_maxpool2d_backward_ex_ref(&wantGradient, dout, inp, B, C, H, W, PH, PW, SH, SW)
        XCTAssertNotEqual(wantGradient, prefill, "\(what): the oracle routed nothing", file: file, line: line)

        forEachISA(file: file, line: line) { isa in
            var out = [Float](repeating: .nan, count: shape.outputCount)
            var argmax = [Int32](repeating: -1, count: shape.outputCount)
            ck_maxpool2d_forward_ex(&out, &argmax, inp, B, C, H, W, PH, PW, SH, SW)
            assertClose(out, want, .exact, "\(what) forward [\(isa)]", file: file, line: line)
            assertArgmaxInsideWindows(argmax, out, inp, shape, "\(what) [\(isa)]", file: file, line: line)
            var gradient = prefill
            ck_maxpool2d_backward_ex(&gradient, dout, argmax, B, C, H, W, PH, PW, SH, SW)
            // Overlapping windows add in output order in both, so even the sums agree exactly.
            assertClose(gradient, wantGradient, .exact, "\(what) backward [\(isa)]", file: file, line: line)
            var evaluated = [Float](repeating: .nan, count: shape.outputCount)
            ck_maxpool2d_forward_ex(&evaluated, nil, inp, B, C, H, W, PH, PW, SH, SW)
            assertClose(evaluated, want, .exact, "\(what) forward without argmax [\(isa)]", file: file, line: line)
        }
    }

    /// Each saved index lies in its own window and points at the value forward wrote.
    private func assertArgmaxInsideWindows(_ argmax: [Int32], _ out: [Float], _ inp: [Float], _ shape: StridedPoolShape,
                                           _ what: String, file: StaticString, line: UInt) {
        var bad: [String] = []
        for o in 0..<argmax.count {
            let plane = o / (shape.OH * shape.OW), y = (o / shape.OW) % shape.OH, x = o % shape.OW
            let i = Int(argmax[o])
            let local = i - plane * shape.H * shape.W
            let (iy, ix) = (local / shape.W, local % shape.W)
            let inside = local >= 0 && local < shape.H * shape.W
                && (y * shape.SH..<(y * shape.SH + shape.PH)).contains(iy)
                && (x * shape.SW..<(x * shape.SW + shape.PW)).contains(ix)
            if !inside || inp[i] != out[o] {
                if bad.count < 5 { bad.append("[\(o)] argmax \(i)") }
            }
        }
        XCTAssertTrue(bad.isEmpty, "\(what): argmax outside its window or not the maximum: \(bad)", file: file, line: line)
    }
}

// PoolingTests.swift: ck_maxpool2d_forward / ck_maxpool2d_backward against
// the oracles that search each window again, and against central differences.
//
// Pooling only selects and copies, so the fast and oracle results must agree
// bit for bit, including which of several tied maxima wins (the first in
// row-major window order).  Image sizes that the pool does not divide check
// that the leftover border rows and columns are ignored.
import CKernels
import XCTest

/// B x C planes of H x W pooled by non-overlapping PH x PW windows.
private struct PoolShape: CustomStringConvertible {
    var B, C, H, W, PH, PW: Int
    var inputCount: Int { B * C * H * W }
    var outputCount: Int { B * C * (H / PH) * (W / PW) }
    var description: String { "B \(B) C \(C) \(H)x\(W) pool \(PH)x\(PW)" }
    var args: (Int32, Int32, Int32, Int32, Int32, Int32) {
        (Int32(B), Int32(C), Int32(H), Int32(W), Int32(PH), Int32(PW))
    }
}

final class PoolingTests: KernelTestCase {
    private let shapes = [
        PoolShape(B: 2, C: 3, H: 8, W: 8, PH: 2, PW: 2),
        PoolShape(B: 2, C: 3, H: 9, W: 7, PH: 2, PW: 2),  // odd: last row and column ignored
        PoolShape(B: 1, C: 2, H: 10, W: 11, PH: 3, PW: 3),
        PoolShape(B: 2, C: 2, H: 7, W: 9, PH: 1, PW: 2),
        PoolShape(B: 1, C: 1, H: 3, W: 3, PH: 3, PW: 3),  // one window covers the image
        PoolShape(B: 3, C: 20, H: 24, W: 24, PH: 2, PW: 2),  // network3's first pool, several blocks
        PoolShape(B: 3, C: 40, H: 8, W: 8, PH: 2, PW: 2),  // and its second
        PoolShape(B: 2, C: 3, H: 6, W: 10, PH: 2, PW: 2),  // even, but not a width of the seed's
    ]

    func testForwardAndBackwardMatchReferenceWithDistinctValues() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 400 + UInt64(index))
            checkPool(shape, inp: random.floats(shape.inputCount), &random, "distinct")
        }
    }

    /// Values drawn from {-1, 0, 1, 2} tie within almost every window; both
    /// implementations must pick the first of the tied maxima.
    func testTiesGoToTheFirstMaximum() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 500 + UInt64(index))
            let inp = (0..<shape.inputCount).map { _ in Float(random.int(below: 4) - 1) }
            checkPool(shape, inp: inp, &random, "ties")
        }
        // A hand-made 2x4 plane with two 2x2 windows: [5 5; 1 5] and [0 0; 0 0].
        var out = [Float](repeating: .nan, count: 2)
        var argmax = [Int32](repeating: -1, count: 2)
        let plane: [Float] = [5, 5, 0, 0,
                              1, 5, 0, 0]
        ck_maxpool2d_forward(&out, &argmax, plane, 1, 1, 2, 4, 2, 2)
        XCTAssertEqual(out, [5, 0])
        XCTAssertEqual(argmax, [0, 2], "the first maximum in row-major window order wins")
        var dinp = [Float](repeating: 0, count: 8)
        ck_maxpool2d_backward_ref(&dinp, [3, 7], plane, 1, 1, 2, 4, 2, 2)
        XCTAssertEqual(dinp, [3, 0, 7, 0, 0, 0, 0, 0], "the oracle also routes to the first maximum")
    }

    /// Max-pool is piecewise linear: with inputs at least 0.01 apart and a step
    /// of 1e-3 no window changes its winner, so central differences are exact
    /// up to the rounding of x +- eps (which centralDifferences divides out).
    /// The 1e-3 tolerance only allows for the double loss's own rounding.
    func testGradientMatchesFiniteDifferences() {
        let shape = PoolShape(B: 2, C: 2, H: 7, W: 6, PH: 2, PW: 3)
        let (B, C, H, W, PH, PW) = shape.args
        var random = TestRandom(seed: 600)
        var inp = random.distinctFloats(shape.inputCount, gap: 0.01)
        let upstream = random.floats(shape.outputCount)
        let numeric = centralDifferences(&inp, eps: 1e-3) { inp in
            var out = [Float](repeating: 0, count: shape.outputCount)
            ck_maxpool2d_forward_ref(&out, inp, B, C, H, W, PH, PW)
            return weightedSum(out, upstream)
        }
        var refGradient = [Float](repeating: 0, count: shape.inputCount)
        ck_maxpool2d_backward_ref(&refGradient, upstream, inp, B, C, H, W, PH, PW)
        assertGradient(refGradient, matches: numeric, rtol: 1e-3, "maxpool dinp [ref]")
        forEachISA { isa in
            var out = [Float](repeating: 0, count: shape.outputCount)
            var argmax = [Int32](repeating: -1, count: shape.outputCount)
            ck_maxpool2d_forward(&out, &argmax, inp, B, C, H, W, PH, PW)
            var gradient = [Float](repeating: 0, count: shape.inputCount)
            ck_maxpool2d_backward(&gradient, upstream, argmax, B, C, H, W, PH, PW)
            assertGradient(gradient, matches: numeric, rtol: 1e-3, "maxpool dinp [\(isa)]")
        }
    }

    // MARK: - Helpers

    private func checkPool(_ shape: PoolShape, inp: [Float], _ random: inout TestRandom, _ data: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        let (B, C, H, W, PH, PW) = shape.args
        let what = "maxpool \(shape) \(data)"
        var want = [Float](repeating: .nan, count: shape.outputCount)
        ck_maxpool2d_forward_ref(&want, inp, B, C, H, W, PH, PW)

        let dout = random.floats(shape.outputCount)
        let prefill = random.floats(shape.inputCount)
        var wantGradient = prefill
        ck_maxpool2d_backward_ref(&wantGradient, dout, inp, B, C, H, W, PH, PW)
        // Every window adds exactly one dout to one pixel of a prefilled buffer.
        let changed = zip(wantGradient, prefill).filter { $0 != $1 }.count
        XCTAssertGreaterThan(changed, shape.outputCount / 2, "\(what): the oracle routed almost nothing",
                             file: file, line: line)

        forEachISA(file: file, line: line) { isa in
            var out = [Float](repeating: .nan, count: shape.outputCount)
            var argmax = [Int32](repeating: -1, count: shape.outputCount)
            ck_maxpool2d_forward(&out, &argmax, inp, B, C, H, W, PH, PW)
            assertClose(out, want, .exact, "\(what) forward [\(isa)]", file: file, line: line)
            assertArgmaxInsideWindows(argmax, out, inp, shape, "\(what) [\(isa)]", file: file, line: line)
            var gradient = prefill
            ck_maxpool2d_backward(&gradient, dout, argmax, B, C, H, W, PH, PW)
            assertClose(gradient, wantGradient, .exact, "\(what) backward [\(isa)]", file: file, line: line)
            // Evaluation passes no argmax, and takes another path for even shapes.
            var evaluated = [Float](repeating: .nan, count: shape.outputCount)
            ck_maxpool2d_forward(&evaluated, nil, inp, B, C, H, W, PH, PW)
            assertClose(evaluated, want, .exact, "\(what) forward without argmax [\(isa)]", file: file, line: line)
        }
    }

    /// Each saved index must lie in its own window and point at the value that
    /// forward wrote.
    private func assertArgmaxInsideWindows(_ argmax: [Int32], _ out: [Float], _ inp: [Float], _ shape: PoolShape,
                                           _ what: String, file: StaticString, line: UInt) {
        let OH = shape.H / shape.PH, OW = shape.W / shape.PW
        var bad: [String] = []
        for o in 0..<argmax.count {
            let plane = o / (OH * OW), y = (o / OW) % OH, x = o % OW
            let i = Int(argmax[o])
            let local = i - plane * shape.H * shape.W
            let (iy, ix) = (local / shape.W, local % shape.W)
            let inside = local >= 0 && local < shape.H * shape.W
                && iy / shape.PH == y && iy < OH * shape.PH && ix / shape.PW == x && ix < OW * shape.PW
            if !inside || inp[i] != out[o] {
                if bad.count < 5 { bad.append("[\(o)] argmax \(i)") }
            }
        }
        XCTAssertTrue(bad.isEmpty, "\(what): argmax outside its window or not the maximum: \(bad)",
                      file: file, line: line)
    }
}

// AugmentationTests.swift: the resampler behind --augment on transforms
// whose result is known exactly, and the random distortion's promises.
//
// ck_warp_image must reproduce the identity, whole-pixel moves (as
// ck_u8_to_float_shifted makes them), a half-turn, a half-pixel move (the
// mean of neighbours) and a constant displacement field.  ck_augment_image
// must be the identity when every distortion is 0, repeat itself for a key,
// and differ between keys.
import CKernels
import XCTest

final class AugmentationTests: KernelTestCase {
    private let (C, H, W) = (2, 6, 5)

    private func image(seed: UInt64) -> [UInt8] {
        var random = TestRandom(seed: seed)
        return (0..<(C * H * W)).map { _ in UInt8(truncatingIfNeeded: Int(random.unit() * 256)) }
    }

    private func warp(_ bytes: [UInt8], _ affine: [Float], fieldDy: [Float]? = nil, fieldDx: [Float]? = nil) -> [Float] {
        var out = [Float](repeating: -1, count: C * H * W)
        ck_warp_image(&out, bytes, 1.0 / 256.0, Int32(C), Int32(H), Int32(W), affine, fieldDy, fieldDx)
        return out
    }

    private func shifted(_ bytes: [UInt8], dy: Int, dx: Int) -> [Float] {
        var out = [Float](repeating: -1, count: C * H * W)
        ck_u8_to_float_shifted(&out, bytes, 1.0 / 256.0, Int32(C), Int32(H), Int32(W), Int32(dy), Int32(dx))
        return out
    }

    func testWarpReproducesKnownTransforms() {
        let bytes = image(seed: 1)
        XCTAssertEqual(warp(bytes, [1, 0, 0, 0, 1, 0]), shifted(bytes, dy: 0, dx: 0), "identity")
        // Output (y, x) reads input (y - 1, x + 2): moved down 1 and left 2.
        XCTAssertEqual(warp(bytes, [1, 0, -1, 0, 1, 2]), shifted(bytes, dy: 1, dx: -2), "whole-pixel move")
        // A half-turn about the centre: (y, x) reads (H-1-y, W-1-x).
        let turned = warp(bytes, [-1, 0, Float(H - 1), 0, -1, Float(W - 1)])
        for c in 0..<C {
            for y in 0..<H {
                for x in 0..<W {
                    XCTAssertEqual(turned[(c * H + y) * W + x], Float(bytes[(c * H + H - 1 - y) * W + W - 1 - x]) / 256)
                }
            }
        }
        // Half a pixel to the right: the mean of a pixel and its right neighbour (zero past the edge).
        let half = warp(bytes, [1, 0, 0, 0, 1, 0.5])
        for c in 0..<C {
            for y in 0..<H {
                for x in 0..<W {
                    let right = x + 1 < W ? Float(bytes[(c * H + y) * W + x + 1]) : 0
                    let want = (Float(bytes[(c * H + y) * W + x]) + right) / 2 / 256
                    XCTAssertEqual(half[(c * H + y) * W + x], want, accuracy: 1e-6)
                }
            }
        }
        // A field of (-1, +1) everywhere is the same as that move.
        let dy = [Float](repeating: -1, count: H * W), dx = [Float](repeating: 1, count: H * W)
        XCTAssertEqual(warp(bytes, [1, 0, 0, 0, 1, 0], fieldDy: dy, fieldDx: dx), shifted(bytes, dy: 1, dx: -1), "constant field")
    }

    func testRandomDistortionIsKeyedAndOffMeansOff() {
        let bytes = image(seed: 2)
        var scratch = [Float](repeating: 0, count: ck_augment_scratch_floats(Int32(H), Int32(W)))
        func augment(key: UInt64, base: (Float, Float) = (0, 0), shift: Float, rotate: Float, alpha: Float) -> [Float] {
            var out = [Float](repeating: -1, count: C * H * W)
            ck_augment_image(&out, bytes, 1.0 / 256.0, Int32(C), Int32(H), Int32(W), key, base.0, base.1, shift, rotate,
                             alpha, 2, &scratch)
            return out
        }
        XCTAssertEqual(augment(key: 5, shift: 0, rotate: 0, alpha: 0), shifted(bytes, dy: 0, dx: 0), "no distortion")
        XCTAssertEqual(augment(key: 5, base: (1, 0), shift: 0, rotate: 0, alpha: 0), shifted(bytes, dy: 1, dx: 0),
                       "the expansion's move alone")
        let first = augment(key: 9, shift: 1, rotate: 10, alpha: 1.5)
        XCTAssertEqual(first, augment(key: 9, shift: 1, rotate: 10, alpha: 1.5), "a key repeats its distortion")
        XCTAssertNotEqual(first, augment(key: 10, shift: 1, rotate: 10, alpha: 1.5), "another key, another distortion")
        XCTAssertNotEqual(first, shifted(bytes, dy: 0, dx: 0))
        XCTAssertTrue(first.allSatisfy { $0 >= 0 && $0 < 1 }, "bilinear weights keep pixels in range")
    }
}

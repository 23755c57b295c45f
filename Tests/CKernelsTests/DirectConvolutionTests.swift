// DirectConvolutionTests.swift: the direct conv product (direct_conv.h,
// SWIFTNET_FORWARD=direct) gives the packed im2col path's bits exactly,
// under every vector variant, and AUTO takes it where ckernels.h says.
//
// The claim that lets AUTO pick either path without changing a run is
// bit-equality, so it is asserted with ==, not a tolerance (the oracle
// tolerance is ConvolutionTests' and PaddedConvolutionTests', which run the
// direct path too).  Shapes cover filter counts that leave a partial tile
// (1, 3, 5, 7, 33), grids shorter than one span and many spans long, padding
// 0 to 2, one and many channels, and a depth over the AUTO limit.  The
// workspace starts as NaN and is exactly the advertised size, then
// sentinels: a kept output that read unset scratch would be NaN, and an
// overrun would clobber a sentinel.
import CKernels
import XCTest

private struct DirectShape: CustomStringConvertible {
    var B, C, H, W, OC, K, P: Int
    var OH: Int { H + 2 * P - K + 1 }
    var OW: Int { W + 2 * P - K + 1 }
    var workspaceCount: Int {
        Int(ck_conv2d_workspace_floats_ex(Int32(C), Int32(H), Int32(W), Int32(OC), Int32(K), Int32(K), Int32(P), 1))
    }
    var description: String { "B \(B) C \(C) \(H)x\(W) OC \(OC) kernel \(K)x\(K) pad \(P)" }
}

private let sentinel: Float = -9876.25

final class DirectConvolutionTests: KernelTestCase {
    private let shapes = [
        DirectShape(B: 3, C: 1, H: 28, W: 28, OC: 20, K: 5, P: 0),  // the seed's first layer
        DirectShape(B: 2, C: 3, H: 32, W: 32, OC: 33, K: 3, P: 1),  // colour, "same" size, a partial tile
        DirectShape(B: 2, C: 20, H: 12, W: 12, OC: 40, K: 5, P: 0), // the seed's second layer (depth 500)
        DirectShape(B: 1, C: 1, H: 5, W: 5, OC: 1, K: 5, P: 0),     // one output pixel
        DirectShape(B: 2, C: 2, H: 7, W: 9, OC: 3, K: 3, P: 2),     // borders of mostly padding
        DirectShape(B: 2, C: 4, H: 6, W: 31, OC: 7, K: 2, P: 0),    // wide and flat
        DirectShape(B: 2, C: 3, H: 40, W: 3, OC: 5, K: 3, P: 1),    // tall and narrow
    ]

    func testDirectGivesThePackedPathsBits() {
        for (index, shape) in shapes.enumerated() {
            var random = TestRandom(seed: 4200 + UInt64(index))
            let inp = random.floats(shape.B * shape.C * shape.H * shape.W)
            let weight = random.floats(shape.OC * shape.C * shape.K * shape.K)
            let bias = random.floats(shape.OC)
            let outputCount = shape.B * shape.OC * shape.OH * shape.OW
            for useBias in [true, false] {
                forEachISA { isa in
                    var packed = [Float](repeating: .nan, count: outputCount)
                    var direct = [Float](repeating: .nan, count: outputCount)
                    forward(&packed, shape, inp, weight, useBias ? bias : nil, path: CK_FORWARD_PACKED, "\(shape) [\(isa)]")
                    forward(&direct, shape, inp, weight, useBias ? bias : nil, path: CK_FORWARD_DIRECT, "\(shape) [\(isa)]")
                    XCTAssertFalse(direct.contains { $0.isNaN }, "direct \(shape) left an output unset [\(isa)]")
                    let differing = zip(packed, direct).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "direct against packed, \(shape) bias \(useBias) [\(isa)]: \(differing) of \(outputCount) outputs differ")
                }
            }
        }
    }

    /// AUTO under AVX-512 gives the direct path's bits on the seed's first
    /// layer even with OpenBLAS as the GEMM backend, whose im2col product
    /// would differ in rounding here.
    func testAutoTakesTheDirectPathForShallowFiltersUnderAVX512() throws {
        guard ck_isa_select(CK_ISA_AVX512) == 0 else { throw XCTSkip("this CPU has no AVX-512") }
        let shape = shapes[0]
        var random = TestRandom(seed: 4300)
        let inp = random.floats(shape.B * shape.C * shape.H * shape.W)
        let weight = random.floats(shape.OC * shape.C * shape.K * shape.K)
        let outputCount = shape.B * shape.OC * shape.OH * shape.OW
        var direct = [Float](repeating: .nan, count: outputCount), auto = direct, gemm = direct
        ck_gemm_backend_select(CK_GEMM_OPENBLAS)
        forward(&direct, shape, inp, weight, nil, path: CK_FORWARD_DIRECT, "direct")
        forward(&auto, shape, inp, weight, nil, path: CK_FORWARD_AUTO, "auto")
        forward(&gemm, shape, inp, weight, nil, path: CK_FORWARD_GEMM, "gemm")
        XCTAssertEqual(auto.map(\.bitPattern), direct.map(\.bitPattern), "AUTO did not take the direct path")
        // The check above has teeth only where the GEMM path rounds differently.
        if gemm.map(\.bitPattern) == direct.map(\.bitPattern) {
            print("note: OpenBLAS's product gave the direct path's bits here, so AUTO's choice is not visible")
        }
    }

    private func forward(_ out: inout [Float], _ shape: DirectShape, _ inp: [Float], _ weight: [Float], _ bias: [Float]?,
                         path: ck_forward_path, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        ck_forward_path_select(path)
        var workspace = [Float](repeating: .nan, count: shape.workspaceCount) + [Float](repeating: sentinel, count: 64)
        ck_conv2d_forward_ex(&out, &workspace, inp, weight, bias, Int32(shape.B), Int32(shape.C), Int32(shape.H),
                             Int32(shape.W), Int32(shape.OC), Int32(shape.K), Int32(shape.K), Int32(shape.P), 1)
        XCTAssertTrue(workspace[shape.workspaceCount...].allSatisfy { $0 == sentinel },
                      "\(what): the workspace's sentinels were overwritten", file: file, line: line)
    }
}

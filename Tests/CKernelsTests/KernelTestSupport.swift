// KernelTestSupport.swift: what every C kernel test shares.
//
// A fixed-seed generator for test data (independent of the kernels' own
// generator, so a fault there cannot hide in the data), the tolerance rule
// |got - want| <= atol + rtol * |want| that prints the first mismatches, a base
// class that runs a body once under every instruction-set variant the CPU
// supports, exactly sized kernel scratch with a guard band behind it, and a
// central-difference driver for gradient checks.
//
// Test code here is compiled -Onone, the kernels -O3: heavy loops belong in C,
// and the Swift side keeps to one pass over each buffer.
import CKernels
import XCTest

// MARK: - Test data

/// splitmix64: tiny, fast, and good enough to make test data that is not
/// accidentally symmetric.  Every test seeds its own, so data never depends on
/// which tests ran before.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 random bits.
    mutating func unit() -> Float { Float(next() >> 40) * 0x1p-24 }

    mutating func float(in range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * unit()
    }

    mutating func int(below bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count { values[i] = float(in: range) }
        return values
    }

    mutating func labels(_ count: Int, below bound: Int) -> [Int32] {
        (0..<count).map { _ in Int32(int(below: bound)) }
    }

    /// `count` distinct values, each at least `gap` from every other, in random
    /// order: max-pool and ReLU gradient checks need inputs whose ordering
    /// cannot flip under a small perturbation.
    mutating func distinctFloats(_ count: Int, gap: Float) -> [Float] {
        var values = (0..<count).map { Float($0 - count / 2) * gap }
        for i in stride(from: count - 1, to: 0, by: -1) { values.swapAt(i, int(below: i + 1)) }
        return values
    }
}

func maxMagnitude(_ values: [Float]) -> Float { values.reduce(0) { max($0, abs($1)) } }

// MARK: - Tolerances

/// float32 machine epsilon (2^-23), twice the unit roundoff.
let float32Epsilon = Float.ulpOfOne

/// |got - want| <= atol + rtol * |want|, per element.
struct Tolerance: CustomStringConvertible {
    var atol: Float
    var rtol: Float

    /// For values that must come out bit for bit the same (copies, selections,
    /// one identical rounding on both sides).  -0 and +0 still compare equal.
    static let exact = Tolerance(atol: 0, rtol: 0)

    /// For results that are float32 sums of up to `terms` terms, each at most
    /// `termScale` in magnitude, compared with an oracle that sums in double.
    ///
    /// Each float32 addition errs by at most half an epsilon of the running
    /// sum.  With terms of random sign the running sum wanders like a random
    /// walk, and the accumulated error has a standard deviation of roughly
    /// 0.2 * epsilon * terms * rms(term); the bound 2 * epsilon * terms *
    /// termScale is about ten such deviations, so reordering (blocking, FMA,
    /// vector lanes) never trips it, yet it is thousands of times smaller than
    /// the error of one missing, doubled or misplaced term (order termScale).
    /// `extra` adds the magnitude of values that are rounded once more on top
    /// (a prefilled gradient, beta * c, a bias).
    static func float32Sum(terms: Int, termScale: Float, extra: Float = 0) -> Tolerance {
        Tolerance(atol: 2 * float32Epsilon * (Float(max(terms, 1)) * termScale + extra),
                  rtol: 4 * float32Epsilon)
    }

    var description: String { "atol \(atol), rtol \(rtol)" }
}

/// Asserts that `got` matches `want` element by element under `tolerance`;
/// identical bit patterns always match (so NaN padding left alone on both
/// sides passes).  On failure prints the count and the first few mismatches.
func assertClose(_ got: [Float], _ want: [Float], _ tolerance: Tolerance,
                 _ what: @autoclosure () -> String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard got.count == want.count else {
        XCTFail("\(what()): \(got.count) values, expected \(want.count)", file: file, line: line)
        return
    }
    var mismatches: [String] = []
    var mismatchCount = 0
    for i in 0..<got.count {
        let g = got[i], w = want[i]
        if g.bitPattern == w.bitPattern { continue }
        if abs(g - w) <= tolerance.atol + tolerance.rtol * abs(w) { continue }
        mismatchCount += 1
        if mismatches.count < 5 { mismatches.append("[\(i)] got \(g) want \(w)") }
    }
    if mismatchCount > 0 {
        XCTFail("\(what()): \(mismatchCount) of \(got.count) values differ beyond \(tolerance); "
                + mismatches.joined(separator: ", "), file: file, line: line)
    }
}

/// `prefill + increment`, rounded once in float32 as an accumulating kernel
/// would: the expected state of a gradient buffer after a backward pass.
func accumulated(_ prefill: [Float], _ increment: [Float]) -> [Float] {
    zip(prefill, increment).map { $0 + $1 }
}

/// Runs `body` with a pointer to `array`'s storage, or with NULL when the
/// array is nil: for kernels whose optional outputs (dinp, dbias) are skipped
/// on NULL.
func withOptionalPointer<R>(_ array: inout [Float]?,
                            _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
    if array == nil { return body(nil) }
    return array!.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

// MARK: - Scratch

/// Kernel scratch of exactly `floats` floats (the size function's answer),
/// NaN so that a kernel must not read before it writes, followed by a guard
/// band that `assertIntact` checks, so a size function that is too small
/// fails the test instead of passing by luck.
struct GuardedScratch {
    static let sentinel: Float = -12345.5
    static let guardFloats = 64
    let floats: Int
    var values: [Float]

    init(_ floats: Int) {
        self.floats = floats
        values = [Float](repeating: .nan, count: floats) + [Float](repeating: Self.sentinel, count: Self.guardFloats)
    }

    func assertIntact(_ what: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(values[floats...].allSatisfy { $0 == Self.sentinel },
                      "\(what()): wrote past the \(floats)-float scratch", file: file, line: line)
    }
}

// MARK: - Instruction-set variants

let allISAs: [ck_isa] = [CK_ISA_SCALAR, CK_ISA_AVX2, CK_ISA_AVX512]

/// Base class for kernel tests: `forEachISA` runs a body under every vector
/// variant this CPU supports, `forEachLayerVariant` also under each GEMM
/// backend of the layer kernels, and tearDown puts the best variant and the
/// previous backend back so that no test leaks its choice into the next.
class KernelTestCase: XCTestCase {
    private var savedGemmBackend = CK_GEMM_OPENBLAS
    private var savedForwardPath = CK_FORWARD_AUTO

    override func setUp() {
        super.setUp()
        savedGemmBackend = ck_gemm_backend_current()
        savedForwardPath = ck_forward_path_current()
    }

    override func tearDown() {
        XCTAssertEqual(ck_isa_select(ck_isa_best_supported()), 0,
                       "the best supported variant must be selectable")
        ck_gemm_backend_select(savedGemmBackend)
        ck_forward_path_select(savedForwardPath)
        super.tearDown()
    }

    /// Calls `body(name)` once per supported variant, with that variant
    /// selected.  Unsupported ones are skipped; the scalar one must always run.
    func forEachISA(file: StaticString = #filePath, line: UInt = #line,
                    _ body: (String) throws -> Void) rethrows {
        for isa in allISAs {
            let name = String(cString: ck_isa_name(isa))
            guard ck_isa_select(isa) == 0 else {
                XCTAssertNotEqual(isa, CK_ISA_SCALAR, "the scalar variant must always be selectable",
                                  file: file, line: line)
                continue
            }
            XCTAssertEqual(ck_isa_current(), isa, "selected \(name) but \(ck_isa_current()) is current",
                           file: file, line: line)
            try body(name)
        }
        XCTAssertEqual(ck_isa_select(ck_isa_best_supported()), 0, file: file, line: line)
    }

    /// For the kernels built on ck_sgemm_layer (conv2d, linear): calls
    /// `body(name)` with our own GEMM under every supported variant, then with
    /// OpenBLAS, so that both backends are held to the same oracle.
    func forEachLayerVariant(file: StaticString = #filePath, line: UInt = #line,
                             _ body: (String) throws -> Void) rethrows {
        ck_gemm_backend_select(CK_GEMM_OWN)
        try forEachISA(file: file, line: line) { isa in try body("own gemm, \(isa)") }
        ck_gemm_backend_select(CK_GEMM_OPENBLAS)
        XCTAssertEqual(ck_gemm_backend_current(), CK_GEMM_OPENBLAS, file: file, line: line)
        try body("openblas gemm")
        ck_gemm_backend_select(savedGemmBackend)
    }

    /// For the forward products of ck_conv2d_forward and ck_linear_forward*:
    /// every path of forEachLayerVariant with the GEMM path forced, then the
    /// packed-panel kernel of every supported variant forced, whatever the
    /// shape (AUTO would skip it for some), then the direct conv product
    /// (direct_conv.h) of every variant forced wherever the stride is 1.
    func forEachForwardVariant(file: StaticString = #filePath, line: UInt = #line,
                               _ body: (String) throws -> Void) rethrows {
        ck_forward_path_select(CK_FORWARD_GEMM)
        try forEachLayerVariant(file: file, line: line) { name in try body("gemm path, \(name)") }
        ck_forward_path_select(CK_FORWARD_PACKED)
        XCTAssertEqual(ck_forward_path_current(), CK_FORWARD_PACKED, file: file, line: line)
        try forEachISA(file: file, line: line) { isa in try body("packed path, \(isa)") }
        ck_forward_path_select(CK_FORWARD_DIRECT)
        XCTAssertEqual(ck_forward_path_current(), CK_FORWARD_DIRECT, file: file, line: line)
        try forEachISA(file: file, line: line) { isa in try body("direct path, \(isa)") }
        ck_forward_path_select(savedForwardPath)
    }
}

// MARK: - Finite differences

/// The scalar loss of a gradient check, sum(out * upstream), in double so
/// that the loss itself adds no float32 rounding.
func weightedSum(_ out: [Float], _ upstream: [Float]) -> Double {
    precondition(out.count == upstream.count, "out has \(out.count) values, upstream \(upstream.count)")
    var sum = 0.0
    for i in 0..<out.count { sum += Double(out[i]) * Double(upstream[i]) }
    return sum
}

/// The central-difference derivative of `loss` with respect to every element
/// of `x`: (L(x + eps) - L(x - eps)) / h.  h is the step actually taken after
/// rounding x +- eps to float32, not 2 eps, which removes a relative error of
/// up to epsilon * |x| / eps from every estimate.
func centralDifferences(_ x: inout [Float], eps: Float,
                        _ loss: ([Float]) -> Double) -> [Double] {
    var gradient = [Double](repeating: 0, count: x.count)
    for i in 0..<x.count {
        let saved = x[i]
        let up = saved + eps, down = saved - eps
        x[i] = up
        let lossUp = loss(x)
        x[i] = down
        let lossDown = loss(x)
        x[i] = saved
        gradient[i] = (lossUp - lossDown) / (Double(up) - Double(down))
    }
    return gradient
}

/// Asserts that an analytic gradient matches central differences to within
/// `rtol` times the largest numeric derivative, and that neither is all zero
/// (a gradient of zeros would match a loss that ignores its input).  The scale
/// is the gradient's largest magnitude rather than each element's own, because
/// elements near zero are dominated by the finite-difference noise.
func assertGradient(_ analytic: [Float], matches numeric: [Double], rtol: Double,
                    _ what: @autoclosure () -> String,
                    file: StaticString = #filePath, line: UInt = #line) {
    guard analytic.count == numeric.count else {
        XCTFail("\(what()): \(analytic.count) analytic values, \(numeric.count) numeric",
                file: file, line: line)
        return
    }
    let scale = numeric.reduce(0) { max($0, abs($1)) }
    XCTAssertGreaterThan(scale, 0, "\(what()): the numeric gradient is all zero", file: file, line: line)
    XCTAssertTrue(analytic.contains { $0 != 0 }, "\(what()): the analytic gradient is all zero",
                  file: file, line: line)
    XCTAssertTrue(analytic.allSatisfy { $0.isFinite }, "\(what()): non-finite gradient",
                  file: file, line: line)
    var mismatches: [String] = []
    var mismatchCount = 0
    for i in 0..<analytic.count where !(abs(Double(analytic[i]) - numeric[i]) <= rtol * scale) {
        mismatchCount += 1
        if mismatches.count < 5 { mismatches.append("[\(i)] analytic \(analytic[i]) numeric \(numeric[i])") }
    }
    if mismatchCount > 0 {
        XCTFail("\(what()): \(mismatchCount) of \(analytic.count) derivatives differ by more than "
                + "\(rtol) x \(scale); " + mismatches.joined(separator: ", "), file: file, line: line)
    }
}

/// Calls `body` with a pointer to `array`'s storage when `enabled`, else
/// with nil: for the kernels' optional buffers (a velocity, a gradient).
func withOptionalPointer<Result>(to array: inout [Float], if enabled: Bool,
                                 _ body: (UnsafeMutablePointer<Float>?) -> Result) -> Result {
    guard enabled else { return body(nil) }
    return array.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

// DropoutTests.swift: the seeded generator (xoshiro256** seeded through
// splitmix64) and the dropout kernels built on it.
//
// The generator is checked against published splitmix64 values and an
// independent Swift transcription of xoshiro256**, then statistically; the
// dropout mask against its keep probability with a 5-sigma binomial bound, and
// against itself across vector variants, since a run must repeat exactly from
// its seed on any CPU.
import CKernels
import XCTest

final class DropoutTests: KernelTestCase {
    // MARK: - Generator

    /// splitmix64 from state 0 yields these four words (Vigna's reference
    /// implementation); ck_rng_seed must place them in the state.
    func testSeedingFollowsSplitmix64() {
        var rng = ck_rng()
        ck_rng_seed(&rng, 0)
        XCTAssertEqual([rng.s.0, rng.s.1, rng.s.2, rng.s.3],
                       [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F, 0xF88B_B8A8_724C_81EC])
        var splitmix = TestRandom(seed: 123_456_789)  // TestRandom is splitmix64
        ck_rng_seed(&rng, 123_456_789)
        XCTAssertEqual([rng.s.0, rng.s.1, rng.s.2, rng.s.3], (0..<4).map { _ in splitmix.next() })
    }

    func testNextFollowsXoshiro256StarStar() {
        var rng = ck_rng()
        ck_rng_seed(&rng, 2024)
        var s = [rng.s.0, rng.s.1, rng.s.2, rng.s.3]
        func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
        for step in 0..<1000 {
            let want = rotl(s[1] &* 5, 7) &* 9
            let t = s[1] << 17
            s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
            s[3] = rotl(s[3], 45)
            let got = ck_rng_next(&rng)
            if got != want {
                XCTFail("draw \(step): got \(got), want \(want)")
                return
            }
        }
    }

    func testSameSeedRepeatsAndDifferentSeedsDiffer() {
        func stream(_ seed: UInt64) -> [UInt64] {
            var rng = ck_rng()
            ck_rng_seed(&rng, seed)
            return (0..<256).map { _ in ck_rng_next(&rng) }
        }
        XCTAssertEqual(stream(42), stream(42))
        let seeds: [UInt64] = [0, 1, 2, 42, 43, .max]
        for (i, a) in seeds.enumerated() {
            for b in seeds[(i + 1)...] {
                let same = zip(stream(a), stream(b)).filter { $0 == $1 }.count
                XCTAssertEqual(same, 0, "seeds \(a) and \(b) share \(same) of 256 draws")
            }
        }
    }

    /// 10^5 draws: all in [0, 1) on a 2^-24 grid, with mean 1/2 and variance
    /// 1/12 within 5 standard errors.
    func testUniformDrawsLieInTheUnitIntervalAndLookUniform() {
        var rng = ck_rng()
        ck_rng_seed(&rng, 7)
        let n = 100_000
        var sum = 0.0, sumSquares = 0.0, outside = 0, offGrid = 0
        for _ in 0..<n {
            let u = ck_rng_uniform(&rng)
            if !(u >= 0 && u < 1) { outside += 1 }
            if (u * 0x1p24).rounded() != u * 0x1p24 { offGrid += 1 }
            sum += Double(u)
            sumSquares += Double(u) * Double(u)
        }
        XCTAssertEqual(outside, 0, "draws outside [0, 1)")
        XCTAssertEqual(offGrid, 0, "draws with more than 24 bits")
        let mean = sum / Double(n), variance = sumSquares / Double(n) - mean * mean
        XCTAssertEqual(mean, 0.5, accuracy: 5 * (1.0 / 12 / Double(n)).squareRoot())
        // The variance of u^2 is 1/5 - 1/9 = 4/45.
        XCTAssertEqual(variance, 1.0 / 12, accuracy: 5 * (4.0 / 45 / Double(n)).squareRoot())
    }

    // MARK: - Dropout

    /// Over n draws the kept count is Binomial(n, 1 - p): within 5 standard
    /// deviations of n (1 - p) except with probability below 1e-6.
    func testKeptFractionMatchesKeepProbability() {
        let n = 1_000_001  // odd, so the last mask entry comes from its own draw
        let inp = [Float](repeating: 1, count: n)
        for p: Float in [0.5, 0.2, 0.9, 0.03] {
            var rng = ck_rng()
            ck_rng_seed(&rng, 99)
            var out = [Float](repeating: .nan, count: n)
            var mask = [Float](repeating: .nan, count: n)
            ck_dropout_forward(&out, &mask, inp, &rng, p, Int32(n))
            XCTAssertEqual(mask.firstIndex { $0 != 0 && $0 != 1 }, nil, "p \(p): mask entries other than 0 and 1")
            let kept = ck_sum_squares(mask, n)  // counts the ones
            let expected = Double(n) * (1 - Double(p))
            let sigma = (Double(n) * Double(p) * (1 - Double(p))).squareRoot()
            XCTAssertEqual(kept, expected, accuracy: 5 * sigma, "p \(p): kept \(kept) of \(n)")
        }
    }

    func testProbabilityZeroKeepsEverythingAndOneDropsEverything() {
        var random = TestRandom(seed: 1700)
        let n = 1001
        let inp = random.floats(n)
        for (p, keep) in [(Float(0), Float(1)), (1, 0)] {
            var rng = ck_rng()
            ck_rng_seed(&rng, 5)
            var out = [Float](repeating: .nan, count: n)
            var mask = [Float](repeating: .nan, count: n)
            ck_dropout_forward(&out, &mask, inp, &rng, p, Int32(n))
            XCTAssertTrue(mask.allSatisfy { $0 == keep }, "p \(p): every mask entry should be \(keep)")
            assertClose(out, inp.map { $0 * keep }, .exact, "p \(p): out")
        }
    }

    /// Dropout is not vectorised per ISA today, but a run must repeat from its
    /// seed on any CPU, so the mask, the output and the generator state that
    /// follows are pinned across variants, in place or not.
    func testMaskAndOutputAreTheSameOnEveryVariant() {
        var random = TestRandom(seed: 1800)
        let n = 4099
        let inp = random.floats(n)
        var firstMask: [Float]?
        var firstNext: UInt64?
        forEachISA { isa in
            var rng = ck_rng()
            ck_rng_seed(&rng, 31337)
            var out = [Float](repeating: .nan, count: n)
            var mask = [Float](repeating: .nan, count: n)
            ck_dropout_forward(&out, &mask, inp, &rng, 0.5, Int32(n))
            let next = ck_rng_next(&rng)
            assertClose(out, zip(inp, mask).map { $0 * $1 }, .exact, "out == inp * mask [\(isa)]")
            XCTAssertTrue(mask.contains(0) && mask.contains(1), "[\(isa)] p 0.5 should keep some and drop some")
            if let firstMask, let firstNext {
                assertClose(mask, firstMask, .exact, "mask for the same seed [\(isa)]")
                XCTAssertEqual(next, firstNext, "generator state after dropout [\(isa)]")
            } else {
                firstMask = mask
                firstNext = next
            }

            var rngAgain = ck_rng()
            ck_rng_seed(&rngAgain, 31337)
            var inPlace = inp
            var maskAgain = [Float](repeating: .nan, count: n)
            inPlace.withUnsafeMutableBufferPointer { buffer in
                ck_dropout_forward(buffer.baseAddress, &maskAgain, buffer.baseAddress, &rngAgain, 0.5, Int32(n))
            }
            assertClose(maskAgain, mask, .exact, "mask in place [\(isa)]")
            assertClose(inPlace, out, .exact, "out in place [\(isa)]")
        }
    }

    func testBackwardAccumulatesDoutTimesMask() {
        var random = TestRandom(seed: 1900)
        let n = 1001
        let dout = random.floats(n)
        let mask = (0..<n).map { _ in Float(random.int(below: 2)) }
        let prefill = random.floats(n)
        let want = accumulated(prefill, zip(dout, mask).map { $0 * $1 })
        forEachISA { isa in
            var dinp = prefill
            ck_dropout_backward(&dinp, dout, mask, Int32(n))
            assertClose(dinp, want, .exact, "dropout backward [\(isa)]")
        }
    }

    /// With the mask fixed (the generator reseeded for every evaluation) the
    /// loss sum(dropout(inp) * G) is linear in inp, so central differences are
    /// exact up to rounding and 1e-3 is a safe tolerance.
    func testBackwardMatchesFiniteDifferences() {
        let n = 61
        var random = TestRandom(seed: 2000)
        var inp = random.floats(n)
        let upstream = random.floats(n)
        func forward(_ inp: [Float]) -> (out: [Float], mask: [Float]) {
            var rng = ck_rng()
            ck_rng_seed(&rng, 77)
            var out = [Float](repeating: 0, count: n)
            var mask = [Float](repeating: 0, count: n)
            ck_dropout_forward(&out, &mask, inp, &rng, 0.4, Int32(n))
            return (out, mask)
        }
        let numeric = centralDifferences(&inp, eps: 1e-2) { weightedSum(forward($0).out, upstream) }
        let mask = forward(inp).mask
        forEachISA { isa in
            var dinp = [Float](repeating: 0, count: n)
            ck_dropout_backward(&dinp, upstream, mask, Int32(n))
            assertGradient(dinp, matches: numeric, rtol: 1e-3, "dropout dinp [\(isa)]")
        }
    }
}

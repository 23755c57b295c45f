// RandomSource.swift: the single seeded generator behind every random choice.
//
// Initial weights and dropout masks both come from xoshiro256** (the C
// `ck_rng`), so a seed repeats a run exactly.  The state is a plain value of
// four words, which is what a checkpoint saves to resume a run mid-stream.

import CKernels
import Foundation

/// A seeded xoshiro256** generator with the Gaussian draws weight
/// initialisation needs.
public struct RandomSource: Sendable {
    var state: ck_rng

    /// A generator whose stream is fixed by `seed`.
    /// - Parameter seed: any 64-bit value; equal seeds give equal streams.
    public init(seed: UInt64) {
        state = ck_rng()
        ck_rng_seed(&state, seed)
    }

    /// The next raw 64-bit output.
    public mutating func next() -> UInt64 { ck_rng_next(&state) }

    /// A uniform double in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A normal deviate with the given mean and standard deviation
    /// (Box-Muller; one pair of uniforms per draw, for simplicity of state).
    public mutating func nextGaussian(mean: Double = 0, standardDeviation: Double = 1) -> Double {
        let u1 = 1.0 - nextUniform()  // in (0, 1], so the log is finite
        let u2 = nextUniform()
        let radius = (-2.0 * log(u1)).squareRoot()
        return mean + standardDeviation * radius * cos(2.0 * Double.pi * u2)
    }

    /// Shuffles `elements` in place (Fisher-Yates, from the last element down, one
    /// draw per swap), so equal seeds give equal orders on every machine.
    public mutating func shuffle<Element>(_ elements: inout [Element]) {
        for position in stride(from: elements.count - 1, to: 0, by: -1) {
            elements.swapAt(position, Int(next() % UInt64(position + 1)))
        }
    }

    /// The four state words, for saving.
    public var stateWords: [UInt64] { [state.s.0, state.s.1, state.s.2, state.s.3] }

    /// Restores a generator from `stateWords`; nil unless there are four,
    /// not all zero (a state xoshiro256** never reaches).
    public init?(stateWords words: [UInt64]) {
        guard words.count == 4, words.contains(where: { $0 != 0 }) else { return nil }
        state = ck_rng(s: (words[0], words[1], words[2], words[3]))
    }
}

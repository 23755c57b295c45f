// ByteMutator.swift: the random damage every fuzz test deals to a file's bytes.
//
// Each round picks a place and one of: flip a bit, overwrite with an
// interesting value, insert random bytes, delete a range, repeat a range,
// splice in one of the caller's byte strings (when it gives any), or
// truncate.  The fuzz tests differ only in their seed, their interesting
// values, how long a repeated range may be, and their splices; with a fixed
// seed the mutants are the same on every run.

@testable import SwiftNet

struct ByteMutator {
    var random: RandomSource
    let interestingValues: [UInt8]
    let longestRepeat: Int
    let splices: [[UInt8]]

    init(seed: UInt64, interestingValues: [UInt8], longestRepeat: Int = 32, splices: [[UInt8]] = []) {
        random = RandomSource(seed: seed)
        self.interestingValues = interestingValues
        self.longestRepeat = longestRepeat
        self.splices = splices
    }

    mutating func below(_ bound: Int) -> Int { Int(random.next() % UInt64(max(bound, 1))) }

    mutating func mutate(_ original: [UInt8]) -> [UInt8] {
        var bytes = original
        for _ in 0...below(3) {
            let at = below(bytes.count + 1)
            switch below(splices.isEmpty ? 7 : 8) {
            case 0, 1: // flip a few bits
                if !bytes.isEmpty { bytes[min(at, bytes.count - 1)] ^= UInt8(1 << below(8)) }
            case 2: // overwrite with an interesting value
                if !bytes.isEmpty { bytes[min(at, bytes.count - 1)] = interestingValues[below(interestingValues.count)] }
            case 3: // insert random bytes
                bytes.insert(contentsOf: (0..<(1 + below(8))).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: at)
            case 4: // delete a range
                let end = min(bytes.count, at + 1 + below(16))
                if at < end { bytes.removeSubrange(at..<end) }
            case 5: // repeat a range
                let end = min(bytes.count, at + 1 + below(longestRepeat))
                if at < end { bytes.insert(contentsOf: bytes[at..<end], at: at) }
            case 6 where !splices.isEmpty: // splice in a byte string
                bytes.insert(contentsOf: splices[below(splices.count)], at: at)
            default: // truncate
                bytes.removeSubrange(min(at, bytes.count)...)
            }
        }
        return bytes
    }
}

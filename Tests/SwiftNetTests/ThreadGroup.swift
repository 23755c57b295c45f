// ThreadGroup.swift: a TrainingGroup of threads in one process, for tests.
//
// Data-parallel training needs only TrainingGroup's two collective calls,
// so the default build's tests check it without MPI: N members, each a
// thread training its own Network, meet in a barrier at every call; the
// last to arrive sums the members' buffers in rank order and writes the
// sums into every member's buffer before it releases them.  A member that
// waits more than `timeout` throws instead of hanging the test run.

import Foundation
@testable import SwiftNet

final class ThreadGroup: TrainingGroup, @unchecked Sendable {
    let rank: Int
    let size: Int
    private let meeting: Meeting

    /// Where the members meet; one per group.
    final class Meeting: @unchecked Sendable {
        let size: Int
        let timeout: Double
        private let condition = NSCondition()
        private var arrived = 0
        private var generation = 0
        private var buffers: [UnsafeMutableBufferPointer<Float>?]
        private var doubles: [UnsafeMutableBufferPointer<Double>?]
        private var keys: [UInt64]
        private var agreed = false

        /// Every member's buffer replaced by the sums over the members, added in rank order.
        private static func sumInRankOrder<Value: AdditiveArithmetic>(_ buffers: [UnsafeMutableBufferPointer<Value>?]) {
            guard let first = buffers[0] else { return }
            var sums = [Value](repeating: .zero, count: first.count)
            for member in buffers {
                guard let values = member, values.count == first.count else {
                    preconditionFailure("the members called sumOverMembers with different lengths")
                }
                for index in sums.indices { sums[index] += values[index] }
            }
            for member in buffers { _ = member!.update(from: sums) }
        }

        init(size: Int, timeout: Double) {
            self.size = size
            self.timeout = timeout
            buffers = Array(repeating: nil, count: size)
            doubles = Array(repeating: nil, count: size)
            keys = Array(repeating: 0, count: size)
        }

        /// Waits for every member; the last computes the call's result.
        func meet(rank: Int, buffer: UnsafeMutableBufferPointer<Float>? = nil, doubles values: UnsafeMutableBufferPointer<Double>? = nil,
                  key: UInt64) throws -> Bool {
            condition.lock()
            defer { condition.unlock() }
            let mine = generation
            buffers[rank] = buffer
            doubles[rank] = values
            keys[rank] = key
            arrived += 1
            if arrived == size {
                Self.sumInRankOrder(buffers)
                Self.sumInRankOrder(doubles)
                agreed = keys.allSatisfy { $0 == keys[0] }
                arrived = 0
                generation += 1
                condition.broadcast()
                return agreed
            }
            let deadline = Date().addingTimeInterval(timeout)
            while generation == mine {
                guard condition.wait(until: deadline) else {
                    throw TrainingGroupError(rank: rank, reason: "the other members did not arrive within \(timeout) s")
                }
            }
            return agreed
        }
    }

    init(rank: Int, meeting: Meeting) {
        self.rank = rank
        size = meeting.size
        self.meeting = meeting
    }

    /// The members of a new group of `size`.
    static func members(_ size: Int, timeout: Double = 20) -> [ThreadGroup] {
        let meeting = Meeting(size: size, timeout: timeout)
        return (0..<size).map { ThreadGroup(rank: $0, meeting: meeting) }
    }

    func sumOverMembers(_ values: UnsafeMutableBufferPointer<Float>) throws {
        _ = try meeting.meet(rank: rank, buffer: values, key: 0)
    }

    func sumOverMembers(_ values: UnsafeMutableBufferPointer<Double>) throws {
        _ = try meeting.meet(rank: rank, doubles: values, key: 0)
    }

    func allAgree(on value: UInt64) throws -> Bool {
        try meeting.meet(rank: rank, key: value)
    }
}

/// Runs `body(rank)` for every rank at once, each on a thread of its own, and returns the results in rank order.
func onEveryMember<Result>(_ size: Int, _ body: @escaping @Sendable (Int) throws -> Result) -> [Swift.Result<Result, any Error>] {
    let box = ResultsBox<Result>(results: Array(repeating: nil, count: size))
    let lock = NSLock()
    let done = DispatchGroup()
    for rank in 0..<size {
        done.enter()
        let thread = Thread {
            let result = Swift.Result { try body(rank) }
            lock.withLock { box.results[rank] = result }
            done.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    done.wait()
    return box.results.map { $0! }
}

private final class ResultsBox<Value>: @unchecked Sendable {
    var results: [Swift.Result<Value, any Error>?]
    init(results: [Swift.Result<Value, any Error>?]) { self.results = results }
}

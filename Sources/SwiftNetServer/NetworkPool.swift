// NetworkPool.swift: copies of one trained network, lent one request at a time.
//
// A Network owns its scratch buffers (core issue: per-network resources),
// so two calls may run at once only on two networks.  The pool builds
// `size` networks from one checkpoint, each on one thread, and lends each to
// one caller at a time: a request that finds none free waits, in order of
// arrival, without blocking a thread, and gets the next one handed back.
// How many requests compute at once is therefore bounded by `size`, and so
// is the memory they use, however many clients connect.

import Foundation
import SwiftNet

/// `size` networks built from one checkpoint, each lent to one caller at a time.
final class NetworkPool: @unchecked Sendable {
    // @unchecked: `networks` is never mutated, and a network is touched only by the
    // one caller that holds its index, which `lock` hands out once at a time.
    private let networks: [Network]
    private let lock = NSLock()
    private var free: [Int]
    private var waiting: [CheckedContinuation<Int, Never>] = []

    /// Networks in the pool, each computing one request at a time.
    var size: Int { networks.count }

    /// Builds `size` networks of `checkpoint`, one thread each.
    /// - Throws: `CheckpointError` or `MemoryBudgetError` if its network does not build.
    init(checkpoint: Checkpoint, size: Int) throws {
        precondition(size >= 1, "a pool holds at least one network")
        networks = try (0..<size).map { _ in try checkpoint.makeNetwork(threads: 1) }
        free = Array((0..<size).reversed())
    }

    /// The pool's first network, for what every copy shares (its shape, classes, layers).
    var prototype: Network { networks[0] }

    /// Runs `body` on a network no other caller holds, waiting for one if all are lent.
    func withNetwork<Result: Sendable>(_ body: (Network) throws -> Result) async rethrows -> Result {
        let index = await acquire()
        defer { release(index) }
        return try body(networks[index])
    }

    private func acquire() async -> Int {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            lock.lock()
            if let index = free.popLast() {
                lock.unlock()
                continuation.resume(returning: index)
            } else {
                waiting.append(continuation)
                lock.unlock()
            }
        }
    }

    private func release(_ index: Int) {
        lock.lock()
        if waiting.isEmpty {
            free.append(index)
            lock.unlock()
        } else {
            let next = waiting.removeFirst()
            lock.unlock()
            next.resume(returning: index)
        }
    }
}

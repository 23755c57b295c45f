// TeamTests.swift: ck_team, the thread teams every network owns.
//
// A team must run each part of a job exactly once, clamp the parts to its
// size, order the phases of a job at each barrier, start and join its
// workers cleanly however soon or late it is destroyed (workers spinning or
// asleep), accept more threads than the old fixed team's 64, and share
// nothing with other teams, so that two teams driven from two threads at
// once both stay correct.  Anything that could hang waits on a semaphore
// with a timeout, so a hang fails the test instead of stalling the suite.
import CKernels
import Dispatch
import Foundation
import XCTest

/// One slot per thread, each written by its own thread only.
private struct Counts: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int>
    init(_ count: Int) {
        pointer = .allocate(capacity: count)
        pointer.initialize(repeating: -1, count: count)
    }
}

/// `rounds` jobs of `parts` parts on `team`, each with `phases` barriers:
/// in every phase each part writes a value into its own slot, waits at the
/// barrier, then checks every slot holds that phase's values.  Returns the
/// number of wrong reads (0 when the barrier orders the phases).
private func barrierRounds(on team: OpaquePointer, parts: Int, rounds: Int, phases: Int, salt: Int) -> Int {
    let slots = UnsafeMutablePointer<Int>.allocate(capacity: 2 * parts)
    let errors = UnsafeMutablePointer<Int>.allocate(capacity: parts)
    slots.initialize(repeating: -1, count: 2 * parts)
    errors.initialize(repeating: 0, count: parts)
    defer {
        slots.deallocate()
        errors.deallocate()
    }
    for round in 0..<rounds {
        TeamJob { part, parts in
            for phase in 0..<phases {
                let value = (salt &* 1_000_003) &+ round &* 7919 &+ phase &* 31 &+ part
                // Two banks, so the next phase's writes cannot overwrite what a slower part still reads.
                let bank = slots + (phase % 2) * parts
                bank[part] = value
                ck_team_barrier(team, Int32(parts))
                for other in 0..<parts
                where bank[other] != (salt &* 1_000_003) &+ round &* 7919 &+ phase &* 31 &+ other {
                    errors[part] += 1
                }
                ck_team_barrier(team, Int32(parts))
            }
        }.run(on: team, parts: parts)
    }
    return (0..<parts).reduce(0) { $0 + errors[$1] }
}

final class TeamTests: XCTestCase {
    func testRefusesFewerThanOneThreadAndDestroyOfNilIsANoOp() {
        XCTAssertNil(ck_team_create(0))
        XCTAssertNil(ck_team_create(-3))
        ck_team_destroy(nil)
    }

    /// Every part runs once, parts beyond the size are clamped, and part 0
    /// runs on the calling thread.
    func testRunsEachPartOnceClampedToTheSize() {
        for size in [1, 2, 3, 5, 100] {
            guard let team = ck_team_create(Int32(size)) else { return XCTFail("no team of \(size)") }
            XCTAssertEqual(Int(ck_team_size(team)), size)
            for requested in [1, 2, size, size + 3] {
                let expected = min(requested, size)
                let counts = UnsafeMutablePointer<Int>.allocate(capacity: size + 3)
                let seenParts = UnsafeMutablePointer<Int>.allocate(capacity: size + 3)
                counts.initialize(repeating: 0, count: size + 3)
                seenParts.initialize(repeating: 0, count: size + 3)
                let caller = Thread.current
                var part0OnCaller = false
                TeamJob { part, parts in
                    counts[part] += 1
                    seenParts[part] = parts
                    if part == 0 { part0OnCaller = Thread.current == caller }
                }.run(on: team, parts: requested)
                XCTAssertEqual((0..<(size + 3)).map { counts[$0] },
                               (0..<(size + 3)).map { $0 < expected ? 1 : 0 }, "team of \(size), \(requested) parts")
                XCTAssertTrue((0..<expected).allSatisfy { seenParts[$0] == expected })
                XCTAssertTrue(part0OnCaller, "part 0 runs on the caller")
                counts.deallocate()
                seenParts.deallocate()
            }
            ck_team_destroy(team)
        }
    }

    func testBarrierOrdersThePhasesOfAJob() {
        for size in [2, 3, 4, 70] {
            guard let team = ck_team_create(Int32(size)) else { return XCTFail("no team of \(size)") }
            finishes(within: 120, "barriers on a team of \(size)") {
                let rounds = size > 8 ? 20 : 300
                XCTAssertEqual(barrierRounds(on: team, parts: size, rounds: rounds, phases: 5, salt: size), 0)
                // Fewer parts than threads: the idle workers must not count at the barrier.
                XCTAssertEqual(barrierRounds(on: team, parts: size - 1, rounds: rounds, phases: 3, salt: -size), 0)
            }
            ck_team_destroy(team)
        }
    }

    /// Two teams, each driven by its own thread, at the same time.
    func testTwoTeamsRunAtOnceFromTwoThreads() {
        let group = DispatchGroup()
        let errors = Counts(2)
        defer { errors.pointer.deallocate() }
        for index in 0..<2 {
            group.enter()
            Thread {
                if let team = ck_team_create(Int32(2 + index)) {
                    errors.pointer[index] = barrierRounds(on: team, parts: 2 + index, rounds: 2_000, phases: 3, salt: 17 + index)
                    ck_team_destroy(team)
                }
                group.leave()
            }.start()
        }
        if group.wait(timeout: .now() + 120) == .timedOut {
            return XCTFail("two teams at once did not finish within 120 s (a hang)")
        }
        XCTAssertEqual(errors.pointer[0], 0, "the team of 2")
        XCTAssertEqual(errors.pointer[1], 0, "the team of 3")
    }

    /// Destroy must join workers that have not started yet, that spin, and
    /// that have fallen asleep; a run must wake sleeping workers.
    func testCreateAndDestroyManyTimes() {
        finishes(within: 120, "creating and destroying teams") {
            for iteration in 0..<200 {
                guard let team = ck_team_create(Int32(1 + iteration % 4)) else { return XCTFail("no team") }
                switch iteration % 3 {
                case 0: break  // destroyed at once, its workers perhaps not yet running
                case 1: XCTAssertEqual(barrierRounds(on: team, parts: 1 + iteration % 4, rounds: 3, phases: 2, salt: iteration), 0)
                default: if iteration % 30 == 2 { usleep(20_000) }  // long enough for the workers to sleep
                }
                ck_team_destroy(team)
            }
            guard let team = ck_team_create(3) else { return XCTFail("no team") }
            for _ in 0..<3 {
                usleep(20_000)
                XCTAssertEqual(barrierRounds(on: team, parts: 3, rounds: 2, phases: 2, salt: 5), 0, "after a sleep")
            }
            ck_team_destroy(team)
        }
    }
}

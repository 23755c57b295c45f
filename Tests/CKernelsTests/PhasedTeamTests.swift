// PhasedTeamTests.swift: ck_team_run_phases, the jobs whose parts any thread may take.
//
// Every (phase, part) must run exactly once, every part of a phase before
// any part of the next, with more parts than threads, on teams of every
// size; a result built from per-part slots must not depend on the team's
// size (which thread ran which part); phased jobs and ck_team_run jobs
// must mix on one team (a late worker of an ended phased job must neither
// run a part of the next job nor miss one of a ck_team_run job); bad
// programs are refused; teams are destroyed cleanly right after phased
// jobs.  Waits that could hang fail after a timeout instead.
import CKernels
import Dispatch
import Foundation
import XCTest

/// A Swift closure as a ck_phase_fn job: `body(phase, part)`.
private final class PhasedJob {
    let body: (Int, Int) -> Void
    init(_ body: @escaping (Int, Int) -> Void) { self.body = body }

    static let entry: ck_phase_fn = { context, phase, part in
        Unmanaged<PhasedJob>.fromOpaque(context!).takeUnretainedValue().body(Int(phase), Int(part))
    }

    @discardableResult
    func run(on team: OpaquePointer, parts: [Int32]) -> Int32 {
        withExtendedLifetime(self) {
            parts.withUnsafeBufferPointer { counts in
                ck_team_run_phases(team, Int32(counts.count), counts.baseAddress, PhasedJob.entry,
                                   Unmanaged.passUnretained(self).toOpaque())
            }
        }
    }
}

/// Runs `program` (parts per phase) `rounds` times on `team`; returns the number of wrong
/// observations: a (phase, part) run other than once, or a part that started before the
/// phase before it had finished every part.
private func phasedRounds(on team: OpaquePointer, program: [Int32], rounds: Int) -> Int {
    let total = program.reduce(0) { $0 + Int($1) }
    let offsets = program.reduce(into: [0]) { $0.append($0.last! + Int($1)) }
    let runs = UnsafeMutablePointer<Int>.allocate(capacity: total)
    let finished = UnsafeMutablePointer<Int>.allocate(capacity: program.count)
    let errors = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    defer { runs.deallocate(); finished.deallocate(); errors.deallocate() }
    errors.pointee = 0
    let lock = NSLock()
    for _ in 0..<rounds {
        runs.initialize(repeating: 0, count: total)
        finished.initialize(repeating: 0, count: program.count)
        PhasedJob { phase, part in
            lock.lock()
            if phase > 0, finished[phase - 1] != Int(program[phase - 1]) { errors.pointee += 1 }
            lock.unlock()
            runs[offsets[phase] + part] += 1
            lock.lock()
            finished[phase] += 1
            lock.unlock()
        }.run(on: team, parts: program)
        errors.pointee += (0..<total).filter { runs[$0] != 1 }.count
    }
    return errors.pointee
}

final class PhasedTeamTests: XCTestCase {
    func testEveryPartOfEveryPhaseRunsOnceAndInOrder() {
        for size in [1, 2, 3, 5, 40] {
            guard let team = ck_team_create(Int32(size)) else { return XCTFail("no team of \(size)") }
            finishes(within: 120, "phased jobs on a team of \(size)") {
                for program: [Int32] in [[1], [2, 1, 2], [7, 1, 1, 3, 1, 16], [1, 1, 1], Array(repeating: 2, count: 40)] {
                    XCTAssertEqual(phasedRounds(on: team, program: program, rounds: size > 8 ? 20 : 300), 0,
                                   "team of \(size), program \(program)")
                }
            }
            ck_team_destroy(team)
        }
    }

    /// Per-part slots summed in part order: the same bits whatever the team's size.
    func testTheResultDoesNotDependOnWhichThreadRunsAPart() {
        func result(threads: Int) -> [Float] {
            guard let team = ck_team_create(Int32(threads)) else { XCTFail("no team"); return [] }
            defer { ck_team_destroy(team) }
            let parts = 6
            let slots = UnsafeMutablePointer<Float>.allocate(capacity: parts)
            defer { slots.deallocate() }
            var sums: [Float] = []
            for round in 0..<50 {
                slots.initialize(repeating: 0, count: parts)
                var total: Float = 0
                PhasedJob { phase, part in
                    if phase == 0 {
                        for index in 0..<1000 { slots[part] += 1 / Float(1 + index * parts + part + round) }
                    } else {
                        total = (0..<parts).reduce(0) { $0 + slots[$1] }
                    }
                }.run(on: team, parts: [Int32(parts), 1])
                sums.append(total)
            }
            return sums
        }
        let one = result(threads: 1)
        XCTAssertEqual(one.count, 50)
        for threads in [2, 3, 6, 9] { XCTAssertEqual(result(threads: threads), one, "\(threads) threads") }
    }

    /// Phased and ck_team_run jobs back to back on one team: late workers of a phased
    /// job must leave the next job alone, and still join a ck_team_run job.
    func testPhasedAndBoundJobsMix() {
        guard let team = ck_team_create(3) else { return XCTFail("no team") }
        finishes(within: 120, "mixed jobs") {
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: 3)
            defer { counts.deallocate() }
            for round in 0..<3000 {
                if round % 3 == 0 {
                    counts.initialize(repeating: 0, count: 3)
                    TeamJob { part, _ in counts[part] += 1 }.run(on: team, parts: 3)
                    XCTAssertEqual([counts[0], counts[1], counts[2]], [1, 1, 1], "round \(round)")
                } else {
                    XCTAssertEqual(phasedRounds(on: team, program: [2, 1, 3], rounds: 1), 0, "round \(round)")
                }
            }
        }
        ck_team_destroy(team)
    }

    /// Threads that spin on every core take the workers' cores away: the team must notice
    /// and let the caller run alone (the parts still each run once), then try again later.
    func testACallerWhoseWorkersKeepLosingTheirCoresRunsAlone() {
        guard let team = ck_team_create(2) else { return XCTFail("no team") }
        // [0]: stop; [1]: hogs running.  Never freed: a hog may read it after the test ends.
        let flags = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        flags.initialize(repeating: 0, count: 2)
        nonisolated(unsafe) let shared = flags
        let lock = NSLock()
        let hogs = ProcessInfo.processInfo.activeProcessorCount
        for _ in 0..<hogs {
            Thread {
                lock.lock(); shared[1] += 1; lock.unlock()
                var spin = 0
                while lock.withLock({ shared[0] == 0 }) { for _ in 0..<1000 { spin &+= 1 } }
            }.start()
        }
        while lock.withLock({ flags[1] < hogs }) { usleep(1000) }
        var wentAlone = false, errors = 0
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2)
        defer { sums.deallocate() }
        finishes(within: 120, "jobs beside busy threads") {
            let deadline = Date().addingTimeInterval(20)
            while !wentAlone && Date() < deadline {
                // Parts of some tens of microseconds, as a training step's are.
                PhasedJob { _, part in
                    var sum = 0.0
                    for index in 0..<20_000 { sum += 1 / Double(index + 1 + part) }
                    sums[part] = sum
                }.run(on: team, parts: [2, 1, 2])
                wentAlone = ck_team_solo_jobs_left(team) > 0
            }
            // Alone, the jobs are still right.
            errors += phasedRounds(on: team, program: [2, 1, 2], rounds: 200)
        }
        lock.withLock { flags[0] = 1 }
        XCTAssertTrue(wentAlone, "with \(hogs) spinning threads on \(hogs) cores the workers are late; the caller should go alone")
        XCTAssertEqual(errors, 0)
        XCTAssertLessThanOrEqual(ck_team_solo_jobs_left(team), Int(CK_TEAM_SOLO_JOBS_MOST))
        usleep(10_000)
        ck_team_destroy(team)
    }

    func testBadProgramsAreRefusedAndRunNothing() {
        guard let team = ck_team_create(2) else { return XCTFail("no team") }
        var ran = 0
        let job = PhasedJob { _, _ in ran += 1 }
        XCTAssertEqual(job.run(on: team, parts: [2, 0, 1]), -1, "a phase of no parts")
        XCTAssertEqual(job.run(on: team, parts: [2, -1]), -1)
        XCTAssertEqual(job.run(on: team, parts: Array(repeating: 1, count: Int(CK_TEAM_MAX_PHASES) + 1)), -1)
        XCTAssertEqual(job.run(on: team, parts: [Int32(1 << 20)]), -1, "more tickets than the claim word holds")
        XCTAssertEqual(ran, 0)
        XCTAssertEqual(job.run(on: team, parts: []), 0, "an empty program runs nothing")
        XCTAssertEqual(job.run(on: team, parts: Array(repeating: 1, count: Int(CK_TEAM_MAX_PHASES))), 0)
        XCTAssertEqual(ran, Int(CK_TEAM_MAX_PHASES))
        ck_team_destroy(team)
    }

    func testDestroyRightAfterPhasedJobs() {
        finishes(within: 120, "destroying after phased jobs") {
            for iteration in 0..<300 {
                guard let team = ck_team_create(Int32(2 + iteration % 3)) else { return XCTFail("no team") }
                XCTAssertEqual(phasedRounds(on: team, program: [Int32(1 + iteration % 5), 1], rounds: 1 + iteration % 3), 0)
                if iteration % 50 == 0 { usleep(20_000) }  // workers asleep by now
                ck_team_destroy(team)
            }
        }
    }
}

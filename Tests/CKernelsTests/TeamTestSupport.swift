// TeamTestSupport.swift: what the thread-team tests share.
//
// A Swift closure as a ck_team_run job, and a guard that fails a test,
// rather than hanging the suite, when a job does not finish in time.
import CKernels
import Dispatch
import Foundation
import XCTest

/// A Swift closure as a ck_task_fn job: `body(part, parts)`.
final class TeamJob {
    let body: (Int, Int) -> Void
    init(_ body: @escaping (Int, Int) -> Void) { self.body = body }

    static let entry: ck_task_fn = { context, part, parts in
        Unmanaged<TeamJob>.fromOpaque(context!).takeUnretainedValue().body(Int(part), Int(parts))
    }

    func run(on team: OpaquePointer, parts: Int) {
        withExtendedLifetime(self) {
            ck_team_run(team, Int32(parts), TeamJob.entry, Unmanaged.passUnretained(self).toOpaque())
        }
    }
}

/// Runs `body` on a thread of its own and fails (rather than hangs) if it
/// has not finished within `seconds`.
func finishes(within seconds: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line,
              _ body: @escaping () -> Void) {
    let done = DispatchSemaphore(value: 0)
    // The test owns `body` and waits for it below, so handing it to one thread is safe.
    nonisolated(unsafe) let work = body
    Thread {
        work()
        done.signal()
    }.start()
    if done.wait(timeout: .now() + seconds) == .timedOut {
        XCTFail("\(what) did not finish within \(seconds) s (a hang)", file: file, line: line)
    }
}

// PeakMemoryReport.swift: the process's peak resident size, written at exit for tests.
//
// The hostile-input tests run `cnn` on absurd flags and files and must
// show that each child stays within a memory bound.  getrusage's
// RUSAGE_CHILDREN is a maximum over every child a test process ever ran,
// and a child's own ru_maxrss starts at its parent's, so neither isolates
// one run; the kernel's VmHWM of this address space does.  With
// SWIFTNET_PEAK_MEMORY_FILE set, cnn writes its own peak resident size, in
// bytes, to that file as it exits, however it exits; unset (always, outside
// the tests), this does nothing.

import Foundation

/// Where to write the peak at exit; set once, before anything else runs.
nonisolated(unsafe) private var peakMemoryFile: String?

enum PeakMemoryReport {
    static func installIfAsked() {
        guard let path = ProcessInfo.processInfo.environment["SWIFTNET_PEAK_MEMORY_FILE"], !path.isEmpty else { return }
        peakMemoryFile = path
        atexit {
            // VmHWM, not getrusage: ru_maxrss survives fork and exec, so a child would report
            // the test process's own peak; VmHWM belongs to this program's address space alone.
            guard let path = peakMemoryFile,
                  let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                  let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return }
            try? Data("\(kilobytes * 1024)\n".utf8).write(to: URL(fileURLWithPath: path))
        }
    }
}

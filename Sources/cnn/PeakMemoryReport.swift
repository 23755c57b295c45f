// PeakMemoryReport.swift: the process's peak resident size, written at exit for tests.
//
// The hostile-input tests run `cnn` on absurd flags and files and must
// show that each child stays within a memory bound.  getrusage's
// RUSAGE_CHILDREN is a maximum over every child a test process ever ran,
// so one earlier child that trained on MNIST hides the rest.  With
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
            guard let path = peakMemoryFile else { return }
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            try? Data("\(Int(usage.ru_maxrss) * 1024)\n".utf8).write(to: URL(fileURLWithPath: path))
        }
    }
}

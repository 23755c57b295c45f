// BenchKernels.swift: `cnn bench-kernels`, the C kernels' microbenchmarks.
//
// Times every kernel of KernelCases (Sources/KernelCatalog: the seed's
// shapes and the book network's dense layers, one thread, one mini-batch of
// 10) on the vector variant in use, and its plain scalar oracle, after
// checking that the two agree, and prints
// microseconds, GFLOP/s and the fraction of this machine's peak.  The peak
// is measured in the same run: a large single-threaded SGEMM through
// OpenBLAS, the best this core does in practice.  Each figure is the median
// of 5 timings, each repeating the call for at least 50 ms.  This prints
// figures; it is a benchmark, not a test, and nothing fails on time.

import ArgumentParser
import CKernels
import Foundation
import KernelCatalog
import SwiftNet

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Time each C kernel at the seed's shapes against its scalar reference.")

    @Option(parsing: .unconditional, help: "Mini-batch size of the shapes.")
    var batch: Int = 10

    @OptionGroup var memoryOptions: MemoryOptions

    /// The kernels take sizes as C ints.
    static let maximumBatch = Int(Int32.max) / KernelCases.largestBufferPerSample

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard batch <= Self.maximumBatch else {
            throw ValidationError("--batch must be at most \(Self.maximumBatch), so that every buffer fits the kernels' C ints; got \(batch)")
        }
    }

    func run() throws {
        // Checked here, after every option group has set the budget.
        let (perSample, overflow) = batch.multipliedReportingOverflow(by: KernelCases.valuesPerSample)
        let values = overflow ? nil : perSample + KernelCases.fixedValues
        try MemoryBudget.default.check(values.map { $0 * MemoryLayout<Float>.stride },
                                       for: "the kernels' buffers at --batch \(batch)")
        ck_flush_denormals_on_this_thread()
        let peak = measurePeak()
        print("vector variant: \(KernelInfo.isaName), GEMM: \(KernelInfo.gemmName), "
              + "forward path: \(KernelInfo.forwardPathName), one thread")
        print(String(format: "measured peak: %.1f GFLOP/s (1024^3 SGEMM, OpenBLAS, one thread)\n", peak))
        let header = [pad("kernel", 44), pad("fast us", 9, right: true), pad("ref us", 10, right: true),
                      pad("speed-up", 9, right: true), pad("GFLOP/s", 9, right: true), pad("of peak", 8, right: true)]
        print(header.joined())
        for kernel in KernelCases.all(batch: batch) {
            let deviation = kernel.validate()
            guard deviation <= 1e-4 else {
                throw KernelMismatch(kernel: kernel.name, deviation: deviation)
            }
            let fast = time(kernel.fast)
            let reference = kernel.timesReference ? time(kernel.reference) : nil
            let gflops = kernel.flops > 0 ? kernel.flops / fast / 1e3 : nil
            let columns = [
                pad(kernel.name, 44),
                pad(String(format: "%.1f", fast), 9, right: true),
                pad(reference.map { String(format: "%.1f", $0) } ?? "-", 10, right: true),
                pad(reference.map { String(format: "%.1fx", $0 / fast) } ?? "-", 9, right: true),
                pad(gflops.map { String(format: "%.1f", $0) } ?? "-", 9, right: true),
                pad(gflops.map { String(format: "%.0f%%", 100 * $0 / peak) } ?? "-", 8, right: true),
            ]
            print(columns.joined())
            fflush(nil)
        }
    }

    private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return right ? fill + text : text + fill
    }

    /// Median microseconds per call.
    private func time(_ body: () -> Void) -> Double {
        body()
        var samples: [Double] = []
        for _ in 0..<5 {
            var calls = 0
            let started = DispatchTime.now().uptimeNanoseconds
            var elapsed: UInt64 = 0
            repeat {
                body()
                calls += 1
                elapsed = DispatchTime.now().uptimeNanoseconds - started
            } while elapsed < 50_000_000
            samples.append(Double(elapsed) / 1e3 / Double(calls))
        }
        return samples.sorted()[2]
    }

    private func measurePeak() -> Double {
        let n = 1024
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        let microseconds = time {
            ck_sgemm_openblas(0, 0, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
        }
        return 2 * Double(n * n * n) / microseconds / 1e3
    }
}

/// A fast kernel that disagrees with its oracle: nothing after it is timed.
struct KernelMismatch: Error, CustomStringConvertible {
    let kernel: String
    let deviation: Float
    var description: String { "\(kernel) differs from its scalar oracle by \(deviation) of its scale" }
}

// KernelBenchmarks.swift: package-benchmark's entry for the C kernels.
//
// Every case of KernelCases (Sources/KernelCatalog) is first run against its
// scalar oracle; a kernel that differs by more than 1e-4 of its result's scale stops the
// run before anything is timed, naming the kernel.  Then each is timed on
// one thread at mini-batch 10 on the vector variant this CPU gets (wall
// clock percentiles, malloc counts, calls per second).  Kernels under a
// few microseconds are timed 1000 calls per sample (scalingFactor .kilo),
// since each sample costs package-benchmark about 70 ns of its own.
//
// `cnn bench-kernels` stays as the user's view of the same kernels, with
// GFLOP/s and the fraction of this machine's peak.

import Benchmark
import CKernels
import Foundation
import KernelCatalog

let benchmarks: @Sendable () -> Void = {
    ck_flush_denormals_on_this_thread()
    let cases = KernelCases.all(batch: 10)
    for kernel in cases {
        let deviation = kernel.validate()
        guard deviation <= 1e-4 else {
            let message = "KernelBenchmarks: \(kernel.name) differs from its oracle by \(deviation) of its scale; not timing anything\n"
            FileHandle.standardError.write(Data(message.utf8))
            exit(1)
        }
    }
    let isa = String(cString: ck_isa_name(ck_isa_current()))
    for kernel in cases {
        // One untimed call decides whether the kernel is tiny enough to batch.
        let started = DispatchTime.now().uptimeNanoseconds
        kernel.fast()
        let tiny = DispatchTime.now().uptimeNanoseconds - started < 5_000
        let configuration = Benchmark.Configuration(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            tags: ["isa": isa],
            scalingFactor: tiny ? .kilo : .one,
            maxDuration: .milliseconds(500),
            maxIterations: tiny ? 2_000 : 20_000)
        Benchmark(kernel.name, configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations { kernel.fast() }
        }
    }
}

// AllocationBenchmarks.swift: that training and evaluation allocate nothing
// once a network is built, and how long they take.
//
// Each benchmark is 20 training steps of one network (the seed's A0, A and B,
// and the book's best network) on 2 threads, or one evaluation of 1,000
// images.  The images are random (the count of allocations and the time of
// a step do not depend on what the pixels show).  With SwiftNet's own GEMM,
// Thresholds/ holds 0 mallocs for every one of them, so
//     swift package --disable-sandbox benchmark thresholds check --target AllocationBenchmarks
// fails (a non-zero exit) if a step or an evaluation starts allocating.
// Each network first trains one step and evaluates once outside the timing,
// so a step that throws stops the run instead of being timed (and counted)
// as a step.  The same steps through OpenBLAS are measured too, without a
// threshold: OpenBLAS may allocate inside its own calls (0.3.21 did inside
// the two-conv network's GEMM before the packed kernel took it over), which
// SwiftNet cannot change.
// (This replaces bench/allocation-check's hand-written malloc shim.)

import Benchmark
import CKernels
import Foundation
import SwiftNet

/// The networks, as `cnn train --layers` specs (sigmoid unless told, as the seed).
let networks: [(name: String, spec: String)] = [
    ("A0", "conv 20 5x5, pool 2, fc 100, softmax 10"),
    ("A", "conv 20 5x5, pool 2, fc 100 dropout 0.3, softmax 10"),
    ("B", "conv 20 5x5, pool 2, conv 40 5x5, pool 2, fc 100 dropout 0.3, softmax 10"),
    ("book", NetworkSpec.bookBest),
]

let stepsPerSample = 20, miniBatchSize = 10, evaluationImages = 1_000

/// Random 28x28 images with labels 0...9 in turn.
func randomImages(_ count: Int, name: String) throws -> Dataset {
    var generator = SystemRandomNumberGenerator()
    let pixels = (0..<(count * 784)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return try Dataset(name: name, channels: 1, height: 28, width: 28, pixels: pixels,
                       labels: (0..<count).map { Int32($0 % 10) }, classCount: 10)
}

let benchmarks: @Sendable () -> Void = {
    let training: Dataset, images: Dataset
    do {
        training = try randomImages(stepsPerSample * miniBatchSize, name: "random training images")
        images = try randomImages(evaluationImages, name: "random test images")
    } catch {
        fatalError("AllocationBenchmarks: \(error)")
    }
    let noMallocs: [BenchmarkMetric: BenchmarkThresholds] = [
        .mallocCountTotal: .init(relative: [.p90: 0], absolute: [.p90: 0]),
    ]
    for (name, spec) in networks {
        let network: Network
        do {
            let layers = try NetworkSpec.layers(from: spec, input: SampleShape(channels: 1, height: 28, width: 28),
                                                miniBatchSize: miniBatchSize)
            network = try Network(layers: layers, miniBatchSize: miniBatchSize, threads: 2, seed: 1)
            _ = try network.trainMiniBatch(training, start: 0, eta: 0.01, weightDecay: 0)
            _ = try network.accuracy(on: images)
        } catch {
            fatalError("AllocationBenchmarks: network \(name): \(error)")
        }
        for (gemm, backend) in [("own", CK_GEMM_OWN), ("openblas", CK_GEMM_OPENBLAS)] {
            let configuration = Benchmark.Configuration(
                metrics: [.wallClock, .mallocCountTotal],
                maxDuration: .seconds(1), maxIterations: 200,
                thresholds: backend == CK_GEMM_OWN ? noMallocs : nil)
            Benchmark("train_\(name)_\(gemm)", configuration: configuration) { benchmark in
                ck_gemm_backend_select(backend)
                for _ in benchmark.scaledIterations {
                    for step in 0..<stepsPerSample {
                        blackHole(try? network.trainMiniBatch(training, start: step * miniBatchSize, eta: 0.01,
                                                              weightDecay: 0))
                    }
                }
            }
            Benchmark("evaluate_\(name)_\(gemm)", configuration: configuration) { benchmark in
                ck_gemm_backend_select(backend)
                for _ in benchmark.scaledIterations {
                    blackHole(try? network.accuracy(on: images))
                }
            }
        }
    }
}

// Bench.swift: `cnn bench`, SwiftNet's own speed measurements.
//
// Times whole training epochs of the seed's networks (50,000 images, the
// seed's data order, plain SGD) and the classification of the 10,000 test
// images, for every combination of network, mini-batch size and thread
// count asked for, and the training rate in GFLOP/s against the FMA peak
// measured at the start of the same run (BenchFLOPs.swift says what counts).  Each figure is the median of --reps repetitions after
// a warm-up.  Results print as a table and, with --json, as JSON lines that
// bench/compare merges with PyTorch's and JAX's figures from the same run.

import ArgumentParser
import CKernels
import Foundation
import SwiftNet

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training epochs and test-set evaluation of the seed's networks, or of any network (--layers).")

    @Option(help: "Comma-separated networks: A0 (one conv, no dropout), A (one conv, dropout 0.3), B (two conv, dropout 0.3).")
    var nets: String = "A0,A,B"

    @Option(help: ArgumentHelp("Time this network instead of --nets, as cnn train's --layers spec (its input is the data's).",
                               valueName: "spec"))
    var layers: String?

    @Option(parsing: .unconditional, help: "Comma-separated mini-batch sizes.")
    var miniBatchSizes: String = "10,64"

    @Option(parsing: .unconditional, help: "Comma-separated thread counts (default: 1 and every core).")
    var threads: String?

    @Option(parsing: .unconditional, help: "Repetitions per figure; the median is reported.")
    var reps: Int = 3

    @Option(parsing: .unconditional, help: "Time this many mini-batches per repetition and scale to an epoch (0: whole epochs).")
    var batches: Int = 0

    @OptionGroup var dataOptions: DataOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: "Append one JSON object per figure to this file.")
    var json: String?

    @Flag(help: ArgumentHelp("Instead: time network A's epoch against the number of training images (10k to 250k) and "
        + "against its dense and conv layers' widths, and draw the curves (--scaling-png)."))
    var scaling = false

    @Option(help: ArgumentHelp("With --scaling: the PNG to draw.", valueName: "path"))
    var scalingPng = "scaling.png"

    func validate() throws {
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1, got \(reps)") }
        guard batches >= 0 else { throw ValidationError("--batches must be zero or positive, got \(batches)") }
        _ = try parsedNets()
        _ = try integers(miniBatchSizes, flag: "--mini-batch-sizes")
        _ = try threadCounts()
        if scaling {
            try checkOutputFolder(scalingPng, flag: "--scaling-png")
            try checkOutputs([NamedFile(flag: "--scaling-png", path: scalingPng)], inputs: dataOptions.inputFiles)
        }
        if let json {
            try checkOutputFolder(json, flag: "--json")
            try checkOutputs([NamedFile(flag: "--json", path: json)], inputs: dataOptions.inputFiles)
        }
    }

    private func parsedNets() throws -> [BenchNetwork] {
        if let layers { return [.spec(layers)] }
        return try nets.split(separator: ",").map { name in
            guard let net = BenchNetwork(name: String(name)) else {
                throw ValidationError("--nets: unknown network '\(name)'; use A0, A or B")
            }
            return net
        }
    }

    private func integers(_ list: String, flag: String) throws -> [Int] {
        try list.split(separator: ",").map { item in
            guard let value = Int(item), value >= 1 else { throw ValidationError("\(flag): '\(item)' is not a positive integer") }
            return value
        }
    }

    private func threadCounts() throws -> [Int] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return try threads.map { try integers($0, flag: "--threads") } ?? Array(Set([1, cores])).sorted()
    }

    func run() throws {
        if scaling {
            let threadCount = try threadCounts().max() ?? 1
            return try ScalingSweep(dataOptions: dataOptions, threads: threadCount, batches: batches > 0 ? batches : 300,
                                    out: scalingPng).run()
        }
        let mnist = try dataOptions.load()
        let output = try json.map(AppendingFile.init(path:))
        // The FMA peak on each thread count, measured in this run, for the "of peak" column.
        var peaks: [Int: Double] = [:]
        for threadCount in try threadCounts() { peaks[threadCount] = ck_fma_peak_gflops(Int32(threadCount), 0.5) }
        print("FMA peak (\(KernelInfo.isaName), measured now): "
            + peaks.keys.sorted().map { String(format: "%.0f GFLOP/s on %d thread(s)", peaks[$0]!, $0) }.joined(separator: ", "))
        print("network  mini-batch  threads  epoch s (median)  images/s  test-set eval images/s (median)  training GFLOP/s  of peak")
        for net in try parsedNets() {
            for miniBatch in try integers(miniBatchSizes, flag: "--mini-batch-sizes") {
                for threadCount in try threadCounts() {
                    let figure = try measure(net, miniBatch: miniBatch, threads: threadCount, mnist: mnist)
                    let gflops = figure.trainingFLOPsPerSample * Double(mnist.training.count) / figure.epochSeconds / 1e9
                    let peak = peaks[threadCount] ?? 0
                    print(String(format: "%-8@ %10d %8d %17.3f %9.0f %32.0f %17.1f %7.0f%%", net.name as NSString, miniBatch,
                                 threadCount, figure.epochSeconds, Double(mnist.training.count) / figure.epochSeconds, figure.evalImagesPerSecond,
                                 gflops, peak > 0 ? 100 * gflops / peak : 0))
                    fflush(nil)
                    if let output {
                        let line = String(format: "{\"framework\":\"swiftnet\",\"net\":\"%@\",\"mb\":%d,\"threads\":%d,\"epoch_s_median\":%.4f,\"infer_img_s_median\":%.1f,\"isa\":\"%@\",\"training_gflops\":%.2f,\"fma_peak_gflops\":%.1f}\n",
                                          net.name, miniBatch, threadCount, figure.epochSeconds, figure.evalImagesPerSecond,
                                          KernelInfo.isaName, gflops, peak)
                        try output.append(Array(line.utf8))
                    }
                }
            }
        }
    }

    private func measure(_ net: BenchNetwork, miniBatch: Int, threads: Int, mnist: DataSplits)
        throws -> (epochSeconds: Double, evalImagesPerSecond: Double, trainingFLOPsPerSample: Double) {
        let input = SampleShape(channels: mnist.training.channels, height: mnist.training.height, width: mnist.training.width)
        let layers: [any Layer]
        do {
            layers = try net.layers(miniBatchSize: miniBatch, input: input)
        } catch let error as NetworkSpecError {
            throw ValidationError("--layers: \(error)")
        }
        let network = try Network(layers: layers, miniBatchSize: miniBatch, threads: threads, seed: 0)
        let available = mnist.training.count / miniBatch
        let timed = batches > 0 ? min(batches, available) : available
        // Warm-up: caches, the thread team, OpenBLAS's buffers.
        for index in 0..<min(50, available) {
            try network.trainMiniBatch(mnist.training, start: index * miniBatch, eta: 0.1, weightDecay: 0)
        }
        var epochTimes: [Double] = []
        for _ in 0..<reps {
            let started = DispatchTime.now().uptimeNanoseconds
            for index in 0..<timed {
                try network.trainMiniBatch(mnist.training, start: index * miniBatch, eta: 0.1, weightDecay: 0)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            epochTimes.append(seconds * Double(available) / Double(timed))
        }
        var evalRates: [Double] = []
        for _ in 0..<reps {
            let started = DispatchTime.now().uptimeNanoseconds
            _ = try network.accuracy(on: mnist.test)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            evalRates.append(Double(mnist.test.count) / seconds)
        }
        return (median(epochTimes), median(evalRates), NetworkFLOPs.perSample(layers).training)
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

/// The peers' networks (../shared/peers), A0, A and B, or any network as a spec.
enum BenchNetwork {
    case A0, A, B
    case spec(String)

    init?(name: String) {
        switch name {
        case "A0": self = .A0
        case "A": self = .A
        case "B": self = .B
        default: return nil
        }
    }

    /// The name in tables and JSON: A0, A, B, or the spec.
    var name: String {
        switch self {
        case .A0: return "A0"
        case .A: return "A"
        case .B: return "B"
        case .spec(let text): return text
        }
    }

    func layers(miniBatchSize: Int, input: SampleShape) throws -> [any Layer] {
        switch self {
        case .A0: return SeedNetwork.oneConv.layers(miniBatchSize: miniBatchSize, activation: .sigmoid, dropout: 0)
        case .A: return SeedNetwork.oneConv.layers(miniBatchSize: miniBatchSize, activation: .sigmoid, dropout: 0.3)
        case .B: return SeedNetwork.twoConv.layers(miniBatchSize: miniBatchSize, activation: .sigmoid, dropout: 0.3)
        case .spec(let text): return try NetworkSpec.layers(from: text, input: input, miniBatchSize: miniBatchSize)
        }
    }
}

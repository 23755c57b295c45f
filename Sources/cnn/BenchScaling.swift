// BenchScaling.swift: `cnn bench --scaling`, how an epoch's cost grows.
//
// Three sweeps on the default threads, mini-batch 10, each timed after a
// warm-up: network A on 10k to 250k training images (beyond the 50,000
// images, the book's one-pixel shifts of them, as --expand trains on), each
// a whole pass; then A's dense layer from 100 to 1000 neurons, and its conv
// layer from 20 to 80 filters, each --batches mini-batches (default 300)
// scaled to an epoch of 50,000.  Prints a table and draws the three curves
// (ScalingChart), so that where the cost stops growing in step with the
// work, because the weights or the data leave the caches, shows.

import Foundation
import SwiftNet
import SwiftNetImages

struct ScalingSweep {
    let dataOptions: DataOptions
    let threads: Int
    let batches: Int
    let out: String

    private func seconds(_ body: () throws -> Void) rethrows -> Double {
        let started = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    }

    private func network(_ spec: String, input: SampleShape) throws -> Network {
        try Network(layers: NetworkSpec.layers(from: spec, input: input, miniBatchSize: 10), miniBatchSize: 10,
                    threads: threads, seed: 0)
    }

    func run() throws {
        let mnist = try dataOptions.load()
        let training = mnist.training
        let input = SampleShape(channels: training.channels, height: training.height, width: training.width)
        let a = "conv 20 5x5, pool 2, fc 100 dropout 0.3, softmax 10"
        print("sweep                 value   epoch s   us per image")

        // Training images: whole passes; beyond the data, its shifted copies.
        let plan = EpochPlan(imageCount: training.count, expand: true, shuffleSeed: nil, epoch: 0)
        var imagePoints: [(x: Double, y: Double)] = []
        for count in [10_000, 25_000, 50_000, 100_000, 250_000] where count <= plan.count {
            let net = try network(a, input: input)
            for batch in 0..<50 { _ = try net.trainMiniBatch(training, start: batch * 10, eta: 0.1, weightDecay: 0, plan: plan) }
            let time = try seconds {
                for batch in 0..<(count / 10) {
                    _ = try net.trainMiniBatch(training, start: batch * 10, eta: 0.1, weightDecay: 0, plan: plan)
                }
            }
            imagePoints.append((Double(count) / 1000, time))
            print(String(format: "training images %12d %9.2f %14.1f", count, time, 1e6 * time / Double(count)))
        }

        // Widths: --batches mini-batches, scaled to an epoch of the training set.
        func width(_ label: String, _ values: [Int], spec: (Int) -> String) throws -> [(x: Double, y: Double)] {
            try values.map { value in
                let net = try network(spec(value), input: input)
                for batch in 0..<20 { _ = try net.trainMiniBatch(training, start: batch * 10, eta: 0.1, weightDecay: 0) }
                let timed = min(batches, training.count / 10)
                let time = try seconds {
                    for batch in 0..<timed { _ = try net.trainMiniBatch(training, start: batch * 10, eta: 0.1, weightDecay: 0) }
                } * Double(training.count / 10) / Double(timed)
                print(String(format: "%-18@ %8d %9.2f %14.1f", label as NSString, value, time, 1e6 * time / Double(training.count)))
                return (Double(value), time)
            }
        }
        let dense = try width("fc neurons", [100, 200, 500, 1000]) { "conv 20 5x5, pool 2, fc \($0) dropout 0.3, softmax 10" }
        let conv = try width("conv filters", [20, 40, 60, 80]) { "conv \($0) 5x5, pool 2, fc 100 dropout 0.3, softmax 10" }

        let chart = ScalingChart.draw([
            ScalingPanel(title: "EPOCH S AGAINST IMAGES", xTitle: "TRAINING IMAGES (THOUSANDS)", points: imagePoints),
            ScalingPanel(title: "EPOCH S AGAINST FC WIDTH", xTitle: "FC NEURONS", points: dense),
            ScalingPanel(title: "EPOCH S AGAINST CONV WIDTH", xTitle: "CONV FILTERS", points: conv),
        ])
        try PNG.write(chart, to: out)
        print("Wrote \(out) (network A, mini-batch 10, \(threads) thread\(threads == 1 ? "" : "s"))")
    }
}

// ActorTraining: SwiftNet inside an actor, with progress from an AsyncStream.
//
// Four classes of 3x16x16 images (a red, green or blue square, or stripes,
// at a random place, over noise) are made in memory as [Float] values in
// [0, 1].  An actor owns the network and its Trainer; the caller reads the
// Trainer's events, which are Sendable, from another task while the actor
// trains, then asks the actor for a prediction.

import SwiftNet

/// Synthetic images: `count` of them, values in [0, 1], with their labels.
func makeImages(count: Int, seed: UInt64) -> (values: [Float], labels: [Int32]) {
    var state = seed | 1
    func next() -> UInt64 {  // xorshift64*: a tiny generator, enough for test pictures
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 2685821657736338717
    }
    let side = 16, area = side * side
    var values = [Float](repeating: 0, count: count * 3 * area)
    var labels = [Int32](repeating: 0, count: count)
    for image in 0..<count {
        let label = Int(next() % 4)
        labels[image] = Int32(label)
        let top = Int(next() % 8), left = Int(next() % 8)
        for channel in 0..<3 {
            for row in 0..<side {
                for column in 0..<side {
                    let inSquare = (top..<(top + 8)).contains(row) && (left..<(left + 8)).contains(column)
                    let lit = label == 3 ? (column % 4 < 2) : (inSquare && channel == label)
                    let noise = Float(next() % 64) / 256
                    values[image * 3 * area + channel * area + row * side + column] = lit ? 0.75 + noise / 4 : noise
                }
            }
        }
    }
    return (values, labels)
}

let names = ["red", "green", "blue", "stripes"]
func dataset(_ name: String, count: Int, seed: UInt64) throws -> Dataset {
    let (values, labels) = makeImages(count: count, seed: seed)
    return try Dataset(name: name, channels: 3, height: 16, width: 16, values: values, labels: labels,
                       classCount: 4, classNames: names)
}

/// Owns a network and trains it; callers talk to it only through its methods.
actor Lab {
    private let network: Network
    private let trainer: Trainer

    init(data: DataSplits) throws {
        network = try Network(layers: [
            ConvPoolLayer(filterShape: (8, 3, 5, 5), imageShape: (10, 3, 16, 16), poolSize: (2, 2), activation: .relu),
            FullyConnectedLayer(nIn: 8 * 6 * 6, nOut: 32, activation: .relu),
            SoftmaxLayer(nIn: 32, nOut: 4),
        ], miniBatchSize: 10, threads: 2, seed: 1)
        trainer = Trainer(network: network, data: data, settings: TrainingHyperparameters(epochs: 4, eta: 0.05, seed: 1))
    }

    /// The trainer's events; an AsyncStream is Sendable, so another task may read it.
    var events: AsyncStream<TrainingEvent> { trainer.events }

    func train() throws -> Double {
        guard case .finished(let summary) = try trainer.run() else { return 0 }
        return summary.testAccuracy ?? 0
    }

    func predict(_ image: [Float]) throws -> Prediction { try network.predict(image, classNames: names) }
}

let data = try DataSplits(training: dataset("training", count: 2_000, seed: 11),
                          validation: dataset("validation", count: 400, seed: 12),
                          test: dataset("test", count: 400, seed: 13))
let lab = try Lab(data: data)
let events = await lab.events
let printer = Task {
    for await event in events {
        if case .epochFinished(let epoch) = event {
            print("epoch \(epoch.epoch): validation accuracy \(String(format: "%.1f", epoch.validationAccuracy * 100))%")
        }
    }
}
let test = try await lab.train()
await printer.value
print("test accuracy: \(String(format: "%.1f", test * 100))%")
let (one, labels) = makeImages(count: 1, seed: 99)
let reading = try await lab.predict(one)
print("one new image of \(names[Int(labels[0])]): read as \(reading.className ?? "?")")

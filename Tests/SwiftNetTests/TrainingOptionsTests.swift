// TrainingOptionsTests.swift: shuffling, expansion, momentum and schedules
// against what they promise, computed by hand.
//
// Shuffling must be a permutation that the seed and epoch alone repeat;
// expansion must give each image and exactly its four one-pixel shifts;
// momentum must follow its formula step by step on a problem small enough
// to differentiate by hand (a lone softmax layer); the schedules must give
// the learning rates and stops their definitions give.

@testable import SwiftNet
import XCTest

final class TrainingOptionsTests: XCTestCase {
    func testShufflingIsAPermutationRepeatedBySeedAndEpoch() {
        let plain = EpochPlan(imageCount: 1000, expand: false, shuffleSeed: nil, epoch: 3)
        XCTAssertEqual((0..<1000).map { plain.sample(at: $0).image }, Array(0..<1000), "no shuffle: file order")
        let shuffled = EpochPlan(imageCount: 1000, expand: false, shuffleSeed: 7, epoch: 3)
        let order = (0..<1000).map { shuffled.sample(at: $0).image }
        XCTAssertEqual(order.sorted(), Array(0..<1000), "a permutation")
        XCTAssertNotEqual(order, Array(0..<1000))
        XCTAssertEqual(order, (0..<1000).map { EpochPlan(imageCount: 1000, expand: false, shuffleSeed: 7, epoch: 3).sample(at: $0).image },
                       "the same seed and epoch repeat the order")
        XCTAssertNotEqual(order, (0..<1000).map { EpochPlan(imageCount: 1000, expand: false, shuffleSeed: 7, epoch: 4).sample(at: $0).image })
        XCTAssertNotEqual(order, (0..<1000).map { EpochPlan(imageCount: 1000, expand: false, shuffleSeed: 8, epoch: 3).sample(at: $0).image })
        // Expanded and shuffled: every (image, shift) pair exactly once.
        let both = EpochPlan(imageCount: 40, expand: true, shuffleSeed: 1, epoch: 0)
        XCTAssertEqual(both.count, 200)
        let pairs = Set((0..<200).map { both.sample(at: $0) }.map { "\($0.image)/\($0.shift)" })
        XCTAssertEqual(pairs.count, 200)
    }

    func testUniformIntegersCoverTheirRangeEvenly() {
        var random = RandomSource(seed: 3)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 { counts[Int(random.nextBelow(6))] += 1 }
        // Each count is Binomial(60000, 1/6): mean 10000, sd about 91.
        XCTAssertTrue(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
    }

    /// Two 3x4 images with distinct pixels; expansion must load each as
    /// itself, then moved down, up, right and left with the vacated row or
    /// column blank, with its label.
    func testExpansionGivesExactlyTheFourOnePixelShifts() throws {
        let (height, width) = (3, 4)
        let pixels = (0..<(2 * height * width)).map { UInt8(10 + $0) }
        let data = Dataset.valid(name: "two", channels: 1, height: height, width: width, pixels: pixels, labels: [1, 0], classCount: 2)
        let network = try Network(layers: [SoftmaxLayer(nIn: height * width, nOut: 2)], miniBatchSize: 10, threads: 1)
        let plan = EpochPlan(imageCount: 2, expand: true, shuffleSeed: nil, epoch: 0)
        network.replicas[0].load(data, start: 0, batch: 10, plan: plan)
        let loaded = Array(UnsafeBufferPointer(start: network.replicas[0].input.pointer, count: 10 * height * width))
        let labels = Array(UnsafeBufferPointer(start: network.replicas[0].labels.pointer, count: 10))
        XCTAssertEqual(labels, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
        for image in 0..<2 {
            func pixel(_ y: Int, _ x: Int) -> Float {
                guard (0..<height).contains(y), (0..<width).contains(x) else { return 0 }
                return Float(pixels[image * height * width + y * width + x]) / 256
            }
            for (shift, (dy, dx)) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)].enumerated() {
                let sample = image * 5 + shift
                let want = (0..<height).flatMap { y in (0..<width).map { x in pixel(y - dy, x - dx) } }
                let got = Array(loaded[(sample * height * width)..<((sample + 1) * height * width)])
                XCTAssertEqual(got, want, "image \(image), shift (\(dy), \(dx))")
            }
        }
    }

    /// Augmented samples are drawn from the seed, the epoch and the sample
    /// alone: loading them twice (or in another split) gives the same
    /// pixels, another epoch other pixels, and every label stays its image's.
    func testAugmentationRepeatsFromTheSeedAndKeepsLabels() throws {
        let data = TinyNetwork.data(count: 12, seed: 5)
        let network = try Network(layers: [SoftmaxLayer(nIn: 64, nOut: 3)], miniBatchSize: 12, threads: 1)
        let augmentation = Augmentation(maxShift: 1, maxRotationDegrees: 10, elasticAlpha: 1, elasticSigma: 3)
        func load(epoch: Int, seed: UInt64 = 4, positions: Range<Int> = 0..<12) -> ([Float], [Int32]) {
            let plan = EpochPlan(imageCount: 12, expand: false, shuffleSeed: seed, epoch: epoch,
                                 augmentation: augmentation, augmentationSeed: seed)
            network.replicas[0].load(data, start: positions.lowerBound, batch: positions.count, plan: plan)
            let replica = network.replicas[0]
            let labels = Array(UnsafeBufferPointer(start: replica.labels.pointer, count: positions.count))
            for (offset, position) in positions.enumerated() {
                XCTAssertEqual(labels[offset], data.labels[plan.sample(at: position).image], "the label follows its image")
            }
            return (Array(UnsafeBufferPointer(start: replica.input.pointer, count: positions.count * 64)), labels)
        }
        let whole = load(epoch: 2)
        XCTAssertEqual(whole.0, load(epoch: 2).0, "the same seed and epoch repeat the distortions")
        let halves = load(epoch: 2, positions: 0..<5).0 + load(epoch: 2, positions: 5..<12).0
        XCTAssertEqual(halves, whole.0, "a split batch draws what the whole batch draws")
        XCTAssertNotEqual(whole.0, load(epoch: 3).0)
        XCTAssertNotEqual(whole.0, load(epoch: 2, seed: 5).0)
        var plain = TrainingOptions()
        plain.augmentation = Augmentation()
        XCTAssertNil(EpochPlan(imageCount: 12, expand: false, shuffleSeed: nil, epoch: 0, augmentation: plain.augmentation).augmentation,
                     "an augmentation that distorts nothing is none")
    }

    /// A lone softmax layer (W 3x2, b 2) on two fixed samples, two steps of
    /// momentum and of Nesterov momentum, against the gradients and updates
    /// worked out here in Double.
    func testMomentumFollowsItsFormulaOnAHandDifferentiatedProblem() throws {
        let inputs: [[Double]] = [[0.5, 0.25, 0.75], [0.125, 0.625, 0.375]]
        let labels: [Int32] = [0, 1]
        let pixels = inputs.flatMap { $0 }.map { UInt8($0 * 256) }
        let data = Dataset.valid(name: "two", channels: 3, height: 1, width: 1, pixels: pixels, labels: labels, classCount: 2)
        let (eta, decay, mu): (Double, Double, Double) = (0.5, 0.1, 0.9)
        for nesterov in [false, true] {
            let network = try Network(layers: [SoftmaxLayer(nIn: 3, nOut: 2)], miniBatchSize: 2, threads: 1)
            var random = RandomSource(seed: 4)
            network.parameters.fillGaussian(standardDeviation: 0.5, random: &random)
            (network.momentum, network.nesterov) = (Float(mu), nesterov)
            var parameters = network.parameters.map(Double.init)  // W row-major (3x2), then b (2)
            var velocity = [Double](repeating: 0, count: 8)
            for step in 0..<2 {
                // d cost / d logits = (softmax - onehot) / batch
                var gradient = [Double](repeating: 0, count: 8)
                for (sample, x) in inputs.enumerated() {
                    var logits = [Double](repeating: 0, count: 2)
                    for o in 0..<2 {
                        logits[o] = parameters[6 + o]
                        for i in 0..<3 { logits[o] += x[i] * parameters[i * 2 + o] }
                    }
                    let top = logits.max()!
                    let exps = logits.map { exp($0 - top) }
                    for o in 0..<2 {
                        let delta = (exps[o] / exps.reduce(0, +) - (Int(labels[sample]) == o ? 1 : 0)) / 2
                        for i in 0..<3 { gradient[i * 2 + o] += x[i] * delta }
                        gradient[6 + o] += delta
                    }
                }
                for index in 0..<8 {
                    let d = gradient[index] + (index < 6 ? decay * parameters[index] : 0)
                    velocity[index] = mu * velocity[index] + d
                    parameters[index] -= eta * (nesterov ? d + mu * velocity[index] : velocity[index])
                }
                try network.trainMiniBatch(data, start: 0, eta: Float(eta), weightDecay: Float(decay))
                for index in 0..<8 {
                    XCTAssertEqual(Double(network.parameters[index]), parameters[index], accuracy: 1e-5,
                                   "nesterov \(nesterov), step \(step), parameter \(index)")
                    XCTAssertEqual(Double(network.velocities[index]), velocity[index], accuracy: 1e-5,
                                   "nesterov \(nesterov), step \(step), velocity \(index)")
                }
            }
        }
    }

    func testSchedulesGiveTheLearningRatesTheyDefine() throws {
        XCTAssertEqual(LearningRateSchedule.constant.eta(base: 0.1, epoch: 7, epochs: 10, halvings: 0), 0.1)
        let step = try LearningRateSchedule(parsing: "step:3:0.5")
        XCTAssertEqual((0..<7).map { step.eta(base: 0.8, epoch: $0, epochs: 10, halvings: 0) }, [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2])
        let cosine = try LearningRateSchedule(parsing: "cosine")
        XCTAssertEqual(cosine.eta(base: 0.2, epoch: 0, epochs: 10, halvings: 0), 0.2, accuracy: 1e-7)
        XCTAssertEqual(cosine.eta(base: 0.2, epoch: 5, epochs: 10, halvings: 0), 0.1, accuracy: 1e-7)
        XCTAssertEqual(cosine.eta(base: 0.2, epoch: 9, epochs: 10, halvings: 0), Float(0.1 * (1 + cos(0.9 * Double.pi))), accuracy: 1e-7)
        let plateau = try LearningRateSchedule(parsing: "plateau:10:7")
        XCTAssertEqual(plateau, .halveOnPlateau(patience: 10, maxHalvings: 7))
        XCTAssertEqual(plateau.eta(base: 0.03, epoch: 50, epochs: 60, halvings: 3), 0.03 / 8)
        for (text, fragment) in [("step:0:0.5", "EVERY"), ("step:2:1.5", "FACTOR"), ("plateau:3", "PATIENCE"),
                                 ("plateau:3:31", "HALVINGS"), ("linear", "unknown schedule"), ("cosine:3", "unknown schedule")] {
            XCTAssertThrowsError(try LearningRateSchedule(parsing: text)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("'\(text)'") && message.contains(fragment), message)
            }
        }
    }

    /// The plateau rule halves eta after `patience` epochs without a new best
    /// and stops at the halving after the last allowed one; early stopping
    /// stops after its patience.
    func testPlateauAndEarlyStoppingDecideAtTheRightEpochs() {
        var options = TrainingOptions()
        options.schedule = .halveOnPlateau(patience: 2, maxHalvings: 1)
        var progress = TrainingProgress()
        var decisions: [String?] = []
        for isBest in [true, false, false, true, false, false] {
            decisions.append(Network.afterValidation(&progress, isBest: isBest, options: options))
        }
        XCTAssertEqual(decisions.map { $0 != nil }, [false, false, true, false, false, true])
        XCTAssertTrue(decisions[2]!.contains("halving eta (1 of 1)"), decisions[2]!)
        XCTAssertTrue(decisions[5]!.contains("stopping"), decisions[5]!)
        XCTAssertEqual(progress.etaHalvings, 1)
        XCTAssertTrue(progress.stoppedEarly)

        var early = TrainingOptions()
        early.earlyStoppingPatience = 3
        var run = TrainingProgress()
        for isBest in [true, false, false] { XCTAssertNil(Network.afterValidation(&run, isBest: isBest, options: early)) }
        XCTAssertNotNil(Network.afterValidation(&run, isBest: false, options: early))
        XCTAssertTrue(run.stoppedEarly)
    }

    func testARunThatStoppedEarlyTrainsNoFurther() throws {
        let data = TinyNetwork.data(count: 20, seed: 3)
        let network = try TinyNetwork.network()
        var progress = TrainingProgress()
        progress.epoch = 2
        progress.stoppedEarly = true
        let before = Array(network.parameters)
        let outcome = try network.train(trainingData: data, validationData: data, epochs: 5, eta: 0.1, from: progress)
        guard case .finished(let summary) = outcome else { return XCTFail("a stopped-early run is finished") }
        XCTAssertTrue(summary.epochs.isEmpty)
        XCTAssertEqual(Array(network.parameters), before)
    }

    func testImpossibleOptionsAreRefused() {
        var options = TrainingOptions()
        options.momentum = 1
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue("\($0)".contains("momentum must lie in [0, 1)")) }
        options.momentum = 0
        options.nesterov = true
        XCTAssertThrowsError(try options.validate()) { XCTAssertTrue("\($0)".contains("Nesterov")) }
    }
}

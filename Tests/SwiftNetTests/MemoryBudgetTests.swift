// MemoryBudgetTests.swift: issue 17's findings on size, each reproduced and refused in one line.
//
// A 470-byte checkpoint that asks for terabytes, a gzip bomb of an IDX
// file, /dev/zero as a checkpoint, absurd mini-batch sizes and specs,
// many threads, and checkpoints at and past the format's limits.  Each
// case must end in one line (or work), quickly and without allocating
// what was asked for: the process's peak resident size may grow by at
// most `growthBound` over the test.

import Foundation
@testable import SwiftNet
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The process's peak resident size in bytes so far.
func peakResidentBytes(children: Bool = false) -> Int {
    var usage = rusage()
    getrusage(children ? RUSAGE_CHILDREN.rawValue : RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// `count` flat samples of `size` random bytes, labels below `classes`.
func flatData(count: Int, size: Int, classes: Int, seed: UInt64) -> Dataset {
    var random = RandomSource(seed: seed)
    let pixels = (0..<(count * size)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    let labels = (0..<count).map { _ in Int32(random.next() % UInt64(classes)) }
    return Dataset.valid(name: "flat", channels: size, height: 1, width: 1, pixels: pixels, labels: labels, classCount: classes)
}

final class MemoryBudgetTests: CheckpointTestCase {
    /// Far below the gigabytes the hostile inputs ask for, far above what refusing them needs.
    let growthBound = 400 << 20

    func assertOneLine(_ error: Error, file: StaticString = #filePath, line: UInt = #line) {
        let text = String(describing: error)
        XCTAssertFalse(text.isEmpty || text.contains("\n"), text, file: file, line: line)
    }

    func testBudgetsParseAsPeopleWriteThem() {
        XCTAssertEqual(MemoryBudget(parsing: "8G")?.bytes, 8 << 30)
        XCTAssertEqual(MemoryBudget(parsing: "512M")?.bytes, 512 << 20)
        XCTAssertEqual(MemoryBudget(parsing: "64KiB")?.bytes, 64 << 10)
        XCTAssertEqual(MemoryBudget(parsing: "2tb")?.bytes, 2 << 40)
        XCTAssertEqual(MemoryBudget(parsing: "1048576")?.bytes, 1 << 20)
        for bad in ["", "G", "-1G", "0", "1.5G", "12Q", "99999999999P", "8 G B"] {
            XCTAssertNil(MemoryBudget(parsing: bad), bad)
        }
        XCTAssertGreaterThan(MemoryBudget.physicalDefault.bytes, 0)
        let error = MemoryBudgetError(what: "the network", neededBytes: 1 << 42, limitBytes: 1 << 30)
        XCTAssertEqual(error.description, "the network would take 4.0 TiB (4398046511104 bytes), more than the memory limit "
            + "of 1.0 GiB (1073741824 bytes)")
    }

    /// Finding 1: each bound held (values per sample, batch) but not their product.
    func testATinyCheckpointThatAsksForTerabytesIsRefusedBeforeAllocating() throws {
        var (checkpoint, _) = try tinyCheckpoint()
        checkpoint.layers = [MaxPoolLayer(inputShape: SampleShape(channels: 1, height: 4096, width: 4096), poolSize: (4096, 4096)),
                             SoftmaxLayer(nIn: 1, nOut: 2)]
        checkpoint.parameters = [0.5, -0.5, 0, 0]
        checkpoint.state = []
        checkpoint.velocities = nil
        checkpoint.trainingData = nil
        checkpoint.progress = TrainingProgress()
        checkpoint.hyperparameters.options.momentum = 0
        checkpoint.miniBatchSize = 64
        checkpoint.evaluationBatchSize = CheckpointLimits.maximumBatch
        let bytes = try checkpoint.encoded()
        XCTAssertLessThan(bytes.count, 600)
        let file = try write(bytes, to: "terabytes.ckpt")
        let before = peakResidentBytes()
        let loaded = try Checkpoint.load(contentsOf: file)
        XCTAssertThrowsError(try loaded.makeNetwork(threads: 1)) { error in
            guard let budget = error as? MemoryBudgetError else { return XCTFail("\(error)") }
            XCTAssertTrue(budget.what.hasPrefix(file), budget.description)
            XCTAssertGreaterThanOrEqual(budget.neededBytes ?? .max, 1 << 42)
            self.assertOneLine(budget)
        }
        XCTAssertThrowsError(try Network.loadModel(contentsOf: file, threads: 1)) { XCTAssertTrue($0 is MemoryBudgetError, "\($0)") }
        XCTAssertLessThan(peakResidentBytes() - before, growthBound)
    }

    /// Finding 2: the magic is checked on the first bytes, not after a gigabyte of zeros.
    /// (/dev/zero itself is now refused by its type before it is opened, as every special
    /// file is; a regular file of zeros still meets the magic check.)
    func testDevZeroIsNotReadWholeAsACheckpoint() throws {
        let started = Date()
        XCTAssertThrowsError(try Checkpoint.load(contentsOf: "/dev/zero")) { error in
            guard case .notPlainFile? = error as? FileError else { return XCTFail("\(error)") }
            self.assertOneLine(error)
        }
        let zeros = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-zeros-\(getpid()).ckpt").path
        XCTAssertTrue(FileManager.default.createFile(atPath: zeros, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: zeros) }
        XCTAssertEqual(truncate(zeros, 64 << 20), 0)
        XCTAssertThrowsError(try Checkpoint.load(contentsOf: zeros)) { error in
            XCTAssertEqual((error as? CheckpointError)?.kind, .notACheckpoint, "\(error)")
            self.assertOneLine(error)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
    }

    /// Finding 2: a gzipped IDX file whose header promises a gigabyte is refused before inflating it.
    func testAnIDXGzipBombIsRefusedBeforeItInflates() throws {
        let header = try IDX.header([16_384, 256, 256])
        let bomb = try write(IDX.gzip(header + [UInt8](repeating: 0, count: 1 << 20), level: 9), to: "bomb-images.gz")
        let before = peakResidentBytes()
        XCTAssertThrowsError(try IDX.readImages(contentsOf: bomb)) { error in
            XCTAssertEqual((error as? DataFileError)?.kind, .tooLarge, "\(error)")
            XCTAssertTrue("\(error)".contains("gzip bomb"), "\(error)")
            self.assertOneLine(error)
        }
        let labels = try write(IDX.gzip(IDX.header([1 << 30]) + [UInt8](repeating: 0, count: 1 << 20), level: 9),
                               to: "bomb-labels.gz")
        XCTAssertThrowsError(try IDX.readLabels(contentsOf: labels)) { XCTAssertEqual(($0 as? DataFileError)?.kind, .tooLarge) }
        XCTAssertLessThan(peakResidentBytes() - before, growthBound)
        // A real file of blank images compresses far better than MNIST and still loads.
        let blank = try write(IDX.gzip(IDX.header([1000, 28, 28]) + [UInt8](repeating: 0, count: 784_000)), to: "blank.gz")
        XCTAssertEqual(try IDX.readImages(contentsOf: blank).count, 1000)
        // Within the expansion allowed, the budget decides.
        XCTAssertThrowsError(try IDX.readImages(contentsOf: blank, memoryBudget: MemoryBudget(bytes: 1 << 20))) { error in
            XCTAssertTrue(error is MemoryBudgetError, "\(error)")
            self.assertOneLine(error)
        }
    }

    /// Finding 3: absurd sizes from flags and specs end in one line, within the budget's accounting.
    func testAbsurdSizesEndInOneLine() throws {
        let image = SampleShape(channels: 1, height: 28, width: 28)
        let budget = MemoryBudget(bytes: 2 << 30)
        func refusal(_ spec: String, miniBatchSize: Int = 10, evaluationBatchSize: Int = 100, threads: Int = 2) -> Error? {
            do {
                let layers = try NetworkSpec.layers(from: spec, input: image, miniBatchSize: miniBatchSize, activation: .sigmoid)
                _ = try Network(layers: layers, miniBatchSize: miniBatchSize, evaluationBatchSize: evaluationBatchSize,
                                threads: threads, memoryBudget: budget)
                return nil
            } catch {
                assertOneLine(error)
                return error
            }
        }
        let before = peakResidentBytes()
        XCTAssertTrue(refusal("fc 100, softmax 10", miniBatchSize: Int.max) is MemoryBudgetError)
        XCTAssertTrue(refusal("fc 100, softmax 10", evaluationBatchSize: Int.max) is MemoryBudgetError)
        XCTAssertTrue(refusal("fc 100, softmax 10", miniBatchSize: 1 << 40) is MemoryBudgetError)
        XCTAssertTrue(refusal("softmax 1048576") is MemoryBudgetError)
        XCTAssertTrue(refusal("fc 65536, fc 65536, softmax 10") is MemoryBudgetError)
        XCTAssertTrue(refusal("conv 1048576 1x1, softmax 10") is MemoryBudgetError)
        // Past any budget, no buffer may hold more values than the kernels' C ints index.
        let unlimited = MemoryBudget(bytes: .max)
        for (spec, miniBatchSize) in [("fc 65536, fc 65536, softmax 10", 10), ("fc 100, softmax 10", 1 << 31)] {
            let layers = try NetworkSpec.layers(from: spec, input: image, miniBatchSize: miniBatchSize, activation: .sigmoid)
            XCTAssertThrowsError(try Network(layers: layers, miniBatchSize: miniBatchSize, threads: 1, memoryBudget: unlimited)) { error in
                guard case .resources(let message)? = error as? NetworkConfigurationError else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("the kernels index"), message)
            }
        }
        let wide = try XCTUnwrap(refusal("fc 1048576, softmax 10") as? MemoryBudgetError)
        XCTAssertGreaterThan(wide.neededBytes ?? .max, 6 << 30, wide.description)
        XCTAssertTrue(wide.description.contains("layer 1's weights"), wide.description)
        XCTAssertTrue(refusal("fc 100, softmax 10", miniBatchSize: 1_000_000) is MemoryBudgetError)
        XCTAssertNil(refusal("conv 20 5x5, pool 2, fc 100, softmax 10"))
        // Layers built through the public API with sizes no spec allows.
        for layers: [any Layer] in [
            [FullyConnectedLayer(nIn: .max, nOut: .max), SoftmaxLayer(nIn: .max, nOut: 10)],
            [ConvPoolLayer(filterShape: (.max, 1, 1, 1), imageShape: (10, 1, .max, .max)), SoftmaxLayer(nIn: 10, nOut: 10)],
            [MaxPoolLayer(inputShape: SampleShape(channels: .max, height: .max, width: .max), poolSize: (1, 1)),
             SoftmaxLayer(nIn: 10, nOut: 10)],
        ] {
            XCTAssertThrowsError(try Network(layers: layers, miniBatchSize: 10, threads: 1, memoryBudget: budget)) { self.assertOneLine($0) }
        }
        XCTAssertLessThan(peakResidentBytes() - before, growthBound)
    }

    /// The tally of the seed's network is what its buffers plausibly take: more than its parameters, less than 64 MB.
    func testTheSeedNetworksTallyIsPlausible() throws {
        let layers = seedOneConvLayers(batch: 10)
        let runnable = try NetworkValidator.validate(layers, miniBatchSize: 10).map { $0 as! any RunnableLayer }
        let tally = Network.memoryTally(runnable, miniBatchSize: 10, evaluationBatchSize: 100, replicas: 4)
        let parameters = layers.reduce(0) { $0 + $1.weightCount + $1.biasCount }
        let total = try XCTUnwrap(tally.total)
        XCTAssertGreaterThan(total, 6 * 4 * parameters)
        XCTAssertLessThan(total, 64 << 20)
        XCTAssertNil(tally.oversized.map(\.what))
        XCTAssertThrowsError(try Network(layers: layers, miniBatchSize: 10, threads: 4, memoryBudget: MemoryBudget(bytes: total - 1)))
        XCTAssertNoThrow(try Network(layers: layers, miniBatchSize: 10, threads: 4, memoryBudget: MemoryBudget(bytes: total)))
    }

    /// The tally is what a network really holds: its resident size grows by about the tally when it is built.
    func testTheTallyMatchesWhatANetworkHolds() throws {
        func residentBytes() throws -> Int {
            // read(2) each time: Foundation's file reading does not see /proc change.
            let descriptor = open("/proc/self/statm", O_RDONLY)
            defer { close(descriptor) }
            var buffer = [UInt8](repeating: 0, count: 256)
            let got = read(descriptor, &buffer, buffer.count)
            let fields = String(decoding: buffer[0..<max(got, 0)], as: UTF8.self).split(separator: " ")
            return try XCTUnwrap(Int(fields[1])) * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
        // Memory that tests before this one freed stays resident in malloc's free lists and
        // would be reused unseen: malloc_trim hands it back first.  (Swift's Glibc module
        // does not export malloc_trim.)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        let trim = unsafeBitCast(try XCTUnwrap(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")), to: MallocTrim.self)
        for (spec, miniBatchSize, threads) in [("fc 3000 dropout 0.5, softmax 10", 500, 2), ("conv 20 5x5, pool 2, fc 500, softmax 10", 200, 3),
                                               ("conv 8 3x3, batchnorm, pool 2, fc 100, batchnorm, softmax 10", 300, 2)] {
            let layers = try NetworkSpec.layers(from: spec, input: SampleShape(channels: 1, height: 28, width: 28),
                                                miniBatchSize: miniBatchSize, activation: .relu)
            let runnable = try NetworkValidator.validate(layers, miniBatchSize: miniBatchSize).map { $0 as! any RunnableLayer }
            let tally = try XCTUnwrap(Network.memoryTally(runnable, miniBatchSize: miniBatchSize, evaluationBatchSize: 100,
                                                          replicas: threads).total)
            _ = trim(0)
            let before = try residentBytes()
            let network = try Network(layers: layers, miniBatchSize: miniBatchSize, threads: threads)
            let grown = try residentBytes() - before
            withExtendedLifetime(network) {}
            XCTAssertGreaterThan(grown, tally * 8 / 10, "\(spec): tally \(tally), resident growth \(grown)")
            XCTAssertLessThan(grown, tally * 12 / 10 + (8 << 20), "\(spec): tally \(tally), resident growth \(grown)")
            print("\(spec): tally \(tally) bytes, resident growth \(grown) bytes")
        }
    }

    /// Finding 4: more threads than fit the work are used or refused in one line, never a trap.
    func testManyThreadsWorkOrAreRefused() throws {
        let layers: [any Layer] = [FullyConnectedLayer(nIn: 4, nOut: 8), SoftmaxLayer(nIn: 8, nOut: 3)]
        let network = try Network(layers: layers, miniBatchSize: 100, threads: 100, seed: 3)
        XCTAssertEqual(network.threads, 100)
        let data = flatData(count: 200, size: 4, classes: 3, seed: 5)
        XCTAssertTrue(try network.trainMiniBatch(data, start: 0, eta: 0.1, weightDecay: 0).isFinite)
        XCTAssertEqual(try network.probabilities(on: data).count, 600)
        let conv = try Network(layers: seedOneConvLayers(batch: 100), miniBatchSize: 100, threads: 100)
        XCTAssertEqual(conv.threads, 100)
        XCTAssertThrowsError(try Network(layers: layers, miniBatchSize: 100, threads: Network.maximumThreads + 1)) { self.assertOneLine($0) }
        XCTAssertEqual(try Network(layers: layers, miniBatchSize: 7, threads: 100).threads, 7)
    }

    /// Finding 6: the writer accepts exactly what the loader does, at the limits and one past them.
    func testCheckpointsAtTheFormatsLimitsRoundTripAndOnePastAreNotWritten() throws {
        let width = 2
        func layers(_ count: Int) -> [any Layer] {
            (0..<(count - 1)).map { _ in FullyConnectedLayer(nIn: width, nOut: width) as any Layer } + [SoftmaxLayer(nIn: width, nOut: width)]
        }
        let network = try Network(layers: layers(CheckpointLimits.maximumLayers), miniBatchSize: 1, threads: 1)
        var extreme = try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: CheckpointLimits.maximumEpochs, eta: 0.1))
        extreme.miniBatchSize = CheckpointLimits.maximumBatch
        extreme.evaluationBatchSize = CheckpointLimits.maximumBatch
        extreme.threads = CheckpointLimits.maximumThreads
        let file = path("extreme.ckpt")
        try extreme.write(to: file)
        let loaded = try Checkpoint.load(contentsOf: file)
        XCTAssertEqual(loaded.layers.count, CheckpointLimits.maximumLayers)
        XCTAssertEqual(loaded.miniBatchSize, CheckpointLimits.maximumBatch)
        XCTAssertEqual(loaded.evaluationBatchSize, CheckpointLimits.maximumBatch)
        XCTAssertEqual(loaded.threads, CheckpointLimits.maximumThreads)
        XCTAssertEqual(loaded.hyperparameters.epochs, CheckpointLimits.maximumEpochs)
        XCTAssertEqual(loaded.parameters, extreme.parameters)

        let tooMany = try Network(layers: layers(CheckpointLimits.maximumLayers + 1), miniBatchSize: 1, threads: 1)
        var pastLimits = [try Checkpoint(network: tooMany, hyperparameters: TrainingHyperparameters(epochs: 1, eta: 0.1))]
        for change in [{ (c: inout Checkpoint) in c.miniBatchSize += 1 }, { $0.evaluationBatchSize += 1 }, { $0.threads += 1 },
                       { $0.hyperparameters.epochs += 1 }] {
            var past = extreme
            change(&past)
            pastLimits.append(past)
        }
        for (index, past) in pastLimits.enumerated() {
            let target = path("past-\(index).ckpt")
            XCTAssertThrowsError(try past.write(to: target)) { error in
                XCTAssertEqual((error as? CheckpointError)?.kind, .unusable, "\(error)")
                self.assertOneLine(error)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        }

        // A run that would save such checkpoints is refused before its first step.
        let data = flatData(count: 20, size: width, classes: width, seed: 1)
        let splits = try DataSplits(training: data, validation: data, test: data)
        let trainer = Trainer(network: tooMany, data: splits, settings: TrainingHyperparameters(epochs: 1, eta: 0.1),
                              checkpointPath: path("run.ckpt"))
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertTrue("\(error)".contains("would not load again"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run.ckpt")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run.jsonl")))
    }
}

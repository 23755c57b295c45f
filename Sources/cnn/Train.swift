// Train.swift: `cnn train`, the seed's training run, with checkpoints.
//
// Its defaults are network3.py's final script: one conv-pool layer, FC 100
// with dropout 0.3, softmax 10, sigmoid, 30 epochs, mini-batch 10, eta 0.1.
// It prints the seed's lines word for word, plus a timing line per epoch;
// on a terminal a live progress bar replaces the mini-batch lines (--plain
// keeps them).
//
// With --save PATH it writes the run's state to PATH after every epoch and
// the best model so far to PATH with ".best" before its extension, each
// atomically; SIGINT or SIGTERM then finishes the current mini-batch, saves
// and exits 130 or 143.  --resume PATH continues such a run exactly where it
// stopped, with the settings it was saved with (and saves to PATH again).
// The settings that define a run (network, dropout, activation, mini-batch
// size, eta, lmbda, seed) cannot be changed on resume; --epochs may extend
// it, and --threads may differ at the cost of bit-for-bit equality.
// Each finished epoch also appends one JSON line to a metrics log (beside
// the checkpoint, or --metrics PATH).  --serve serves a live page of the
// curves while the run trains (SwiftNetServer.TrainingServer); its URL goes
// to stderr, so stdout keeps exactly the seed's lines.
//
// Under mpirun (a build with the trait MPI), `mpirun -np N cnn train ...`
// trains one model data-parallel on N processes, each on its share of every
// mini-batch and by default on its share of the machine's cores; rank 0
// alone prints, saves and serves, and every rank stops after the same
// mini-batch on SIGINT or SIGTERM (which mpirun sends them all).

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetMPI
import SwiftNetServer

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one of the seed's networks on MNIST and report validation and test accuracy.",
        discussion: "Built with the package trait MPI (swift build -c release --traits MPI), "
            + "`mpirun -np N cnn train ...` trains one model on N processes, each on its share of every mini-batch; "
            + "rank 0 alone prints and saves, and --resume continues on any N.")

    @OptionGroup var networkOptions: NetworkOptions

    @Flag(help: "Visit the training images in a new order every epoch, drawn from --seed (default: file order, as the seed).")
    var shuffle = false

    @Flag(help: "Train on every image and its four one-pixel shifts, as the book's expand_mnist.py (250,000 samples per epoch).")
    var expand = false

    @Option(parsing: .unconditional, help: "SGD momentum in [0, 1) (default: 0, the seed's plain SGD).")
    var momentum: Float?

    @Flag(help: "Use Nesterov momentum (needs --momentum).")
    var nesterov = false

    @Option(help: ArgumentHelp("Learning-rate schedule: constant, step:EVERY:FACTOR, cosine, or plateau:PATIENCE:HALVINGS (halve eta after PATIENCE epochs without a new best validation accuracy, stop after HALVINGS halvings; the book uses plateau:10:7).", valueName: "schedule"))
    var schedule: String?

    @Option(name: .customLong("augment-shift"), parsing: .unconditional, help: ArgumentHelp("Move each training sample by a random amount up to this many pixels along each axis, anew every epoch.", valueName: "pixels"))
    var augmentShift: Float?

    @Option(name: .customLong("augment-rotate"), parsing: .unconditional, help: ArgumentHelp("Rotate each training sample by a random angle up to this many degrees either way.", valueName: "degrees"))
    var augmentRotate: Float?

    @Option(name: .customLong("augment-elastic"), parsing: .unconditional, help: ArgumentHelp("Distort each training sample elastically (Simard et al. 2003): ALPHA:SIGMA in pixels, e.g. 2:4 (0 is off).", valueName: "alpha:sigma"))
    var augmentElastic: String?

    @Option(name: .customLong("early-stopping"), parsing: .unconditional, help: ArgumentHelp("Stop after this many epochs without a new best validation accuracy.", valueName: "epochs"))
    var earlyStopping: Int?

    @Option(parsing: .unconditional, help: "Passes over the 50,000 training images, in all (default: 30; on --resume, the saved run's).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "The learning rate (default: 0.1).")
    var eta: Float?

    @Option(parsing: .unconditional, help: "L2 regularisation strength, as in the seed (default: 0).")
    var lmbda: Float?

    @OptionGroup var threadOptions: ThreadOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(parsing: .unconditional, help: "Seed of the initial weights and dropout masks (default: 0).")
    var seed: UInt64?

    @OptionGroup var dataOptions: DataOptions

    @Option(help: ArgumentHelp("Save the run after every epoch to this checkpoint, and the best model so far beside it (m.ckpt -> m.best.ckpt); Ctrl-C or SIGTERM then saves and stops.", valueName: "path"))
    var save: String?

    @Option(help: ArgumentHelp("Append one JSON line per epoch to this file (default with --save m.ckpt: m.jsonl).", valueName: "path"))
    var metrics: String?

    @Option(help: ArgumentHelp("Continue the run saved in this checkpoint, saving to it again unless --save says otherwise.", valueName: "path"))
    var resume: String?

    @Flag(help: ArgumentHelp("Serve a live page of the run's curves (validation accuracy and training cost per epoch) "
        + "while it trains, at --host and --port (default http://127.0.0.1:8080/)."))
    var serve = false

    @OptionGroup var serverOptions: ServerOptions

    @Flag(help: "Print the seed's plain lines even on a terminal, instead of a live progress bar.")
    var plain = false

    func validate() throws {
        if serverOptions.isGiven && !serve { throw ValidationError("--host and --port say where --serve listens; give --serve too") }
        // --epochs 0 would train nothing; the library allows it, a training command does not.
        if let epochs { guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") } }
        if nesterov, (momentum ?? 0) == 0 { throw ValidationError("--nesterov needs --momentum above 0") }
        // 0 would mean "never stop early", which giving the flag contradicts.
        if let earlyStopping {
            guard earlyStopping >= 1 else { throw ValidationError("--early-stopping must be at least 1 epoch, got \(earlyStopping)") }
        }
        if let resume {
            let fixed: [(flag: String, isGiven: Bool)] = networkOptions.given + [
                ("--eta", eta != nil), ("--lmbda", lmbda != nil), ("--seed", seed != nil), ("--shuffle", shuffle),
                ("--expand", expand), ("--momentum", momentum != nil), ("--nesterov", nesterov),
                ("--schedule", schedule != nil), ("--early-stopping", earlyStopping != nil),
                ("--augment-shift", augmentShift != nil), ("--augment-rotate", augmentRotate != nil),
                ("--augment-elastic", augmentElastic != nil)]
            if let (flag, _) = fixed.first(where: { $0.isGiven }) {
                throw ValidationError("\(flag) cannot be combined with --resume: a resumed run keeps the settings saved in \(resume)")
            }
        } else {
            // The library's checks, before the data is read.
            do { try hyperparameters().validate() } catch let error as TrainingError { throw ValidationError(error.description) }
        }
        try checkFiles()
    }

    /// The files the run writes, each in a folder that can be written, none of them an
    /// input or another output; the Trainer checks its own files again, this adds the inputs.
    private func checkFiles() throws {
        var outputs: [NamedFile] = []
        if let path = save ?? resume {
            let flag = save == nil ? "--resume" : "--save"
            // A --resume that is not there gets the checkpoint reader's "no such file" instead.
            if save != nil || FileManager.default.fileExists(atPath: path) { try checkOutputFolder(path, flag: flag) }
            outputs = [NamedFile(flag: flag, path: path), NamedFile(flag: "\(flag)'s best model", path: Checkpoint.bestModelPath(for: path))]
            if metrics == nil { outputs.append(NamedFile(flag: "\(flag)'s metrics log", path: MetricsLog.path(besideCheckpoint: path))) }
        }
        if let metrics {
            try checkOutputFolder(metrics, flag: "--metrics")
            outputs.append(NamedFile(flag: "--metrics", path: metrics))
        }
        try checkOutputs(outputs, inputs: dataOptions.inputFiles)
        // --resume is an input its run writes again as the checkpoint; the other outputs must not be it.
        if let resume, let clash = outputs.dropFirst().first(where: { FileIdentity.same($0.path, resume) }) {
            throw ValidationError("\(clash.flag) \(clash.path) is the same file as --resume \(resume); writing it would destroy the input")
        }
    }

    func run() throws {
        // The other processes of an mpirun job, if this is one of them.
        let group = try MPIGroup.join()
        let isLeader = group?.isLeader ?? true
        // Another run on the same checkpoint is refused before the data is read; the Trainer holds the lock.
        if isLeader, let path = save ?? resume { try RunLock.checkFree(guarding: path) }
        let mnist = try dataOptions.load()
        // In a job, each process takes its share of the cores unless --threads says otherwise.
        let threads = threadOptions.threads ?? (group == nil ? nil : MPIGroup.coresPerLocalRank)
        let trainer: Trainer
        if let resume {
            trainer = try Trainer(resuming: resume, data: mnist, threads: threads, checkpointPath: save ?? resume,
                                  metricsPath: metrics, group: group)
            if let saved = trainer.savedThreads, saved > 0, trainer.network.threads != saved, group == nil {
                note("\(resume) was saved by a run on \(saved) threads; on \(trainer.network.threads) it continues "
                    + "the same run up to float rounding, not bit for bit")
            }
            if let epochs { trainer.settings.epochs = epochs }
            guard trainer.progress.epoch <= trainer.settings.epochs else {
                throw ValidationError("\(resume) has finished \(trainer.progress.epoch) epochs; --epochs \(trainer.settings.epochs) asks for fewer")
            }
        } else {
            let image = SampleShape(channels: mnist.training.channels, height: mnist.training.height, width: mnist.training.width)
            let settings = try hyperparameters()
            // Before the network, whose buffers a mini-batch larger than the data would size for nothing.
            try settings.checkMiniBatch(networkOptions.chosenMiniBatchSize, fitsTrainingImages: mnist.training.count)
            let network = try networkOptions.makeNetwork(input: image, threads: threads, seed: seed ?? 0)
            trainer = Trainer(network: network, data: mnist, settings: settings, checkpointPath: save,
                              metricsPath: metrics, group: group)
        }
        let network = trainer.network, settings = trainer.settings
        if let group {
            note("training one model on \(group.size) processes of \(network.threads) thread\(network.threads == 1 ? "" : "s") "
                + "each, every mini-batch of \(network.miniBatchSize) shared between them")
        }
        // The seed's runs print only the seed's lines; any other run says first what it trains.
        if isLeader, !settings.options.summary.isEmpty || !SeedNetwork.isPreset(network.layers, miniBatchSize: network.miniBatchSize) {
            print("Network: \(NetworkSpec.describe(network.layers))")
            if !settings.options.summary.isEmpty { print("Options: \(settings.options.summary)") }
        }

        if trainer.checkpointPath != nil { try StopSignals.install() }
        // A resumed run's page starts with the epochs before it, from its metrics log when it can be read.
        let earlier = resume == nil ? [] : ((try? trainer.metricsPath.map(MetricsLog.read(contentsOf:))) ?? nil) ?? []
        let live = try serve && isLeader ? LiveCurves(network: NetworkSpec.describe(network.layers), epochs: settings.epochs,
                                          earlier: earlier.filter { $0.epoch < trainer.progress.epoch },
                                          options: serverOptions) : nil
        defer { live?.stop() }
        if let live { note("live curves at \(live.url)") }
        let display = ProgressDisplay(plain: plain)
        defer { display.clear() }
        let outcome = try trainer.run(report: { event in
            guard isLeader else { return }
            display.show(event)
            live?.monitor.record(event)
        }, shouldStop: { StopSignals.received != nil })
        display.clear()

        guard case .stopped(let stop, let savedTo) = outcome, let signal = StopSignals.received ?? group.map({ _ in SIGTERM }) else { return }
        // A job's other processes stop with the leader, which says where and saves.
        guard let savePath = savedTo else { throw ExitCode(128 + signal) }
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        let batches = mnist.training.count / network.miniBatchSize
        let place = stop.miniBatchesDone == 0
            ? "at the start of epoch \(stop.epoch)"
            : "in epoch \(stop.epoch) after mini-batch \(stop.miniBatchesDone) of \(batches)"
        note("stopped by \(name) \(place); saved \(savePath)")
        let launcher = group.map { "mpirun -np \($0.size) " } ?? ""
        note("to continue: \(launcher)cnn train --resume \(savePath)" + dataOptions.arguments.map { " " + $0 }.joined())
        throw ExitCode(128 + signal)
    }

    /// The run's settings from the flags (a fresh run's; --resume takes the saved ones).
    /// - Throws: `ValidationError` for a --schedule or --augment-elastic that does not parse.
    private func hyperparameters() throws -> TrainingHyperparameters {
        var options = TrainingOptions()
        options.shuffle = shuffle
        options.expand = expand
        options.momentum = momentum ?? 0
        options.nesterov = nesterov
        do {
            options.schedule = try schedule.map(LearningRateSchedule.init(parsing:)) ?? .constant
        } catch {
            throw ValidationError("--\(error)")
        }
        options.earlyStoppingPatience = earlyStopping ?? 0
        options.augmentation = try augmentation()
        return TrainingHyperparameters(epochs: epochs ?? 30, eta: eta ?? 0.1, lmbda: lmbda ?? 0, seed: seed ?? 0, options: options)
    }

    /// The --augment-* flags as one value; nil when none distorts anything.
    private func augmentation() throws -> Augmentation? {
        var augmentation = Augmentation(maxShift: augmentShift ?? 0, maxRotationDegrees: augmentRotate ?? 0)
        if let augmentElastic {
            let parts = augmentElastic.split(separator: ":").map { Float($0) }
            guard parts.count == 2, let alpha = parts[0], let sigma = parts[1] else {
                throw ValidationError("--augment-elastic '\(augmentElastic)' is not ALPHA:SIGMA, e.g. 2:4")
            }
            (augmentation.elasticAlpha, augmentation.elasticSigma) = (alpha, sigma)
        }
        return augmentation.isIdentity ? nil : augmentation
    }

    /// The server of --serve: the run's monitor, on a server beside the training thread.
    private struct LiveCurves {
        let monitor: TrainingMonitor
        let server: BackgroundServer
        let url: String

        init(network: String, epochs: Int, earlier: [EpochMetrics], options: ServerOptions) throws {
            let monitor = TrainingMonitor(network: network, epochs: epochs)
            monitor.recordEarlier(earlier)
            let settings = options.settings
            server = BackgroundServer(address: "\(settings.host):\(settings.port)") { onRunning in
                try await TrainingServer.run(monitor, settings: settings, onRunning: onRunning)
            }
            self.monitor = monitor
            url = options.url(port: try server.waitUntilListening())
        }

        /// Ends the page's stream (it shows the run as finished) and the server.
        func stop() {
            monitor.finish()
            server.stop()
        }
    }

    /// One line on stderr, away from the seed's lines on stdout (in a job, rank 0's alone).
    private func note(_ text: String) {
        guard (MPIGroup.launchedRank ?? 0) == 0 else { return }
        FileHandle.standardError.write(Data("cnn: \(text)\n".utf8))
    }
}

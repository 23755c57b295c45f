// TrainingOptions.swift: what a run may do beyond the seed's plain SGD.
//
// Every option is off by default, so a run without any is the seed's, bit
// for bit.  They are the standard tools the book discusses in chapters 3
// and 6 and every trainer offers:
//
// - shuffle: a new order of the training samples each epoch (EpochPlan);
// - expand: the book's four one-pixel shifts of every training image;
// - momentum and Nesterov momentum (UpdateRule has the formulas);
// - a learning-rate schedule (LearningRateSchedule);
// - early stopping: stop when validation accuracy has not reached a new
//   best for `earlyStoppingPatience` epochs;
// - augmentation: each sample randomly shifted, rotated and elastically
//   distorted, anew every epoch (ck_augment_image).
//
// A checkpoint records the options with the run, and resuming honours them.

import Foundation

/// How the learning rate changes from epoch to epoch.
public enum LearningRateSchedule: Equatable, Sendable, CustomStringConvertible {
    /// The seed's: eta throughout.
    case constant
    /// eta * factor^(epoch / every): multiply by `factor` every `every` epochs.
    case step(every: Int, factor: Float)
    /// Cosine annealing from eta at epoch 0 towards 0 at the run's last epoch:
    /// eta * (1 + cos(pi * epoch / epochs)) / 2.
    case cosine
    /// The book's chapter 3 rule: halve eta whenever validation accuracy has
    /// not reached a new best for `patience` epochs, and stop the run at the
    /// `maxHalvings + 1`-th time this happens (the book: 10 epochs, eta / 128).
    case halveOnPlateau(patience: Int, maxHalvings: Int)

    /// The learning rate of `epoch`.
    /// - Parameters:
    ///   - eta: the run's base learning rate.
    ///   - epoch: the epoch, from 0.
    ///   - epochs: the run's epoch count.
    ///   - halvings: how often the plateau rule has halved eta so far.
    public func eta(base eta: Float, epoch: Int, epochs: Int, halvings: Int) -> Float {
        switch self {
        case .constant:
            return eta
        case .step(let every, let factor):
            return eta * Float(pow(Double(factor), Double(epoch / every)))
        case .cosine:
            return Float(Double(eta) * (1 + cos(Double.pi * Double(epoch) / Double(max(epochs, 1)))) / 2)
        case .halveOnPlateau:
            return eta / Float(1 << min(halvings, 62))
        }
    }

    /// A short readable form, as messages and the CLI print it.
    public var description: String {
        switch self {
        case .constant: return "constant"
        case .step(let every, let factor): return "step:\(every):\(factor)"
        case .cosine: return "cosine"
        case .halveOnPlateau(let patience, let maxHalvings): return "plateau:\(patience):\(maxHalvings)"
        }
    }

    /// Parses the CLI form: `constant`, `step:EVERY:FACTOR`, `cosine`, or `plateau:PATIENCE:HALVINGS`.
    /// - Throws: `TrainingError` saying what is wrong with `text`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func fail(_ why: String) -> TrainingError {
            TrainingError.badSetting("schedule '\(text)': \(why); use constant, step:EVERY:FACTOR, cosine or plateau:PATIENCE:HALVINGS")
        }
        switch parts[0] {
        case "constant" where parts.count == 1:
            self = .constant
        case "cosine" where parts.count == 1:
            self = .cosine
        case "step":
            guard parts.count == 3, let every = Int(parts[1]), every >= 1 else { throw fail("EVERY must be a whole number of epochs, at least 1") }
            guard let factor = Float(parts[2]), factor > 0, factor <= 1 else { throw fail("FACTOR must be a number in (0, 1]") }
            self = .step(every: every, factor: factor)
        case "plateau":
            guard parts.count == 3, let patience = Int(parts[1]), patience >= 1 else { throw fail("PATIENCE must be a whole number of epochs, at least 1") }
            guard let halvings = Int(parts[2]), (0...30).contains(halvings) else { throw fail("HALVINGS must be a whole number from 0 to 30") }
            self = .halveOnPlateau(patience: patience, maxHalvings: halvings)
        default:
            throw fail("unknown schedule or wrong number of fields")
        }
    }
}

/// Random distortions of each training sample, drawn anew every epoch.
public struct Augmentation: Equatable, Sendable, CustomStringConvertible {
    /// Largest move along each axis, in pixels (uniform in [-maxShift, maxShift]).
    public var maxShift: Float
    /// Largest rotation about the centre, in degrees (uniform in [-max, max]).
    public var maxRotationDegrees: Float
    /// Strength of the elastic distortion in pixels (0: none), as in Simard et al. 2003.
    public var elasticAlpha: Float
    /// Smoothness of the elastic field: the Gaussian's width in pixels.
    public var elasticSigma: Float

    /// Augmentation of each training image: a random shift of up to `maxShift` pixels, a rotation of
    /// up to `maxRotationDegrees`, and an elastic distortion of strength `elasticAlpha` and smoothness
    /// `elasticSigma` (Simard et al.); all zero is none.
    /// - Parameters:
    ///   - maxShift: pixels.
    ///   - maxRotationDegrees: degrees.
    ///   - elasticAlpha: pixels; 0 turns the elastic part off.
    ///   - elasticSigma: pixels.
    public init(maxShift: Float = 0, maxRotationDegrees: Float = 0, elasticAlpha: Float = 0, elasticSigma: Float = 4) {
        self.maxShift = maxShift
        self.maxRotationDegrees = maxRotationDegrees
        self.elasticAlpha = elasticAlpha
        self.elasticSigma = elasticSigma
    }

    /// True when it changes nothing.
    public var isIdentity: Bool { maxShift == 0 && maxRotationDegrees == 0 && elasticAlpha == 0 }

    /// A short readable form, as messages and the CLI print it.
    public var description: String {
        var parts: [String] = []
        if maxShift > 0 { parts.append("shift \(maxShift) px") }
        if maxRotationDegrees > 0 { parts.append("rotate \(maxRotationDegrees) deg") }
        if elasticAlpha > 0 { parts.append("elastic alpha \(elasticAlpha) sigma \(elasticSigma)") }
        return parts.joined(separator: ", ")
    }

    /// Checks every value against its range.
    /// - Throws: `TrainingError` naming the value out of range.
    public func validate() throws {
        let limits: [(String, Float, ClosedRange<Float>)] = [
            ("shift", maxShift, 0...8), ("rotation", maxRotationDegrees, 0...90),
            ("elastic alpha", elasticAlpha, 0...100), ("elastic sigma", elasticSigma, 0.5...10),
        ]
        for (name, value, range) in limits where !(value.isFinite && range.contains(value)) {
            throw TrainingError.badSetting("augmentation \(name) must lie in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
    }
}

/// Options of a training run beyond the seed's; all off by default.
public struct TrainingOptions: Equatable, Sendable {
    /// Visit the training samples in a new order each epoch (from the run's seed).
    public var shuffle = false
    /// Train on every image and its four one-pixel shifts (5x the samples per epoch).
    public var expand = false
    /// SGD momentum in [0, 1): 0 is the seed's plain SGD.
    public var momentum: Float = 0
    /// Nesterov's form of momentum (needs momentum > 0).
    public var nesterov = false
    /// How the learning rate changes over the run; constant by default, as in the seed.
    public var schedule = LearningRateSchedule.constant
    /// Stop after this many epochs without a new best validation accuracy; 0 never stops early.
    public var earlyStoppingPatience = 0
    /// Random distortions of the training samples; nil (or the identity) for none.
    public var augmentation: Augmentation?

    /// The seed's plain run.
    public init() {}

    /// Checks the values, as a run and a checkpoint both need.
    /// - Throws: `TrainingError` naming the bad option.
    public func validate() throws {
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw TrainingError.badSetting("momentum must lie in [0, 1), got \(momentum)")
        }
        guard !nesterov || momentum > 0 else {
            throw TrainingError.badSetting("Nesterov momentum needs a momentum above 0")
        }
        guard earlyStoppingPatience >= 0 else {
            throw TrainingError.badSetting("early stopping patience must be 0 (off) or more epochs, got \(earlyStoppingPatience)")
        }
        try augmentation?.validate()
        switch schedule {
        case .step(let every, let factor):
            guard every >= 1, factor.isFinite, factor > 0, factor <= 1 else {
                throw TrainingError.badSetting("a step schedule needs EVERY >= 1 and FACTOR in (0, 1], got \(schedule)")
            }
        case .halveOnPlateau(let patience, let maxHalvings):
            guard patience >= 1, (0...30).contains(maxHalvings) else {
                throw TrainingError.badSetting("a plateau schedule needs PATIENCE >= 1 and HALVINGS in 0...30, got \(schedule)")
            }
        case .constant, .cosine:
            break
        }
    }

    /// The options in words, for a run's first line and `cnn eval`; empty for the seed's plain run.
    public var summary: String {
        var parts: [String] = []
        if shuffle { parts.append("shuffled") }
        if expand { parts.append("expanded x5") }
        if momentum > 0 { parts.append("\(nesterov ? "Nesterov " : "")momentum \(momentum)") }
        if schedule != .constant { parts.append("schedule \(schedule)") }
        if earlyStoppingPatience > 0 { parts.append("early stopping after \(earlyStoppingPatience) epochs") }
        if let augmentation, !augmentation.isIdentity { parts.append("augmented (\(augmentation))") }
        return parts.joined(separator: ", ")
    }
}

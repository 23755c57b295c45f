// TrainingMonitor.swift: a run's curves so far, and the live feed of them.
//
// `cnn train --serve` hands every TrainingEvent to `record` from the
// training thread.  The monitor keeps the run's history (one point per
// finished epoch: validation accuracy, training cost, test accuracy at a
// new best; a resumed run's earlier epochs come from its metrics log) and
// the current epoch's progress, and sends each change to
// every subscriber as a Server-Sent Event frame.  A subscriber first gets
// the whole history, so a browser opened mid-run sees every epoch so far,
// then live frames; progress is sent at most four times a second.  Each
// subscriber's queue is bounded (4096 frames, some 17 minutes of progress:
// a browser that stops reading for longer loses its oldest frames, and
// memory stays bounded), and when the run ends every stream gets a
// "finished" frame and closes.
//
// Frames: `event: epoch`, `event: progress`, `event: finished`, each with
// one line of JSON as its data; `event: run` first, naming the network.

import Foundation
import SwiftNet

/// One finished epoch, as the live page plots it.
public struct EpochPoint: Codable, Equatable, Sendable {
    public let epoch: Int
    public let validationAccuracy: Double
    public let trainingCost: Double
    public let testAccuracy: Double?
    public let trainingSeconds: Double
}

/// Where the current epoch stands.
struct ProgressPoint: Codable, Equatable, Sendable {
    let epoch: Int
    let miniBatchesDone: Int
    let miniBatchesPerEpoch: Int
    let meanCost: Double
}

/// A training run's history and its live subscribers.
public final class TrainingMonitor: @unchecked Sendable {
    // @unchecked: every stored property is read and written under `lock`.
    private let lock = NSLock()
    private let runDescription: String
    private var history: [EpochPoint] = []
    private var progress: ProgressPoint?
    private var lastProgressSent = Date.distantPast
    private var finishedFrame: String?
    private var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
    private var nextSubscriber = 0
    /// Frames a slow subscriber may fall behind by before the oldest are dropped.
    static let queueBound = 4096

    /// A monitor of a run of `network` (described in `cnn train --layers` form) over `epochs` epochs.
    public init(network: String, epochs: Int) {
        runDescription = Self.frame("run", ["network": network, "epochs": String(epochs)])
    }

    /// Adds the epochs a resumed run finished before this process (its metrics log's),
    /// so that the page shows the whole run; call it before training starts.
    public func recordEarlier(_ epochs: [EpochMetrics]) {
        let points = epochs.map {
            EpochPoint(epoch: $0.epoch, validationAccuracy: $0.validationAccuracy, trainingCost: $0.trainingCost,
                       testAccuracy: $0.testAccuracy, trainingSeconds: $0.seconds)
        }
        broadcast {
            history += points
            return nil
        }
    }

    /// The epochs finished so far.
    public var epochs: [EpochPoint] { lock.withLock { history } }

    /// Takes one event of the run (called on the training thread; never blocks on a subscriber).
    public func record(_ event: TrainingEvent) {
        switch event {
        case .epochFinished(let report):
            let point = EpochPoint(epoch: report.epoch, validationAccuracy: report.validationAccuracy,
                                   trainingCost: report.trainingCost, testAccuracy: report.testAccuracy,
                                   trainingSeconds: report.trainingSeconds)
            broadcast { history.append(point); progress = nil; return Self.frame("epoch", point) }
        case .miniBatchFinished(let step):
            let now = Date()
            broadcast {
                progress = ProgressPoint(epoch: step.epoch, miniBatchesDone: step.miniBatchesDone,
                                         miniBatchesPerEpoch: step.miniBatchesPerEpoch, meanCost: step.meanCost)
                guard now.timeIntervalSince(lastProgressSent) >= 0.25 || step.miniBatchesDone == step.miniBatchesPerEpoch else { return nil }
                lastProgressSent = now
                return Self.frame("progress", progress)
            }
        case .finished(let summary):
            finish(bestValidationAccuracy: summary.bestValidationAccuracy, testAccuracy: summary.testAccuracy)
        case .miniBatch, .note, .warning:
            break
        }
    }

    /// Ends every stream with a "finished" frame (also when the run stopped without finishing).
    public func finish(bestValidationAccuracy: Double? = nil, testAccuracy: Double? = nil) {
        let frame = Self.frame("finished", FinishedPoint(bestValidationAccuracy: bestValidationAccuracy, testAccuracy: testAccuracy))
        let streams: [AsyncStream<String>.Continuation] = lock.withLock {
            guard finishedFrame == nil else { return [] }
            finishedFrame = frame
            defer { subscribers = [:] }
            return Array(subscribers.values)
        }
        for stream in streams {
            stream.yield(frame)
            stream.finish()
        }
    }

    /// A new subscriber's frames: the run, its history, the current progress, then live frames until the run ends.
    public func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(Self.queueBound))
        lock.withLock {
            continuation.yield(runDescription)
            for point in history { continuation.yield(Self.frame("epoch", point)) }
            if let progress { continuation.yield(Self.frame("progress", progress)) }
            if let finishedFrame {
                continuation.yield(finishedFrame)
                continuation.finish()
                return
            }
            let id = nextSubscriber
            nextSubscriber += 1
            subscribers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                self.lock.withLock { _ = self.subscribers.removeValue(forKey: id) }
            }
        }
        return stream
    }

    /// Runs `change` under the lock and sends the frame it returns, if any, to every subscriber.
    /// Frames are sent under the lock so that every subscriber sees them in the same order.
    private func broadcast(_ change: () -> String?) {
        lock.withLock {
            guard finishedFrame == nil, let frame = change() else { return }
            for stream in subscribers.values { stream.yield(frame) }
        }
    }

    private struct FinishedPoint: Encodable {
        let bestValidationAccuracy: Double?
        let testAccuracy: Double?
    }

    /// An SSE frame: "event: NAME\ndata: JSON\n\n".
    static func frame(_ name: String, _ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "null"
        return "event: \(name)\ndata: \(json)\n\n"
    }
}

// ProgressDisplay.swift: what `cnn train` shows while it trains.
//
// On a terminal, a live bar per epoch replaces the seed's "Training
// mini-batch number N" lines: mini-batches done of the epoch's total,
// images per second, the time left in the epoch and the running mean cost.
// It is redrawn in place at most ten times a second (the event arrives
// after every mini-batch, thousands of times a second for small batches),
// and erased before the epoch's result lines, which print exactly as the
// seed's.  Piped or redirected, or with --plain, every seed line prints as
// before, so logs and scripts see the same text as network3.py's.

import Foundation
import SwiftNet

final class ProgressDisplay {
    /// True when the bar is drawn; false for the seed's plain lines.
    let isLive: Bool
    /// Least time between two redraws, in seconds.
    static let redrawInterval = 0.1
    private var lastDraw = -Double.infinity
    private var barShown = false

    /// - Parameters:
    ///   - plain: --plain: never draw the bar.
    init(plain: Bool) {
        isLive = !plain && isatty(STDOUT_FILENO) == 1
    }

    /// Shows one training event: a bar update, or the seed's lines.
    func show(_ event: TrainingEvent) {
        switch event {
        case .miniBatch where isLive:
            return  // the bar says the same, live
        case .miniBatchFinished(let progress) where isLive:
            let now = Self.seconds()
            guard now - lastDraw >= Self.redrawInterval || progress.miniBatchesDone == progress.miniBatchesPerEpoch else { return }
            lastDraw = now
            write("\r" + Self.bar(progress, columns: Self.terminalColumns()) + "\u{1B}[K")
            barShown = true
        case .miniBatchFinished:
            return  // no seed line, and no flush after every mini-batch
        case .warning(let text):
            clear()
            FileHandle.standardError.write(Data("cnn: warning: \(text)\n".utf8))
        default:
            clear()
            for line in event.seedLines { print(line) }
            fflush(nil)
        }
    }

    /// Erases the bar, if one is drawn, so that what follows starts on a clean line.
    func clear() {
        guard barShown else { return }
        write("\r\u{1B}[K")
        barShown = false
    }

    /// One line for the epoch so far, fitted into `columns` characters:
    /// "Epoch 3 [#####-----] 2500/5000  31204 img/s  ETA 0:01  cost 0.1234".
    /// A narrow terminal loses the bar first, then images/s, then the cost.
    static func bar(_ progress: MiniBatchProgress, columns: Int) -> String {
        let done = progress.miniBatchesDone, total = max(1, progress.miniBatchesPerEpoch)
        let rate = progress.seconds > 0 ? Double(done * progress.miniBatchSize) / progress.seconds : 0
        let left = done > 0 ? progress.seconds / Double(done) * Double(total - done) : 0
        let head = "Epoch \(progress.epoch)", count = " \(done)/\(total)"
        let speed = String(format: "  %.0f img/s", rate), eta = "  ETA " + clock(left), cost = String(format: "  cost %.4f", progress.meanCost)
        // Leave the last column free: writing into it makes some terminals wrap.
        let room = columns - 1
        let barRoom = room - head.count - 3 - count.count - speed.count - eta.count - cost.count
        if barRoom >= 10 {
            let width = min(barRoom, 40), filled = min(width, width * done / total)
            return head + " [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
                + count + speed + eta + cost
        }
        for candidate in [head + count + speed + eta + cost, head + count + eta + cost, head + count + eta]
        where candidate.count <= room {
            return candidate
        }
        return String((head + count).prefix(max(0, room)))
    }

    /// "m:ss", or "h:mm:ss" from an hour up.
    static func clock(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        let hours = whole / 3600, minutes = whole / 60 % 60, rest = whole % 60
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }

    private func write(_ text: String) {
        print(text, terminator: "")
        fflush(nil)
    }

    /// The terminal's width, or 80 when it does not say.
    private static func terminalColumns() -> Int {
        var size = winsize()
        return ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
    }

    private static func seconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}

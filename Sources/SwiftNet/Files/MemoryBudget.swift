// MemoryBudget.swift: how many bytes a file, a spec or a set of settings may ask for.
//
// Every reader and every network adds up, with overflow-checked arithmetic,
// what it is about to allocate BEFORE allocating it, and refuses past the
// budget with one MemoryBudgetError that names what was too large, what it
// needs and the limit.  A hostile 470-byte checkpoint or a careless
// `--mini-batch-size` then ends in one line instead of an abort inside
// malloc, or a machine that swaps to a halt.  The default is 3/4 of
// physical memory, which leaves the rest to the data set the run reads and
// to everything else on the machine; a program sets `MemoryBudget.default`
// once (cnn's --memory-limit does), or passes a budget to one call.

import Foundation

/// The most bytes one network or one file read may allocate.
///
/// ```swift
/// MemoryBudget.default = MemoryBudget(bytes: 8 << 30)          // every later call
/// let net = try Network(layers: layers, miniBatchSize: 10,
///                       memoryBudget: MemoryBudget(bytes: 512 << 20))  // this one
/// ```
public struct MemoryBudget: Sendable, Equatable, CustomStringConvertible {
    /// The limit in bytes.
    public let bytes: Int

    /// - Parameters:
    ///   - bytes: the limit; at least 1.
    public init(bytes: Int) {
        self.bytes = max(bytes, 1)
    }

    /// 3/4 of this machine's physical memory.
    public static let physicalDefault: MemoryBudget = {
        let physical = ProcessInfo.processInfo.physicalMemory
        let fraction = physical / 4 * 3
        return MemoryBudget(bytes: fraction > UInt64(Int.max) || fraction == 0 ? Int.max : Int(fraction))
    }()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var stored = physicalDefault

    /// The budget of every call that is not given one: `physicalDefault` until a program sets it.
    public static var `default`: MemoryBudget {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    /// "8G", "512M", "64K" (powers of 1024, an optional trailing "B" or "iB") or a plain number of bytes.
    /// - Parameters:
    ///   - text: the limit as a person writes it.
    /// - Returns: nil unless `text` is a whole positive number of bytes that fits in an `Int`.
    public init?(parsing text: String) {
        var digits = Substring(text.trimmingCharacters(in: .whitespaces).uppercased())
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits = digits.dropLast(suffix.count)
            break
        }
        var shift = 0
        if let last = digits.last, let index = "KMGTP".firstIndex(of: last) {
            shift = 10 * ("KMGTP".distance(from: "KMGTP".startIndex, to: index) + 1)
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value >= 1, value <= Int.max >> shift else { return nil }
        self.init(bytes: value << shift)
    }

    public var description: String { Self.describe(bytes) }

    /// Throws unless `needed` bytes fit the budget.
    /// - Parameters:
    ///   - needed: the bytes asked for; nil when counting them overflowed.
    ///   - what: what asks for them, for the message ("the network (3 layers, ...)").
    /// - Throws: `MemoryBudgetError` naming `what`, the bytes and the limit.
    public func check(_ needed: Int?, for what: @autoclosure () -> String) throws {
        guard let needed, needed <= bytes else {
            throw MemoryBudgetError(what: what(), neededBytes: needed, limitBytes: bytes)
        }
    }

    /// "4.0 TiB (4398046511104 bytes)", "512 bytes".
    static func describe(_ bytes: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = -1
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit < 0 ? "\(bytes) bytes" : String(format: "%.1f %@ (%ld bytes)", value, units[unit], bytes)
    }
}

/// Something asked for more memory than its budget allows.
public struct MemoryBudgetError: Error, CustomStringConvertible, Equatable {
    /// What asked, e.g. "the network (3 layers, mini-batch 10, evaluation batch 100, 4 threads)".
    public let what: String
    /// The bytes it needs; nil when the count is past `Int.max`.
    public let neededBytes: Int?
    /// The budget's limit in bytes.
    public let limitBytes: Int

    public var description: String {
        "\(what) would take " + (neededBytes.map(MemoryBudget.describe) ?? "more than \(Int.max) bytes")
            + ", more than the memory limit of \(MemoryBudget.describe(limitBytes))"
    }

    /// The same error with `what` said of `source` ("m.ckpt: its network ...").
    func naming(_ source: String) -> MemoryBudgetError {
        MemoryBudgetError(what: "\(source): \(what)", neededBytes: neededBytes, limitBytes: limitBytes)
    }
}

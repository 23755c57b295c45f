// Ensemble.swift: several networks' outputs combined into one prediction per image.
//
// Chapter 6 of the book ends by training several networks and letting them
// vote; `cnn eval --model a.ckpt --model b.ckpt ...` does that.  The
// combining is kept here as pure functions over softmax rows (count x
// classes, row-major, as Network.probabilities returns them), so it can be
// tested on rows built by hand.
//
// Two rules.  `vote`: each member votes for its most probable class, and the
// class with the most votes wins; a tie between classes is broken by the
// members' summed probability of each tied class, then by the lowest class.
// `average`: the class with the highest mean probability wins (lowest class
// on an exact tie).  A member's own prediction is likewise its most probable
// class, the lowest one on an exact tie, so a one-member ensemble predicts
// exactly what its member does under either rule.

/// How an ensemble turns its members' softmax rows into one prediction per image.
public enum EnsembleRule: String, CaseIterable, Sendable {
    /// Plurality vote of the members' predictions; ties go to the tied class with the
    /// highest summed probability, then to the lowest class.
    case vote
    /// The most probable class of the members' mean probabilities.
    case average
}

/// Pure functions that combine the softmax rows of several networks.
/// Rows that cannot be combined; one line each.
public enum EnsembleError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `values` values are not whole rows of `classes` (or `classes` is not positive).
    case notWholeRows(values: Int, classes: Int)
    /// No members were given.
    case noMembers
    /// The members hold different numbers of values.
    case membersDisagree(counts: [Int])
    /// `predictions` predictions were given for `labels` labels.
    case countMismatch(predictions: Int, labels: Int)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case .notWholeRows(let values, let classes): return "\(values) values are not rows of \(classes) classes"
        case .noMembers: return "an ensemble needs at least one member"
        case .membersDisagree(let counts): return "the members hold \(counts) values; they must agree"
        case .countMismatch(let predictions, let labels): return "\(predictions) predictions for \(labels) labels"
        }
    }
}

/// Combining several networks' predictions into one: majority vote or summed
/// probabilities (`EnsembleRule`), as `cnn eval --ensemble` does.
public enum Ensemble {
    /// The most probable class of each row, the lowest class on an exact tie.
    /// - Parameters:
    ///   - probabilities: `count x classes` values, row-major.
    ///   - classes: values per row.
    /// - Returns: one class per row.
    /// - Throws: `EnsembleError.notWholeRows`.
    public static func predictions(_ probabilities: [Float], classes: Int) throws -> [Int32] {
        guard classes > 0, probabilities.count % classes == 0 else {
            throw EnsembleError.notWholeRows(values: probabilities.count, classes: classes)
        }
        return stride(from: 0, to: probabilities.count, by: classes).map { start in
            var best = 0
            for candidate in 1..<classes where probabilities[start + candidate] > probabilities[start + best] {
                best = candidate
            }
            return Int32(best)
        }
    }

    /// The members' probabilities averaged image by image (summed in member order, then divided).
    /// - Parameters:
    ///   - members: each member's `count x classes` rows; at least one, all of one size.
    /// - Throws: `EnsembleError` for no members or members of different sizes.
    public static func averaged(_ members: [[Float]]) throws -> [Float] {
        var sum = try summed(members)
        let scale = Float(members.count)
        for index in sum.indices { sum[index] /= scale }
        return sum
    }

    /// One prediction per image from the members' rows under `rule`.
    /// - Parameters:
    ///   - members: each member's `count x classes` rows; at least one, all of one size.
    ///   - classes: values per row.
    ///   - rule: vote or average.
    /// - Returns: one class per image.
    /// - Throws: `EnsembleError` for no members, members of different sizes, or rows that are not whole.
    public static func predictions(_ members: [[Float]], classes: Int, rule: EnsembleRule) throws -> [Int32] {
        switch rule {
        case .average:
            return try predictions(averaged(members), classes: classes)
        case .vote:
            let sum = try summed(members)
            let votes = try members.map { try predictions($0, classes: classes) }
            return (0..<(sum.count / classes)).map { image in
                var count = [Int](repeating: 0, count: classes)
                for memberVotes in votes { count[Int(memberVotes[image])] += 1 }
                var best = 0
                for candidate in 1..<classes {
                    let start = image * classes
                    if count[candidate] > count[best]
                        || (count[candidate] == count[best] && sum[start + candidate] > sum[start + best]) {
                        best = candidate
                    }
                }
                return Int32(best)
            }
        }
    }

    /// The fraction of `predictions` equal to `labels` (0 for no images).
    /// - Throws: `EnsembleError.countMismatch` unless there is one prediction per label.
    public static func accuracy(_ predictions: [Int32], labels: [Int32]) throws -> Double {
        guard predictions.count == labels.count else {
            throw EnsembleError.countMismatch(predictions: predictions.count, labels: labels.count)
        }
        guard !labels.isEmpty else { return 0 }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// The element-wise sum of the members' rows, in member order.
    private static func summed(_ members: [[Float]]) throws -> [Float] {
        guard let first = members.first else { throw EnsembleError.noMembers }
        guard members.allSatisfy({ $0.count == first.count }) else {
            throw EnsembleError.membersDisagree(counts: members.map(\.count))
        }
        var sum = members[0]
        for member in members.dropFirst() {
            for index in sum.indices { sum[index] += member[index] }
        }
        return sum
    }
}

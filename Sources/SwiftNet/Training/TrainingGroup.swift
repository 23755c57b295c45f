// TrainingGroup.swift: processes that train one model together, data-parallel.
//
// A group is N members (an MPI job's ranks: SwiftNetMPI's MPIGroup) that
// each hold the same network and data.  Every member takes its share of
// every global mini-batch (`share`: contiguous, as even as it can be, so
// N = 3 with mini-batch 10 takes 4, 3 and 3), computes the gradient of its
// share without updating, and the group sums the gradients element by
// element; every member then applies the same update to the same
// parameters.  Batch norm's sums are summed over the group inside the pass
// (GroupPass), so it normalizes with the global mini-batch's statistics.  The group is the only thing SwiftNet needs from MPI, so the
// library builds and is tested without it (the tests use a group of
// threads).  See Network+DataParallel.swift for the step, and
// StochasticGradientDescent.swift for how the loop agrees on stopping.

/// The members of a data-parallel run, and the two collective operations it needs.
///
/// Every member calls each operation the same number of times, in the same
/// order, with buffers of the same length; a member that fails or dies must
/// make the others' calls throw (or end their process) rather than wait forever.
public protocol TrainingGroup: AnyObject {
    /// This member's place, 0 up to `size - 1`; member 0 alone writes files and prints.
    var rank: Int { get }
    /// Members in the group.
    var size: Int { get }
    /// Replaces every element of `values` by its sum over the members. Every
    /// member receives the same sums, bit for bit, and the same inputs give
    /// the same sums on every call.
    /// - Throws: `TrainingGroupError` when the members cannot communicate.
    func sumOverMembers(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// The same for doubles (batch norm's sums over the global mini-batch).
    func sumOverMembers(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// True when every member passed the same value.
    /// - Throws: `TrainingGroupError` when the members cannot communicate.
    func allAgree(on value: UInt64) throws -> Bool
}

extension TrainingGroup {
    /// The positions of a mini-batch of `miniBatchSize` that this member trains on.
    public func share(of miniBatchSize: Int) -> Range<Int> {
        split(miniBatchSize, parts: size, part: rank)
    }

    /// True for the member that writes checkpoints, logs and output.
    public var isLeader: Bool { rank == 0 }
}

/// A group's share of one training pass, as its runners and stages see it:
/// the global mini-batch's size, and the group sums that batch norm needs
/// inside the pass.  The team's phases cannot throw, so the first failure
/// is kept here and thrown when the pass ends.
final class GroupPass {
    let group: any TrainingGroup
    /// Samples in the global mini-batch, of which this member has a share.
    let globalBatch: Int
    private(set) var failure: (any Error)?

    init(group: any TrainingGroup, globalBatch: Int) {
        self.group = group
        self.globalBatch = globalBatch
    }

    /// Parameter gradients that every member computes whole from sums over the group
    /// (batch norm's gamma and beta) are added by the leader alone, so that the group's sum counts them once.
    var addsSharedGradients: Bool { group.isLeader }

    /// Sums `count` doubles at `values` over the members; after a failure, does nothing.
    func sum(_ values: UnsafeMutablePointer<Double>, count: Int) {
        guard failure == nil else { return }
        do { try group.sumOverMembers(UnsafeMutableBufferPointer(start: values, count: count)) } catch { failure = error }
    }
}

/// Why the members of a group could not work together.
public struct TrainingGroupError: Error, CustomStringConvertible, Equatable {
    /// The member that saw the problem.
    public let rank: Int
    /// What went wrong, in a few words.
    public let reason: String

    public init(rank: Int, reason: String) {
        self.rank = rank
        self.reason = reason
    }

    public var description: String { "rank \(rank): \(reason)" }
}

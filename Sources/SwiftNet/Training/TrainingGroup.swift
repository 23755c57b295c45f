// TrainingGroup.swift: processes that train one model together, data-parallel.
//
// A group is N members (an MPI job's ranks: SwiftNetMPI's MPIGroup) that
// each hold the same network and data.  Every member takes its share of
// every global mini-batch (`share`: contiguous, as even as it can be, so
// N = 3 with mini-batch 10 takes 4, 3 and 3), computes the gradient of its
// share without updating, and the group sums the gradients element by
// element; every member then applies the same update to the same
// parameters.  The group is the only thing SwiftNet needs from MPI, so the
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

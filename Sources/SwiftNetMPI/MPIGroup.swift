// MPIGroup.swift: the ranks of an mpirun job as a SwiftNet TrainingGroup.
//
// `mpirun -np N cnn train ...` starts N processes; each makes an MPIGroup
// (MPI_Init_thread), and every Trainer given it trains one model with the
// others, data-parallel: the group sums each step's gradients with
// MPI_Allreduce, which Open MPI computes with the same algorithm, in the
// same order, for the same number of ranks and message size, so a run
// repeats bit for bit for the same N (and every rank receives the same
// sums: the training loop checks that after every epoch).  Errors come
// back as values (MPI_ERRORS_RETURN) and are thrown as TrainingGroupError.
// A rank that dies is mpirun's to report: it ends the others within
// seconds and names the rank.  A rank that fails with an error must not
// wait for the others in MPI_Finalize, where they would wait for it in
// their next step: `endJob(failed: true)` aborts the job instead.
// The collective calls build only with the package trait MPI (`swift build
// -c release --traits MPI`); without it `join` refuses an mpirun job of
// more than one process, which would otherwise train N separate models.

import Foundation
import SwiftNet
#if MPI
import CMPI
#endif

/// The processes of an MPI job (Open MPI's mpirun) training one model together.
///
/// ```swift
/// let group = try MPIGroup.start()
/// defer { group.finish() }
/// let trainer = Trainer(network: network, data: data, settings: settings,
///                       checkpointPath: "m.ckpt", group: group)
/// _ = try trainer.run()   // rank 0 alone writes m.ckpt and its log
/// ```
public final class MPIGroup {
    /// The ranks mpirun says it started this process among (its environment), or nil when
    /// the process was not started by mpirun (Open MPI's, MPICH's and PMI's names).
    public static var launchedSize: Int? { environmentValue(["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]) }

    /// This process's rank as mpirun's environment gives it, or nil outside mpirun.
    public static var launchedRank: Int? { environmentValue(["OMPI_COMM_WORLD_RANK", "PMI_RANK"]) }

    /// The cores each rank on this machine should use: the cores over the ranks mpirun put here.
    public static var coresPerLocalRank: Int {
        let local = environmentValue(["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"]) ?? 1
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, local))
    }

    private static func environmentValue(_ names: [String]) -> Int? {
        let environment = ProcessInfo.processInfo.environment
        return names.lazy.compactMap { environment[$0].flatMap(Int.init) }.first
    }

    /// The group this process joined, until `endJob`.
    nonisolated(unsafe) public private(set) static var joined: (any TrainingGroup)?

    /// Joins the mpirun job this process was started in, or returns nil when it was not
    /// started by mpirun (or is its only process).
    /// - Throws: `TrainingError.badSetting` for a job of several processes in a build
    ///   without the trait MPI; `TrainingGroupError` when MPI cannot start.
    public static func join() throws -> (any TrainingGroup)? {
        guard let size = launchedSize, size > 1 else { return nil }
        #if MPI
        let group = try start()
        joined = group
        return group
        #else
        throw TrainingError.badSetting("mpirun started \(size) processes, but this cnn was built without MPI, so each would "
            + "train a model of its own: build it with `swift build -c release --traits MPI`")
        #endif
    }

    /// Leaves the joined job: MPI_Finalize after a run that ended well, or, after an
    /// error (which the others may be waiting on), MPI_Abort with `code`, which ends every rank.
    public static func endJob(failed: Bool, code: Int32 = 1) {
        #if MPI
        guard let group = joined as? MPIGroup else { return }
        joined = nil
        if failed { MPI_Abort(cmpi_comm_world(), code) }
        group.finish()
        #endif
    }

    /// True when this build can join an MPI job (the package trait MPI).
    public static var isAvailable: Bool {
        #if MPI
        true
        #else
        false
        #endif
    }

    #if MPI
    /// This process's rank, 0 up to `size - 1`.
    public let rank: Int
    /// Ranks in the job.
    public let size: Int
    private var finished = false

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// Joins the job (MPI_Init_thread), once per process.
    /// - Throws: `TrainingGroupError` when MPI cannot start, or refuses calls from more than one thread.
    public static func start() throws -> MPIGroup {
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, cmpi_thread_serialized(), &provided), rank: 0, doing: "MPI_Init_thread")
        let world = cmpi_comm_world()
        // Errors as return values, so that they become errors the caller can report.
        try check(MPI_Comm_set_errhandler(world, cmpi_errors_return()), rank: 0, doing: "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(world, &rank), rank: 0, doing: "MPI_Comm_rank")
        try check(MPI_Comm_size(world, &size), rank: Int(rank), doing: "MPI_Comm_size")
        guard provided >= cmpi_thread_serialized() else {
            throw TrainingGroupError(rank: Int(rank), reason: "this MPI library does not allow calls from more than one thread "
                + "(MPI_THREAD_SERIALIZED)")
        }
        return MPIGroup(rank: Int(rank), size: Int(size))
    }

    /// Leaves the job (MPI_Finalize); every rank calls it once, after its last collective call.
    public func finish() {
        guard !finished else { return }
        finished = true
        MPI_Finalize()
    }

    private static func check(_ code: Int32, rank: Int, doing what: String) throws {
        guard code != cmpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        let message = String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw TrainingGroupError(rank: rank, reason: "\(what) failed: \(message)")
    }
    #endif
}

#if MPI
extension MPIGroup: TrainingGroup {
    public func sumOverMembers(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try sum(values, as: cmpi_float())
    }

    public func sumOverMembers(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try sum(values, as: cmpi_double())
    }

    /// MPI_Allreduce with MPI_SUM in place; MPI counts are C ints, so a block past 2^31 values goes in pieces.
    private func sum<Value>(_ values: UnsafeMutableBufferPointer<Value>, as type: MPI_Datatype) throws {
        guard let base = values.baseAddress else { return }
        var offset = 0
        while offset < values.count {
            let count = min(values.count - offset, Int(Int32.max))
            try Self.check(MPI_Allreduce(cmpi_in_place(), base + offset, Int32(count), type, cmpi_sum(), cmpi_comm_world()),
                           rank: rank, doing: "MPI_Allreduce")
            offset += count
        }
    }

    public func allAgree(on value: UInt64) throws -> Bool {
        var bounds = [value, ~value]
        // The largest value and the largest complement (the smallest value) in one reduction.
        try Self.check(MPI_Allreduce(cmpi_in_place(), &bounds, 2, cmpi_uint64(), cmpi_max(), cmpi_comm_world()),
                       rank: rank, doing: "MPI_Allreduce")
        return bounds[0] == value && ~bounds[1] == value
    }
}
#endif

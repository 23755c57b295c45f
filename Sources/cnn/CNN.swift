// CNN.swift: the `cnn` command-line tool's entry point.
//
// One root command with subcommands (swift-argument-parser).  Every
// failure, whether a bad flag, a damaged data file or a diverging run, ends
// as ONE line on stderr and a non-zero exit status, never a stack trace;
// results go to stdout.  Under mpirun (`mpirun -np N cnn train`), rank 0
// alone prints a failure that every rank shares; a rank prints its own
// failure (TrainingGroupError, naming it) itself, and a failed rank aborts
// the job rather than leave the others waiting for it.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages
import SwiftNetMPI

@main
struct CNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cnn",
        abstract: "Train and run the convolutional networks of network3.py on the CPU.",
        version: "0.2.0",
        subcommands: [Train.self, Eval.self, Errors.self, Filters.self, Plot.self, Predict.self, ImportNetwork3.self, ExportNetwork3.self, ExportONNX.self,
                      ExportIDX.self, Embed.self, Serve.self, Bench.self, BenchKernels.self],
        defaultSubcommand: Train.self
    )

    /// Like ParsableCommand.main(), but a failure prints one line, not usage text.
    static func main() {
        PeakMemoryReport.installIfAsked()
        do {
            var command = try parseAsRoot()
            try command.run()
            MPIGroup.endJob(failed: false)
        } catch let code as ExitCode {
            // A command that has already said why (an interrupted run) only sets the status.
            MPIGroup.endJob(failed: false)
            Foundation.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success || error is CleanExit {
                exit(withError: error)  // --help, --version: print what was asked for
            }
            // Our own errors describe themselves in one line; the parser's
            // (a bad flag, a missing value) come from message(for:).
            let message = (error as? ValidationError)?.message
                ?? (isOurs(error) ? String(describing: error) + hint(for: error) : self.message(for: error))
            if (MPIGroup.launchedRank ?? 0) == 0 || error is TrainingGroupError {
                FileHandle.standardError.write(Data("cnn: error: \(message)\n".utf8))
            }
            let status: Int32 = exitCode(for: error) == .validationFailure ? 64 : 1
            MPIGroup.endJob(failed: true, code: status)
            Foundation.exit(status)
        }
    }

    /// What the CLI adds to a library error: the command that would help.
    private static func hint(for error: Error) -> String {
        if let checkpoint = error as? CheckpointError, checkpoint.kind == .pickle {
            return " (import network3 parameters with `cnn import-network3`)"
        }
        if case .sizeMismatch? = error as? ImageFolderError { return " (--image-size HxW)" }
        return ""
    }

    private static func isOurs(_ error: Error) -> Bool {
        error is DataFileError || error is NetworkConfigurationError || error is TrainingError || error is CheckpointError
            || error is ImageError || error is FileError || error is DatasetError || error is NetworkInputError
            || error is NetworkSpecError || error is EnsembleError || error is MemoryBudgetError || error is ImageFolderError
            || error is BitmapError || error is PrincipalComponentsError || error is ONNXExportError
            || error is PictureInputError || error is ServerStartError || error is TrainingGroupError
    }
}

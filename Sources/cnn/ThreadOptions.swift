// ThreadOptions.swift: the --threads flag of every command that runs a network.
//
// `cnn train`, `cnn eval` and `cnn errors` share one meaning: the threads
// that share each mini-batch, by default those a loaded checkpoint was
// saved with, else every core.  The range check stays here rather than in
// the network's: a checkpoint builds its network inside its own error
// ("m.ckpt: its network does not build: ..."), which would blame the file
// for a flag.

import ArgumentParser

struct ThreadOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Threads sharing each mini-batch (default: a loaded checkpoint's, else every core). "
        + "The same seed and thread count repeat a run bit for bit."))
    var threads: Int?

    func validate() throws {
        if let threads { guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") } }
    }
}

// MemoryOptions.swift: the --memory-limit flag of every command that loads or builds.
//
// The library counts what a network, a checkpoint or a data file will hold
// before allocating it, against MemoryBudget.default (3/4 of physical
// memory unless set).  This flag sets that default for the whole command,
// when its flags are checked, so every load and build of the run, whichever
// option group or step does it, is held to the same limit.

import ArgumentParser
import SwiftNet

struct MemoryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The most memory one network or one file read may take, e.g. 8G, 512M or a number of bytes "
        + "(default: 3/4 of physical memory).", valueName: "size"))
    var memoryLimit: MemoryBudget?

    func validate() throws {
        // validate() runs once per parse, before run(): the one place every command passes through.
        if let memoryLimit { MemoryBudget.default = memoryLimit }
    }
}

extension MemoryBudget: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

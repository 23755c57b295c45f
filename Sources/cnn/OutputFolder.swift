// OutputFolder.swift: the checks every command that writes a file makes first.
//
// A command that draws a picture, writes a checkpoint or appends a log
// checks, in validate(), that the folder its output goes into exists and
// can be written, and that no output is one of the command's own inputs or
// another of its outputs, so that a typo fails at once with one line
// instead of after minutes of work, or, worse, after the input it was
// reading has been replaced (`--out` equal to `--model` used to write the
// picture over the checkpoint and exit 0).  What counts as the same file
// is the library's (FileIdentity): one path once links are followed, or
// one device and inode.

import ArgumentParser
import Foundation
import SwiftNet

/// Throws a ValidationError naming `flag` and the folder unless the folder `path` would be written in
/// exists and this process may create files in it.
func checkOutputFolder(_ path: String, flag: String = "--out") throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
        throw ValidationError("\(flag) \(path): the folder \(folder) does not exist")
    }
    guard access(folder, W_OK | X_OK) == 0 else {
        throw ValidationError("\(flag) \(path): the folder \(folder) cannot be written (\(String(cString: strerror(errno))))")
    }
}

/// A file a command reads or writes, and the flag that named it ("--model", or "--out" for a default).
struct NamedFile {
    let flag: String
    let path: String
}

/// Throws a ValidationError naming both flags and the path when an output is the same
/// file as one of `inputs` or as an earlier output.
/// - Parameters:
///   - outputs: every file the command will write, in the order of its help.
///   - inputs: every file it reads.
func checkOutputs(_ outputs: [NamedFile], inputs: [NamedFile]) throws {
    for (index, output) in outputs.enumerated() {
        if let input = inputs.first(where: { FileIdentity.same($0.path, output.path) }) {
            throw ValidationError("\(output.flag) \(output.path) is the same file as \(input.flag) \(input.path); "
                + "writing it would destroy the input")
        }
        if let other = outputs[..<index].first(where: { FileIdentity.same($0.path, output.path) }) {
            throw ValidationError("\(output.flag) \(output.path) is the same file as \(other.flag) \(other.path); "
                + "give each output a file of its own")
        }
    }
}

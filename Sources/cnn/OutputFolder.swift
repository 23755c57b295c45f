// OutputFolder.swift: the one check every command that writes a file makes first.
//
// A command that draws a picture or writes a log checks, in validate(),
// that the folder its output goes into exists, so that a typo fails at
// once with one line instead of after minutes of work.

import ArgumentParser
import Foundation

/// Throws a ValidationError naming `flag` and the folder unless the folder `path` would be written in exists.
func checkOutputFolder(_ path: String, flag: String = "--out") throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
        throw ValidationError("\(flag) \(path): the folder \(folder) does not exist")
    }
}

// ExportIDX.swift: `cnn export-idx`, a dataset written as the four standard IDX files.
//
// The training file holds the training split then the validation split
// (from network3's pickle: its 50,000 then its 10,000, the standard 60,000),
// so that reading the folder back with the default --validation-size gives
// the same three splits, byte for byte.  That lets anyone check that a run
// on IDX files matches a run on the pickle.  Each file is written
// atomically; --gzip writes the `.gz` files as they are distributed.

import ArgumentParser
import Foundation
import SwiftNet

struct ExportIDX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-idx",
        abstract: "Write a dataset (network3's MNIST pickle by default) as the four standard IDX files.",
        discussion: "The training file holds the training images, then the validation images; "
            + "`--data FOLDER` with the default --validation-size reads the same three splits back.")

    @OptionGroup var dataOptions: DataOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: ArgumentHelp("The folder to write the four files into (created if missing).", valueName: "folder"))
    var out: String

    @Flag(help: "Gzip each file and add .gz to its name, as the files are distributed.")
    var gzip = false

    func validate() throws {
        // Every spelling: an input under another spelling is what a written file would shadow or replace.
        let outputs = IDXFiles.standardNames.flatMap(IDXFiles.spellings(of:)).map { (out as NSString).appendingPathComponent($0) }
        for output in outputs {
            if let input = dataOptions.inputFiles.first(where: { FileIdentity.same($0.path, output) }) {
                throw ValidationError("--out \(out) holds \(input.flag) \(input.path), which writing there would destroy; "
                    + "export to another folder")
            }
        }
    }

    func run() throws {
        let mnist = try dataOptions.load()
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw ValidationError("--out \(out) is a file, not a folder") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            } catch {
                throw ValidationError("--out \(out): cannot create the folder (\(error.localizedDescription))")
            }
        }
        let names = IDXFiles.standardNames.map { $0 + (gzip ? ".gz" : "") }
        // A reader prefers the plain spelling; an old file of another spelling would shadow the new one.
        for (standard, name) in zip(IDXFiles.standardNames, names) {
            for other in IDXFiles.spellings(of: standard) where other != name {
                let path = (out as NSString).appendingPathComponent(other)
                if FileManager.default.fileExists(atPath: path) {
                    throw ValidationError("\(path) already exists and would be read instead of the \(name) written now; "
                        + "remove it or export to another folder")
                }
            }
        }
        let training = [mnist.training, mnist.validation]
        let contents = [try IDX.imageFileBytes(training), try IDX.labelFileBytes(training),
                        try IDX.imageFileBytes([mnist.test]), try IDX.labelFileBytes([mnist.test])]
        let counts = [mnist.training.count + mnist.validation.count, mnist.test.count]
        let shape = "\(mnist.test.channels)x\(mnist.test.height)x\(mnist.test.width)"
        for (index, name) in names.enumerated() {
            let path = (out as NSString).appendingPathComponent(name)
            try IDX.write(contents[index], to: path, gzipped: gzip)
            let count = counts[index / 2]
            print("Wrote \(path) (" + (index % 2 == 0 ? "\(count) images of \(shape))" : "\(count) labels)"))
        }
        print("Training file: the \(mnist.training.count) training images, then the \(mnist.validation.count) validation images")
    }
}

// IDX.swift: the IDX files that MNIST-style datasets are distributed in.
//
// An IDX file is a 4-byte magic number, one big-endian 32-bit extent per
// dimension, then the elements in row-major order.  The magic's first two
// bytes are zero, the third is the element type (0x08: unsigned byte, the
// only type accepted here) and the fourth the number of dimensions.  So an
// image file (magic 0x00000803) is (count, rows, columns) of bytes and a
// label file (0x00000801) is (count) of bytes.  A 4-dimensional image file
// (0x00000804) is read as (count, channels, rows, columns), already NCHW as
// a Dataset stores it; files laid out channels-last would need a transpose
// and are not recognised as such.
//
// Pixels stay bytes, value = byte / 256, which is exactly what network3's
// pickle holds, so the same images give the same numbers from either file.
// Whether a file is gzipped is decided by its first bytes (zlib's gzread
// looks for the gzip magic 1f 8b), never by its name.  Every problem (a
// wrong magic, a zero or oversized extent, a payload shorter than the header
// promises, bytes after it, a label outside the classes) is one
// DataFileError naming the file; trailing bytes are refused rather than
// ignored, because they mean the header's counts do not describe the file.
// Before a payload is read, what it will hold in memory is checked against
// the memory budget, and a gzipped file whose header promises more than
// `maximumExpansion` times its compressed size (a gzip bomb: a megabyte of
// zeros that inflates to a gigabyte) is refused; real image sets compress
// about 5 to 1.

import CKernels

/// Reading and writing IDX files of unsigned bytes (images and labels).
public enum IDX {
    /// Element type 0x08: unsigned bytes.
    static let unsignedByteType: UInt8 = 0x08
    /// The largest payload accepted: MNIST's training images are 47 MB. Keeps a
    /// lying header from reserving more memory than any real dataset needs.
    public static let maximumPayloadBytes = 1 << 30
    /// Payloads are read in pieces of this size, so memory grows only with bytes really there.
    static let readPieceBytes = 1 << 20
    /// How many times its size a gzipped file may inflate to, beyond `expansionAllowance`:
    /// MNIST's files inflate about 5-fold, zeros about 1000-fold.
    public static let maximumExpansion = 100
    /// Bytes any gzipped file may inflate to whatever its size, so that small test sets of blank images load.
    public static let expansionAllowance = 16 << 20

    /// The images of one IDX image file: `count` images, each `channels x height x width`
    /// bytes in (channel, row, column) order.
    public struct Images: Sendable {
        /// The number of images, and each image's channels, rows and columns.
        public let count: Int, channels: Int, height: Int, width: Int
        /// `count * channels * height * width` bytes, image after image.
        public let pixels: [UInt8]
    }

    /// Reads an image file: magic 0x00000803 (count, rows, columns) or
    /// 0x00000804 (count, channels, rows, columns), gzipped or not.
    /// - Parameters:
    ///   - path: the file.
    ///   - memoryBudget: the most the images (and a copy, as splits are cut from them) may hold.
    /// - Returns: the images.
    /// - Throws: `DataFileError` naming the file if it is missing, not an IDX image
    ///   file of bytes, has no images, is truncated or longer than its header says, or
    ///   promises more than `maximumExpansion` times its gzipped size; `MemoryBudgetError`
    ///   if its images would not fit `memoryBudget`.
    public static func readImages(contentsOf path: String, memoryBudget: MemoryBudget = .default) throws -> Images {
        let input = try UncompressedByteStream(path: path)
        let extents = try header(of: input, what: "image", dimensions: 3...4)
        let (count, channels, height, width) = extents.count == 3
            ? (extents[0], 1, extents[1], extents[2])
            : (extents[0], extents[1], extents[2], extents[3])
        guard count > 0 else { throw DataFileError(.badShape, path: path, reason: "the header says it holds no images") }
        guard channels > 0, height > 0, width > 0 else {
            throw DataFileError(.badShape, path: path, reason: "its images are \(channels)x\(height)x\(width); every extent must be positive")
        }
        let byteCount = try size(extents, path: path)
        try checkExpansion(of: path, headerBytes: input.offset, payload: byteCount)
        try memoryBudget.check(MemoryTally.product([byteCount, 2]), for: "the \(count) images of \(path), with the splits cut from them")
        let pixels = try payload(of: input, byteCount: byteCount, what: "\(count) images")
        return Images(count: count, channels: channels, height: height, width: width, pixels: pixels)
    }

    /// Reads a label file: magic 0x00000801, (count) bytes, gzipped or not.
    /// - Parameters:
    ///   - path: the file.
    ///   - classes: labels must lie in `0..<classes`.
    ///   - memoryBudget: the most the labels (bytes, then 32-bit integers) may hold.
    /// - Returns: the labels in file order.
    /// - Throws: `DataFileError` naming the file if it is missing, not an IDX label
    ///   file of bytes, empty, truncated, longer than its header says, holds a label
    ///   outside the classes, or promises more than `maximumExpansion` times its gzipped
    ///   size; `MemoryBudgetError` if its labels would not fit `memoryBudget`.
    public static func readLabels(contentsOf path: String, classes: Int = 10,
                                  memoryBudget: MemoryBudget = .default) throws -> [Int32] {
        let input = try UncompressedByteStream(path: path)
        let extents = try header(of: input, what: "label", dimensions: 1...1)
        guard extents[0] > 0 else { throw DataFileError(.badShape, path: path, reason: "the header says it holds no labels") }
        let start = input.offset
        let byteCount = try size(extents, path: path)
        try checkExpansion(of: path, headerBytes: start, payload: byteCount)
        try memoryBudget.check(MemoryTally.product([byteCount, 5]), for: "the \(extents[0]) labels of \(path)")
        let bytes = try payload(of: input, byteCount: byteCount, what: "\(extents[0]) labels")
        if let index = bytes.firstIndex(where: { Int($0) >= classes }) {
            throw DataFileError(.badLabel, path: path, offset: start + Int64(index),
                                reason: "label \(bytes[index]) (image \(index)) is not a class 0...\(classes - 1)")
        }
        return bytes.map { Int32($0) }
    }

    /// The number of dimensions if `path` starts like an IDX file of bytes (after
    /// gunzip), else nil; for telling a person who named one IDX file where a
    /// folder or a pickle was expected what they have.
    public static func dimensions(ofFileAt path: String) -> Int? {
        guard let input = try? UncompressedByteStream(path: path),
              let magic = try? (0..<4).map({ _ in try input.readByte() }),
              magic[0] == 0, magic[1] == 0, magic[2] == unsignedByteType, let count = magic[3], (1...4).contains(count)
        else { return nil }
        return Int(count)
    }

    /// Checks the magic number and reads the extents.
    private static func header(of input: UncompressedByteStream, what: String,
                               dimensions: ClosedRange<Int>) throws -> [Int] {
        let path = input.path
        var magic: [UInt8] = []
        for _ in 0..<4 {
            guard let byte = try input.readByte() else {
                throw DataFileError(magic.isEmpty && input.offset == 0 ? .unexpectedContents : .damaged,
                                    path: path, reason: magic.isEmpty && input.offset == 0
                    ? "the file is empty; expected an IDX \(what) file"
                    : "the file ends inside its 4-byte IDX magic number (the file is truncated)")
            }
            magic.append(byte)
        }
        let expected = dimensions.map { "0x000008\(hexByte(UInt8($0)))" }.joined(separator: " or ")
        guard magic[0] == 0, magic[1] == 0 else {
            throw DataFileError(.unexpectedContents, path: path, reason: "starts with \(magic.map(hexByte).joined(separator: " ")), "
                + "not an IDX magic number (\(expected) for a \(what) file)")
        }
        guard magic[2] == unsignedByteType else {
            throw DataFileError(.unexpectedContents, path: path, reason: "its IDX element type is 0x\(hexByte(magic[2])) "
                + "(\(elementTypeName(magic[2]))); only unsigned bytes (0x08) are supported")
        }
        let count = Int(magic[3])
        guard dimensions.contains(count) else {
            let kind = count == 1 ? "a label file" : count == 3 || count == 4 ? "an image file" : "\(count) dimensions"
            throw DataFileError(.unexpectedContents, path: path, reason: "its IDX magic 0x000008\(hexByte(magic[3])) is \(kind); "
                + "expected an IDX \(what) file (magic \(expected))")
        }
        var extents: [Int] = []
        for index in 0..<count {
            var value = 0
            for _ in 0..<4 {
                guard let byte = try input.readByte() else {
                    throw DataFileError(.damaged, path: path, reason: "the file ends inside its header, in extent \(index + 1) "
                        + "of \(count) (the file is truncated)")
                }
                value = value << 8 | Int(byte)
            }
            extents.append(value)
        }
        return extents
    }

    /// The payload's size in bytes, refused if over `maximumPayloadBytes`.
    private static func size(_ extents: [Int], path: String) throws -> Int {
        var total = 1
        for extent in extents {
            let (product, overflow) = total.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= maximumPayloadBytes else {
                throw DataFileError(.tooLarge, path: path, reason: "its header's extents \(extents.map(String.init).joined(separator: " x ")) "
                    + "promise more than \(maximumPayloadBytes >> 20) MiB of data; no dataset this reader takes is that large")
            }
            total = product
        }
        return total
    }

    /// Refuses a file whose header promises far more bytes than its size on
    /// disk could plausibly inflate to.  A plain file is never refused here: its
    /// payload is no larger than the file, and a short one is found truncated.
    private static func checkExpansion(of path: String, headerBytes: Int64, payload: Int) throws {
        guard let stored = BoundedFile.size(of: path), stored > 0 else { return }
        let promised = Int(headerBytes) + payload
        guard promised > stored else { return }
        let most = MemoryTally.sum([MemoryTally.product([stored, maximumExpansion]), expansionAllowance]) ?? Int.max
        guard promised <= most else {
            throw DataFileError(.tooLarge, path: path, reason: "its header promises \(payload) bytes of data, but the file holds "
                + "\(stored) compressed bytes; more than \(maximumExpansion) times that is refused as a gzip bomb")
        }
    }

    /// Exactly `byteCount` bytes, then the end of the stream.
    private static func payload(of input: UncompressedByteStream, byteCount: Int, what: String) throws -> [UInt8] {
        let start = input.offset
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(byteCount, 64 << 20))
        var piece = [UInt8](repeating: 0, count: min(byteCount, readPieceBytes))
        while bytes.count < byteCount {
            let wanted = min(piece.count, byteCount - bytes.count)
            let got = try piece.withUnsafeMutableBytes { try input.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<wanted])) }
            bytes += piece[0..<got]
            if got < wanted {
                throw DataFileError(.damaged, path: input.path, offset: input.offset,
                                    reason: "the file ends after \(bytes.count) of the \(byteCount) bytes of its \(what) "
                                        + "(the file is truncated)")
            }
        }
        let end = input.offset
        if try !input.isAtEnd() {
            throw DataFileError(.unexpectedContents, path: input.path, offset: end,
                                reason: "unexpected data after the \(byteCount) bytes of its \(what) "
                                    + "(\(end - start) bytes after the header); the header's extents do not describe the file")
        }
        return bytes
    }

    private static func elementTypeName(_ code: UInt8) -> String {
        switch code {
        case 0x09: return "signed bytes"
        case 0x0B: return "16-bit integers"
        case 0x0C: return "32-bit integers"
        case 0x0D: return "32-bit floats"
        case 0x0E: return "64-bit floats"
        default: return "not an IDX type"
        }
    }
}

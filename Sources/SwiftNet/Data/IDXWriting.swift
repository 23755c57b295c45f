// IDXWriting.swift: datasets written back out as IDX files.
//
// `cnn export-idx` turns network3's pickle into the four standard files
// (training = the pickle's training then validation images, 60,000 in all),
// so that a run on IDX files can be checked against a run on the pickle
// with the very same bytes.  Images of one channel get the standard 3-dim
// header; more channels get the 4-dim (count, channels, rows, columns)
// header that IDX.readImages reads.  Files are written atomically (Files/AtomicFile),
// plain or gzipped with zlib.

import CKernels

/// Why datasets cannot be written as IDX files; each description is one line.
public enum IDXWritingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No datasets were given.
    case noDatasets
    /// The datasets' images differ in shape (channels x height x width, one per dataset).
    case mixedShapes([String])
    /// An IDX label file holds bytes; this label does not fit one.
    case labelOutOfRange(Int)
    /// An IDX extent is 32 bits; this count does not fit.
    case extentTooLarge(Int)
    /// zlib could not compress the bytes (its status code).
    case compressionFailed(status: Int32)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case .noDatasets: return "no datasets to write as IDX"
        case .mixedShapes(let shapes): return "datasets of different image shapes (\(shapes.joined(separator: ", "))) cannot share one IDX file"
        case .labelOutOfRange(let label): return "label \(label) does not fit an IDX label file, which holds 0...255"
        case .extentTooLarge(let extent): return "\(extent) does not fit an IDX extent, which is 32 bits"
        case .compressionFailed(let status): return "zlib could not gzip the IDX bytes (status \(status))"
        }
    }
}

extension IDX {
    /// The bytes of an image file holding every image of `datasets`, in order.
    /// - Parameters:
    ///   - datasets: one or more splits of one image shape.
    /// - Throws: `IDXWritingError` when there are no datasets, their shapes differ, or a count
    ///   does not fit 32 bits.
    public static func imageFileBytes(_ datasets: [Dataset]) throws -> [UInt8] {
        guard let first = datasets.first else { throw IDXWritingError.noDatasets }
        guard datasets.allSatisfy({ [$0.channels, $0.height, $0.width] == [first.channels, first.height, first.width] }) else {
            throw IDXWritingError.mixedShapes(datasets.map { "\($0.channels)x\($0.height)x\($0.width)" })
        }
        let count = datasets.reduce(0) { $0 + $1.count }
        let extents = first.channels == 1
            ? [count, first.height, first.width]
            : [count, first.channels, first.height, first.width]
        return try header(extents) + datasets.flatMap(\.pixels)
    }

    /// The bytes of a label file holding every label of `datasets`, in order.
    /// - Parameters:
    ///   - datasets: one or more splits whose labels fit in a byte.
    /// - Throws: `IDXWritingError.labelOutOfRange` for a label outside 0...255.
    public static func labelFileBytes(_ datasets: [Dataset]) throws -> [UInt8] {
        let labels = datasets.flatMap(\.labels)
        if let label = labels.first(where: { !(0...255).contains($0) }) { throw IDXWritingError.labelOutOfRange(Int(label)) }
        return try header([labels.count]) + labels.map { UInt8($0) }
    }

    /// The magic number for unsigned bytes in `extents.count` dimensions, then each extent, big-endian.
    static func header(_ extents: [Int]) throws -> [UInt8] {
        if let extent = extents.first(where: { $0 < 0 || $0 > Int(UInt32.max) }) { throw IDXWritingError.extentTooLarge(extent) }
        return [0, 0, unsignedByteType, UInt8(extents.count)] + extents.flatMap { extent in
            (0..<4).reversed().map { UInt8(truncatingIfNeeded: extent >> (8 * $0)) }
        }
    }

    /// `bytes` as one gzip member, as gzip(1) would write it.
    /// - Parameters:
    ///   - bytes: the uncompressed contents.
    ///   - level: zlib's compression level, 0 (store) to 9 (smallest).
    /// - Throws: `IDXWritingError.compressionFailed` if zlib fails (a level outside 0...9, or no memory).
    public static func gzip(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ck_gzip_compress_bound(bytes.count))
        var length = out.count
        let status = out.withUnsafeMutableBufferPointer { output in
            bytes.withUnsafeBufferPointer { input in
                ck_gzip_compress(output.baseAddress!, &length, input.baseAddress, input.count, level)
            }
        }
        guard status == Int32(CK_ZLIB_OK) else { throw IDXWritingError.compressionFailed(status: status) }
        return Array(out[0..<length])
    }

    /// Writes `bytes` to `path` atomically (temporary file, fsync, rename), gzipped if asked.
    /// - Parameters:
    ///   - bytes: an IDX file's contents, from `imageFileBytes` or `labelFileBytes`.
    ///   - path: the destination; its folder must exist.
    ///   - gzipped: compress with gzip first.
    /// - Throws: `FileError.writeFailed` naming the file and the step that failed (`path` is then
    ///   untouched), or `IDXWritingError.compressionFailed`.
    public static func write(_ bytes: [UInt8], to path: String, gzipped: Bool) throws {
        try AtomicFile.write(gzipped ? try gzip(bytes) : bytes, to: path)
    }
}

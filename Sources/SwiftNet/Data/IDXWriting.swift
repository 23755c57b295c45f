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

extension IDX {
    /// The bytes of an image file holding every image of `datasets`, in order.
    /// - Parameters:
    ///   - datasets: one or more splits of one image shape.
    public static func imageFileBytes(_ datasets: [Dataset]) -> [UInt8] {
        precondition(!datasets.isEmpty, "IDX.imageFileBytes: no datasets")
        let first = datasets[0]
        precondition(datasets.allSatisfy { [$0.channels, $0.height, $0.width] == [first.channels, first.height, first.width] },
                     "IDX.imageFileBytes: datasets of different image shapes \(datasets.map { "\($0.channels)x\($0.height)x\($0.width)" })")
        let count = datasets.reduce(0) { $0 + $1.count }
        let extents = first.channels == 1
            ? [count, first.height, first.width]
            : [count, first.channels, first.height, first.width]
        return header(extents) + datasets.flatMap(\.pixels)
    }

    /// The bytes of a label file holding every label of `datasets`, in order.
    /// - Parameters:
    ///   - datasets: one or more splits whose labels fit in a byte.
    public static func labelFileBytes(_ datasets: [Dataset]) -> [UInt8] {
        let labels = datasets.flatMap(\.labels)
        precondition(labels.allSatisfy { (0...255).contains($0) }, "IDX.labelFileBytes: a label outside 0...255")
        return header([labels.count]) + labels.map { UInt8($0) }
    }

    /// The magic number for unsigned bytes in `extents.count` dimensions, then each extent, big-endian.
    static func header(_ extents: [Int]) -> [UInt8] {
        [0, 0, unsignedByteType, UInt8(extents.count)] + extents.flatMap { extent in
            precondition(extent >= 0 && extent <= Int(UInt32.max), "IDX: extent \(extent) does not fit 32 bits")
            return (0..<4).reversed().map { UInt8(truncatingIfNeeded: extent >> (8 * $0)) }
        }
    }

    /// `bytes` as one gzip member, as gzip(1) would write it.
    /// - Parameters:
    ///   - bytes: the uncompressed contents.
    ///   - level: zlib's compression level, 0 (store) to 9 (smallest).
    public static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ck_gzip_compress_bound(bytes.count))
        var length = out.count
        let status = out.withUnsafeMutableBufferPointer { output in
            bytes.withUnsafeBufferPointer { input in
                ck_gzip_compress(output.baseAddress!, &length, input.baseAddress, input.count, level)
            }
        }
        precondition(status == Int32(CK_ZLIB_OK), "IDX.gzip: zlib failed (status \(status)) at level \(level)")
        return Array(out[0..<length])
    }

    /// Writes `bytes` to `path` atomically (temporary file, fsync, rename), gzipped if asked.
    /// - Parameters:
    ///   - bytes: an IDX file's contents, from `imageFileBytes` or `labelFileBytes`.
    ///   - path: the destination; its folder must exist.
    ///   - gzipped: compress with gzip first.
    /// - Throws: `FileError.writeFailed` naming the file and the step that failed; `path` is then untouched.
    public static func write(_ bytes: [UInt8], to path: String, gzipped: Bool) throws {
        try AtomicFile.write(gzipped ? gzip(bytes) : bytes, to: path)
    }
}

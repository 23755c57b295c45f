// PickleLimitsTests.swift: the memory budget, files of other formats, gzip
// damage, and the protocol 0 to 5 spellings the decoder now reads.
//
// A compressed bomb of many arrays, each under any per-array limit, must stop
// when all it holds reaches the reader's memory limit, before that memory is
// allocated; a file that is not a pickle at all must be named for what it
// is; gzip damage must be reported where zlib found it; and the plain-data
// opcodes of every protocol must give the values Python's unpickler would,
// or one line saying what is wrong.

import Foundation
@testable import SwiftNet
import XCTest

final class PickleLimitsTests: DataFileTestCase {
    /// A pickle of `count` int64 arrays of `elements` zeros each, in one tuple, and the
    /// offset of each array's BINSTRING opcode.
    private func manyArrays(_ count: Int, elements: Int32) -> (bytes: [UInt8], dataOpcodes: [Int]) {
        var writer = PickleWriter()
        writer.proto()
        writer.mark()
        var offsets: [Int] = []
        let data = [UInt8](repeating: 0, count: Int(elements) * 8)
        for _ in 0..<count {
            var array = PickleWriter()
            array.array("i8", shape: [elements], data: data)
            // The BINSTRING sits before the data and its closing TUPLE and BUILD.
            offsets.append(writer.bytes.count + array.bytes.count - data.count - 5 - 2)
            writer.raw(array.bytes)
        }
        writer.tuple()
        writer.stop()
        return (writer.bytes, offsets)
    }

    func testAllArraysTogetherAreHeldToTheMemoryLimit() throws {
        // Ten arrays of 400,000 bytes: each fits a 1 MB limit, the third does not fit what is left.
        let (bytes, offsets) = manyArrays(10, elements: 50_000)
        for (name, file) in [("bomb.pkl", bytes), ("bomb.pkl.gz", storedGzip(bytes))] {
            let path = try write(file, to: name)
            XCTAssertThrowsError(try MNIST.load(contentsOf: path, memoryLimit: 1_000_000)) { error in
                let error = error as? DataFileError
                XCTAssertEqual(error?.kind, .tooLarge, "\(name): \(String(describing: error))")
                XCTAssertEqual(error?.offset, Int64(offsets[2]), "\(name): \(String(describing: error))")
                XCTAssertTrue(error?.reason.contains("array shape (50000,) of i8 is too large") ?? false, "\(String(describing: error))")
                XCTAssertTrue(error?.reason.contains("of the 1000000-byte memory limit") ?? false, "\(String(describing: error))")
            }
            // Under the default limit the same file is read in full, and refused only for its structure.
            XCTAssertThrowsError(try MNIST.load(contentsOf: path)) { error in
                XCTAssertTrue("\(error)".contains("expected a tuple (training, validation, test)"), "\(error)")
            }
        }
    }

    func testOneBudgetServesEveryPickleOfAParameterFile() throws {
        var writer = PickleWriter()
        for _ in 0..<3 {
            writer.proto()
            writer.array("f8", shape: [50_000], data: [UInt8](repeating: 0, count: 400_000))
            writer.stop()
        }
        let path = try write(writer.bytes, to: "params.pkl")
        XCTAssertEqual(try RestrictedPickleDecoder.decodeSequence(
            from: UncompressedByteStream(path: path), purpose: .parameters, memoryLimit: 1_300_000).count, 3)
        XCTAssertThrowsError(try RestrictedPickleDecoder.decodeSequence(
            from: UncompressedByteStream(path: path), purpose: .parameters, memoryLimit: 1_000_000)) { error in
            XCTAssertEqual((error as? DataFileError)?.kind, .tooLarge, "\(error)")
            XCTAssertTrue("\(error)".contains("memory limit"), "\(error)")
        }
    }

    func testListsTuplesAndBuffersCountAgainstTheLimit() throws {
        // Each round adds 999 list items for 1,001 bytes of pickle.
        var list: [UInt8] = [0x80, 2, UInt8(ascii: "]")]
        for _ in 0..<200 { list += [UInt8(ascii: "(")] + [UInt8](repeating: UInt8(ascii: "N"), count: 999) + [UInt8(ascii: "e")] }
        list.append(UInt8(ascii: "."))
        let path = try write(list, to: "list.pkl")
        XCTAssertThrowsError(try RestrictedPickleDecoder.decode(from: UncompressedByteStream(path: path), memoryLimit: 1_000_000)) { error in
            XCTAssertEqual((error as? DataFileError)?.kind, .tooLarge, "\(error)")
            XCTAssertTrue("\(error)".contains("999 list items would take more than"), "\(error)")
        }
        // A protocol 5 buffer that claims a terabyte is refused before anything is reserved or read.
        let buffer: [UInt8] = [0x80, 5, 0x96] + (0..<8).map { UInt8(truncatingIfNeeded: (1 << 40) >> (8 * $0)) } + [1, 2, 3]
        try assertRefused(buffer, because: "BYTEARRAY8 of 1099511627776 bytes would take more than", at: 2)
        try assertRefused([0x80, 5, 0x8e] + [UInt8](repeating: 0xff, count: 8), because: "BINBYTES8 claims a length of 18446744073709551615")
        // A shape whose size overflows is refused by its arithmetic, not by a trap.
        var overflow = PickleWriter()
        overflow.proto()
        overflow.array("f4", shape: [Int32.max, Int32.max, Int32.max, Int32.max], data: [])
        try assertRefused(overflow.bytes, because: "its size does not fit in 64 bits")
    }

    func testFilesOfOtherFormatsAreNamedForWhatTheyAre() throws {
        let pickle = SmallMNISTPickle().bytes
        let cases: [([UInt8], String)] = [
            (Checkpoint.magic + [UInt8](repeating: 0, count: 40), "is a SwiftNet checkpoint, not a pickle of MNIST's arrays"),
            (storedGzip(pickle), "is gzipped twice"),
            ([0x93] + Array("NUMPY".utf8) + [1, 0], "is a numpy .npy file (numpy.save)"),
            (Array("PK".utf8) + [3, 4, 0, 0, 0, 0], "is a zip archive (numpy.savez's .npz, or a PyTorch file)"),
            ([0x89] + Array("HDF\r\n".utf8) + [0x1a, 0x0a], "is an HDF5 file"),
            ([0, 0, 8, 3, 0, 0, 0, 1], "is an IDX file"),
        ]
        for (bytes, expected) in cases {
            // Gzipped once around, as a .pkl.gz would be: the check is on what it inflates to.
            try assertRefused(storedGzip(bytes), because: expected)
        }
        let path = try write(Checkpoint.magic + [0, 0, 0, 1], to: "model.ckpt")
        XCTAssertThrowsError(try Network3ParameterFile.read(contentsOf: path, layers: TinyNetwork.layers(batch: 1))) { error in
            XCTAssertEqual("\(error)", "\(path): is a SwiftNet checkpoint, not a network3 parameter pickle: "
                + "it is a model already and needs no import")
        }
    }

    func testGzipDamageIsReportedWhereZlibFoundIt() throws {
        var small = SmallMNISTPickle()
        small.counts = [20, 20, 20]
        let pickle = small.bytes
        var gzip = storedGzip(pickle)
        // storedGzip writes stored blocks of 65,535 bytes, each after a 5-byte header; the
        // third block's first header byte becomes BTYPE 3, which zlib refuses as it reads it.
        let header = 10 + 2 * (5 + 65_535)
        XCTAssertGreaterThan(pickle.count, 2 * 65_535)
        gzip[header] = 0x07
        let error = try XCTUnwrap(try loadError(gzip, name: "damaged.pkl.gz"))
        XCTAssertEqual(error.kind, .damaged, error.description)
        XCTAssertTrue(error.reason.contains("invalid block type"), error.description)
        // zlib reports how far into the file it read: at the damaged byte or just after it.
        let stoppedAt = try XCTUnwrap(error.reason.components(separatedBy: "gave up at byte ").dropFirst().first
            .flatMap { Int($0.prefix(while: \.isNumber)) }, error.description)
        XCTAssertTrue((header...(header + 1)).contains(stoppedAt), error.description)
        // It inflated in pieces, so it can only promise that the damage lies beyond the offset it names.
        XCTAssertLessThanOrEqual(error.offset ?? .max, Int64(2 * 65_535), error.description)

        // A changed byte inside a stored block inflates without complaint; only the CRC-32
        // at the end finds it, and it cannot say where, so the message names no offset.
        var changed = storedGzip(pickle)
        changed[10 + 5 + 1_000] ^= 0x01
        let crc = try XCTUnwrap(try loadError(changed, name: "changed.pkl.gz"))
        XCTAssertNil(crc.offset, crc.description)
        XCTAssertTrue(crc.reason.contains("does not match the CRC-32 and length in its trailer (incorrect data check), "
            + "so the damage may lie anywhere in it"), crc.description)
    }

    func testPlainDataOfEveryProtocolGivesPythonsValues() throws {
        func decoded(_ bytes: [UInt8]) throws -> PickleValue {
            try RestrictedPickleDecoder.decode(from: UncompressedByteStream(path: write(bytes, to: "value.pkl")))
        }
        func value(_ text: String) throws -> PickleValue { try decoded(Array(text.utf8)) }
        guard case .bool(false) = try value("I00\n."), case .bool(true) = try value("I01\n."),
              case .int(-12) = try value("I-12\n."), case .int(1_234_567_890_123) = try value("L1234567890123L\n."),
              case .int(-2) = try decoded([0x80, 2, 0x8a, 1, 0xfe, UInt8(ascii: ".")]),
              case .int(0x0102) = try decoded([0x80, 2, 0x8b, 2, 0, 0, 0, 2, 1, UInt8(ascii: ".")]),
              case .float(1.5) = try value("F1.5\n."),
              case .float(-2.25) = try decoded([0x80, 2, UInt8(ascii: "G"), 0xc0, 0x02, 0, 0, 0, 0, 0, 0, UInt8(ascii: ".")])
        else { return XCTFail("a number did not decode to Python's value") }
        // STRING undoes repr's escapes: \x41, octal \101 and \0, \n; an unknown escape stays as it is.
        guard case .bytes(let escaped) = try value("S'a\\x41\\101\\0\\n\\q\"'\n.") else { return XCTFail("STRING") }
        XCTAssertEqual(escaped, Array("aAA".utf8) + [0, 0x0a] + Array("\\q\"".utf8))
        // UNICODE is raw-unicode-escape: \u00e9 is one character, \\u is a backslash then u.
        guard case .text(let text) = try decoded(Array("V\\u00e9\\\\u\u{00}\n.".utf8)) else { return XCTFail("UNICODE") }
        XCTAssertEqual(text, [0xe9, UInt8(ascii: "\\"), UInt8(ascii: "\\"), UInt8(ascii: "u"), 0])
        // Lists, the memo of protocol 0 (PUT, GET) and 4 (MEMOIZE), and STACK_GLOBAL.
        guard case .list(let list) = try value("(lp0\nI1\naI2\nag0\na.") else { return XCTFail("LIST") }
        XCTAssertEqual(list.items.count, 3)
        guard case .global(.frombuffer) = try decoded([0x80, 4, 0x8c, 19] + Array("numpy._core.numeric".utf8) + [0x94, 0x8c, 11]
            + Array("_frombuffer".utf8) + [0x94, 0x93, UInt8(ascii: ".")]) else { return XCTFail("STACK_GLOBAL") }

        let refusals: [(String, String)] = [
            ("I99999999999999999999\n.", "INT '99999999999999999999' is not a decimal integer that fits in 64 bits"),
            ("Ix\n.", "INT 'x' is not a decimal"),
            ("Fabc\n.", "FLOAT 'abc' is not a number"),
            ("Sabc'\n.", "STRING's argument does not start with a quote"),
            ("S'ab'c'\n.", "STRING holds its closing quote before the end of its line"),
            ("S'abc\n.", "STRING's line ends without its closing quote"),
            ("S'\\xZZ'\n.", "without two hex digits"),
            ("V\\u0100\n.", "above U+00FF"),
            ("V\\u12\n.", "without its hex digits"),
            ("Np-1\n.", "PUT '-1' is not a memo index"),
            ("g3\n.", "GET 3: that memo index was never stored"),
            ("I1\nI2\na.", "APPEND to the integer 1; only a list can be appended to"),
            ("I1\na.", "stack underflow: APPEND with no list"),
            ("(I1\ne.", "stack underflow: APPENDS with no list"),
        ]
        for (pickle, expected) in refusals {
            try assertRefused(Array(pickle.utf8), because: expected)
        }
        try assertRefused([0x80, 4, UInt8(ascii: "K"), 1, UInt8(ascii: "K"), 2, 0x93], because: "STACK_GLOBAL of the integer 1 and the integer 2")
        try assertRefused([0x80, 4, 0x8c, 2] + Array("os".utf8) + [0x8c, 6] + Array("system".utf8) + [0x93],
                          because: "global 'os.system' is not allowed")
        // Longer than a name may be, where it is not an array's data.
        try assertRefused(Array(("S'" + String(repeating: "a", count: 300) + "'\n.").utf8), because: "STRING longer than 256 characters")
    }

    /// A Python 3 port may save lists where network3 saved tuples, and all its
    /// parameters in one pickle: [(w1, b1), (w2, b2), ...] or [w1, b1, ...].
    func testListsAndSinglePicklesOfAPortReadAsNetwork3sOwn() throws {
        let emptyList = UInt8(ascii: "]"), appends = UInt8(ascii: "e")
        var mnist = PickleWriter()
        mnist.proto()
        mnist.raw([emptyList])
        mnist.mark()
        for (split, count) in [3, 2, 2].enumerated() {
            mnist.raw([emptyList])
            mnist.mark()
            let pixels = (0..<(count * 784)).map { Float(SmallMNISTPickle.pixelByte(split: split, image: $0 / 784, index: $0 % 784)) / 256 }
            mnist.array("f4", shape: [Int32(count), 784], data: float32Bytes(pixels))
            mnist.array("i8", shape: [Int32(count)], data: int64Bytes((0..<count).map { Int64((split + $0) % 10) }))
            mnist.raw([appends])
        }
        mnist.raw([appends])
        mnist.stop()
        let fromLists = try MNIST.load(contentsOf: write(mnist.bytes, to: "lists.pkl"))
        let fromTuples = try MNIST.load(contentsOf: write(SmallMNISTPickle().bytes, to: "tuples.pkl"))
        XCTAssertEqual(fromLists.training.pixels, fromTuples.training.pixels)
        XCTAssertEqual(fromLists.test.labels, fromTuples.test.labels)

        let layers = TinyNetwork.layers(batch: 1)
        var sequence = PickleWriter(), pairs = PickleWriter(), flat = PickleWriter(), short = PickleWriter()
        pairs.proto()
        pairs.raw([emptyList])
        pairs.mark()
        flat.proto()
        flat.raw([emptyList])
        flat.mark()
        short.proto()
        short.mark()
        for (index, layer) in layers.enumerated() {
            let (weights, biases) = try Network3ParameterFile.shapes(of: layer)
            for shape in [weights, biases] {
                let data = float32Bytes((0..<shape.reduce(1, *)).map { Float($0 + 100 * index) / 8 })
                sequence.proto()
                sequence.array("f4", shape: shape.map(Int32.init), data: data)
                sequence.stop()
                pairs.array("f4", shape: shape.map(Int32.init), data: data)
                flat.array("f4", shape: shape.map(Int32.init), data: data)
                if index < 2 { short.array("f4", shape: shape.map(Int32.init), data: data) }
            }
            pairs.tuple(of: 2)
        }
        pairs.raw([appends])
        pairs.stop()
        flat.raw([appends])
        flat.stop()
        short.tuple()
        short.stop()
        let expected = try Network3ParameterFile.read(contentsOf: write(sequence.bytes, to: "sequence.pkl"), layers: layers)
        XCTAssertEqual(try Network3ParameterFile.read(contentsOf: write(pairs.bytes, to: "pairs.pkl"), layers: layers), expected)
        XCTAssertEqual(try Network3ParameterFile.read(contentsOf: write(flat.bytes, to: "flat.pkl"), layers: layers), expected)
        XCTAssertThrowsError(try Network3ParameterFile.read(contentsOf: write(short.bytes, to: "short.pkl"), layers: layers)) { error in
            XCTAssertTrue("\(error)".contains("holds 4 arrays, but the network's 3 layers need 6"), "\(error)")
        }
    }

    func testRefusalsSayWhatIsAcceptedAndWhatWouldWork() throws {
        try assertRefused([0x80, 2, UInt8(ascii: "}"), UInt8(ascii: ".")],
                          because: "EMPTY_DICT is not allowed: only numpy arrays in tuples and lists")
        try assertRefused([0x80, 2, UInt8(ascii: "}"), UInt8(ascii: ".")], because: "at protocols 0 to 5, may appear; "
                          + "re-save the file with numpy arrays only")
        var global = PickleWriter()
        global.proto()
        global.global("os", "system")
        try assertRefused(global.bytes, because: "only numpy's array and dtype reconstructors (")
        try assertRefused(global.bytes, because: "may appear in a data file; re-save it with numpy arrays only")
        try assertRefused([0x80, 5, 0x97, UInt8(ascii: ".")], because: "NEXT_BUFFER is not allowed: the pickle's array data "
                          + "was kept out of the file (out-of-band buffers); re-save it without buffer_callback")
        try assertRefused([0x80, 9], because: "PROTO 9 is newer than this reader knows: it reads protocols 0 to 5")
    }
}

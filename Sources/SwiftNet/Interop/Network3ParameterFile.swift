// Network3ParameterFile.swift: the parameter files of network3.py, read and written.
//
// The seed saved a trained network by pickling, for each layer in order,
// its weights `w` and then its biases `b` as numpy arrays (cPickle,
// protocol 2, float32 or float64), one pickle after another in one file;
// its load() reads them back in the same order.  ConvPoolLayer's w is
// (filters, channels, height, width) and b is (filters,); the dense and
// softmax layers' w is (n_in, n_out) and b is (n_out,), as in SwiftNet.
//
// One convention differs.  Theano's conv2d computes a true convolution: it
// flips each filter in both spatial directions before sliding it (the
// Theano documentation's `filter_flip=True`, which the seed's conv.conv2d
// always does), while SwiftNet's kernel slides the filter as it is
// (cross-correlation, like every modern framework).  So a seed filter is
// SwiftNet's filter rotated by 180 degrees: w_theano[o][c][i][j] =
// w_ours[o][c][kh-1-i][kw-1-j].  Import and export rotate every conv
// filter, so an imported network makes exactly the seed's predictions.
//
// Files are read by the restricted pickle decoder, which runs nothing, at
// any pickle protocol (0 to 5) from Python 2 or 3 and numpy 1 or 2.  A
// Python 3 port may instead pickle all the arrays at once, as a list or
// tuple of them or of (w, b) pairs; that single pickle is read in the same
// order.  They are written in a form that both Python 2's cPickle and Python 3's pickle
// read with their defaults: protocol 2, with each array's bytes spelled as
// Python 3 spells bytes, `_codecs.encode(latin-1 text, 'latin1')`.

import Foundation

/// network3.py's saved parameters: for each layer, a pickle of w, then one of b.
public enum Network3ParameterFile {
    /// The numpy element type to write.
    public enum ElementType: String, CaseIterable, Sendable {
        /// float32, the seed's floatX on a GPU.
        case float32
        /// float64, Theano's default floatX on a CPU.
        case float64
    }

    /// The most bytes the file's arrays may take in memory while it is read, unless told otherwise.
    public static var defaultMemoryLimit: Int { RestrictedPickleDecoder.defaultMemoryLimit }

    /// Reads a parameter file into a network of the matching architecture.
    /// - Parameters:
    ///   - path: the file network3's save() wrote (gzipped or not).
    ///   - network: receives the parameters, conv filters rotated to SwiftNet's convention;
    ///     untouched if anything is wrong.
    ///   - memoryLimit: the most bytes the decoded arrays may take while the file is read.
    /// - Throws: `DataFileError` naming the file and the array that does not fit,
    ///   or (`.tooLarge`) arrays that need more than `memoryLimit` bytes.
    public static func read(contentsOf path: String, into network: Network, memoryLimit: Int = defaultMemoryLimit) throws {
        let parameters = try read(contentsOf: path, layers: network.layers, memoryLimit: memoryLimit)
        _ = network.parameters.update(fromContentsOf: parameters)
    }

    /// The parameters in a file for `layers`, laid out as `Network.parameters`.
    static func read(contentsOf path: String, layers: [any Layer], memoryLimit: Int = defaultMemoryLimit) throws -> [Float] {
        let input = try UncompressedByteStream(path: path)
        let pickles = try RestrictedPickleDecoder.decodeSequence(from: input, purpose: .parameters, memoryLimit: memoryLimit)
        let (values, unit) = arrays(in: pickles)
        guard values.count == 2 * layers.count else {
            throw DataFileError(.unexpectedContents, path: path, reason: "holds \(values.count) \(unit == "pickle" ? "pickled values" : "arrays"), "
                + "but the network's \(layers.count) layers "
                + "need \(2 * layers.count): w then b for each of \(layers.map(\.summary).joined(separator: ", "))")
        }
        let weightCount = layers.reduce(0) { $0 + $1.weightCount }
        var parameters = [Float](repeating: 0, count: weightCount + layers.reduce(0) { $0 + $1.biasCount })
        var weightOffset = 0
        var biasOffset = weightCount
        for (index, layer) in layers.enumerated() {
            let (weightShape, biasShape) = try shapes(of: layer)
            for (name, value, shape, offset) in [("w", values[2 * index], weightShape, weightOffset),
                                                 ("b", values[2 * index + 1], biasShape, biasOffset)] {
                let what = "layer \(index + 1)'s \(name) (\(unit) \(2 * index + (name == "w" ? 1 : 2)) of \(values.count))"
                let floats = try elements(of: value, shape: shape, what: what, layer: layer, path: path)
                parameters.replaceSubrange(offset..<(offset + floats.count), with: floats)
            }
            if let conv = layer as? any FilteredLayer {
                rotateFilters(&parameters, at: weightOffset, of: conv)
            }
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        return parameters
    }

    /// The values to match with the layers' w and b, and what to call each in
    /// messages: the pickles of network3's own format, or the arrays of a single
    /// pickle that holds a list or tuple of arrays or of (w, b) pairs.
    private static func arrays(in pickles: [PickleValue]) -> ([PickleValue], String) {
        guard pickles.count == 1, let outer = pickles[0].sequenceItems else { return (pickles, "pickle") }
        // One level of pairs at most: a list holding itself must not be walked for ever.
        return (outer.flatMap { item in item.sequenceItems ?? [item] }, "array")
    }

    /// Writes a network's parameters as network3's save() would.
    /// - Parameters:
    ///   - network: the network.
    ///   - path: the destination, replaced atomically.
    ///   - elementType: float32 or float64 arrays.
    /// - Throws: `NetworkConfigurationError.badLayer` naming the first layer network3 has
    ///   no counterpart for (nothing is written), `FileError.writeFailed` if the file cannot be written.
    public static func write(_ network: Network, to path: String, as elementType: ElementType = .float32) throws {
        try write(layers: network.layers, parameters: Array(network.parameters), to: path, as: elementType)
    }

    /// Writes parameters laid out as `Network.parameters` for `layers`.
    /// - Parameters:
    ///   - layers: the architecture.
    ///   - parameters: all weights, then all biases.
    ///   - path: the destination, replaced atomically.
    ///   - elementType: float32 or float64 arrays.
    /// - Throws: `NetworkConfigurationError.badLayer` naming the first layer network3 has
    ///   no counterpart for (nothing is written), `FileError.writeFailed` if the file cannot be written.
    public static func write(layers: [any Layer], parameters: [Float], to path: String, as elementType: ElementType = .float32) throws {
        try AtomicFile.write(try encode(layers: layers, parameters: parameters, as: elementType), to: path)
    }

    /// The bytes of a parameter file.
    static func encode(layers: [any Layer], parameters: [Float], as elementType: ElementType) throws -> [UInt8] {
        var rotated = parameters
        let weightCount = layers.reduce(0) { $0 + $1.weightCount }
        var writer = Network3PickleWriter()
        var weightOffset = 0
        var biasOffset = weightCount
        for layer in layers {
            // Only the seed's three kinds have a w and b in network3's file; skipping any other
            // layer (a ConvLayer, a pool, a batch norm) would write a file for another network.
            let (weightShape, biasShape) = try shapes(of: layer)
            if let conv = layer as? any FilteredLayer { rotateFilters(&rotated, at: weightOffset, of: conv) }
            writer.array(shape: weightShape, values: rotated[weightOffset..<(weightOffset + layer.weightCount)], as: elementType)
            writer.array(shape: biasShape, values: rotated[biasOffset..<(biasOffset + layer.biasCount)], as: elementType)
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        return writer.bytes
    }

    /// The shapes of a layer's w and b in network3.
    static func shapes(of layer: any Layer) throws -> ([Int], [Int]) {
        guard let shapes = (layer as? any LayerKind)?.network3Shapes else {
            throw NetworkConfigurationError.badLayer(summary: layer.summary, reason: "it has no network3 counterpart")
        }
        return shapes
    }

    /// Rotates every filter of a conv layer by 180 degrees in place: with the
    /// filter's values in row-major order, that is reversing them.
    static func rotateFilters(_ parameters: inout [Float], at offset: Int, of conv: any FilteredLayer) {
        let area = conv.filterShape.height * conv.filterShape.width
        for filter in 0..<(conv.filterShape.filters * conv.filterShape.channels) {
            parameters[(offset + filter * area)..<(offset + (filter + 1) * area)].reverse()
        }
    }

    /// An array's values as floats, after checking that it is an array of `shape` with finite values.
    private static func elements(of value: PickleValue, shape: [Int], what: String, layer: any Layer, path: String) throws -> [Float] {
        guard case .array(let array) = value, let contents = array.contents else {
            throw DataFileError(.unexpectedContents, path: path, reason: "\(what) is \(value.summary), not a numpy array")
        }
        guard contents.shape == shape else {
            throw DataFileError(.badShape, path: path, offset: contents.dataOffset,
                                reason: "\(what) has shape \(describe(contents.shape)), but \(layer.summary) needs \(describe(shape))")
        }
        let floats: [Float]
        switch contents.elements {
        case .float32(let values): floats = values
        case .float64(let values): floats = values.map { Float($0) }
        case .pixelBytes, .int64:
            throw DataFileError(.unexpectedContents, path: path, offset: contents.dataOffset, reason: "\(what) is not an array of floats")
        }
        if let bad = floats.firstIndex(where: { !$0.isFinite }) {
            throw DataFileError(.badValue, path: path, offset: contents.dataOffset,
                                reason: "\(what) holds \(floats[bad]) at index \(bad) (as float32); parameters must be finite")
        }
        return floats
    }

    private static func describe(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }
}

/// Writes numpy arrays as protocol 2 pickles that Python 2 and 3 both read.
struct Network3PickleWriter {
    private(set) var bytes: [UInt8] = []

    /// One pickle holding an ndarray, spelled as numpy's __reduce__ spells it.
    mutating func array(shape: [Int], values: ArraySlice<Float>, as elementType: Network3ParameterFile.ElementType) {
        bytes += [0x80, 2] // PROTO 2
        global("numpy.core.multiarray", "_reconstruct")
        global("numpy", "ndarray")
        int(0)
        bytes.append(0x85) // TUPLE1
        shortString("b")
        bytes.append(0x87) // TUPLE3
        bytes.append(UInt8(ascii: "R"))
        bytes.append(UInt8(ascii: "(")) // MARK: the state (1, shape, dtype, is_fortran, data)
        int(1)
        bytes.append(UInt8(ascii: "("))
        for extent in shape { int(extent) }
        bytes.append(UInt8(ascii: "t"))
        global("numpy", "dtype")
        shortString(elementType == .float32 ? "f4" : "f8")
        int(0)
        int(1)
        bytes.append(0x87) // TUPLE3
        bytes.append(UInt8(ascii: "R"))
        bytes.append(UInt8(ascii: "("))
        int(3)
        shortString("<")
        bytes += [UInt8(ascii: "N"), UInt8(ascii: "N"), UInt8(ascii: "N")]
        int(-1)
        int(-1)
        int(0)
        bytes.append(UInt8(ascii: "t"))
        bytes.append(UInt8(ascii: "b")) // BUILD the dtype
        bytes.append(0x89) // NEWFALSE: C order
        global("_codecs", "encode")
        var raw: [UInt8] = []
        raw.reserveCapacity(values.count * (elementType == .float32 ? 4 : 8))
        for value in values {
            switch elementType {
            case .float32:
                let bits = value.bitPattern
                for shift in stride(from: 0, to: 32, by: 8) { raw.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
            case .float64:
                let bits = Double(value).bitPattern
                for shift in stride(from: 0, to: 64, by: 8) { raw.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
            }
        }
        unicode(raw)
        unicode(Array("latin1".utf8))
        bytes.append(0x86) // TUPLE2
        bytes.append(UInt8(ascii: "R"))
        bytes.append(UInt8(ascii: "t"))
        bytes.append(UInt8(ascii: "b")) // BUILD the array
        bytes.append(UInt8(ascii: "."))
    }

    private mutating func global(_ module: String, _ name: String) {
        bytes += [UInt8(ascii: "c")] + Array("\(module)\n\(name)\n".utf8)
    }

    private mutating func int(_ value: Int) {
        switch value {
        case 0..<0x100: bytes += [UInt8(ascii: "K"), UInt8(value)]
        case 0x100..<0x10000: bytes += [UInt8(ascii: "M"), UInt8(value & 0xff), UInt8(value >> 8)]
        default:
            let bits = UInt32(bitPattern: Int32(value))
            bytes += [UInt8(ascii: "J")] + (0..<4).map { UInt8(truncatingIfNeeded: bits >> UInt32(8 * $0)) }
        }
    }

    /// SHORT_BINSTRING: a str in Python 2, and in Python 3 a str for ASCII.
    private mutating func shortString(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes += [UInt8(ascii: "U"), UInt8(utf8.count)] + utf8
    }

    /// BINUNICODE of the Latin-1 characters `codePoints`, in UTF-8.
    private mutating func unicode(_ codePoints: [UInt8]) {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(codePoints.count * 2)
        for point in codePoints {
            if point < 0x80 {
                utf8.append(point)
            } else {
                utf8 += [0xc0 | (point >> 6), 0x80 | (point & 0x3f)]
            }
        }
        let length = UInt32(utf8.count)
        bytes += [UInt8(ascii: "X")] + (0..<4).map { UInt8(truncatingIfNeeded: length >> UInt32(8 * $0)) } + utf8
    }
}

// Embedding.swift: what a network's last hidden layer makes of the images,
// projected to two dimensions.
//
// The penultimate layer's activations are the features the softmax
// separates; projected on their first two principal components they show
// which classes the network keeps apart and which it mixes, the picture
// `cnn embed` draws.  The activations come from the evaluation pass itself
// (no dropout, the last layer's input as it is multiplied), and the
// components from LAPACKE through CKernels (principal_components.c).

import CKernels

/// Why principal components cannot be computed; one line each.
public enum PrincipalComponentsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `values` values are not a whole number of rows of `dimensions`, or `dimensions` is not positive.
    case badShape(values: Int, dimensions: Int)
    /// Fewer than two rows: there is no variance to follow.
    case tooFewRows(Int)
    /// More components were asked for than the rows have dimensions.
    case tooManyComponents(Int, dimensions: Int)
    /// A value is NaN or infinite.
    case notFinite(index: Int)
    /// LAPACK's eigensolver failed (its info code).
    case eigensolverFailed(info: Int32)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case let .badShape(values, dimensions):
            return "\(values) values are not a whole number of rows of \(dimensions)"
        case .tooFewRows(let rows): return "\(rows) rows; principal components need at least 2"
        case let .tooManyComponents(count, dimensions):
            return "\(count) components asked of rows of \(dimensions) values; at most \(dimensions)"
        case .notFinite(let index): return "value \(index) is not finite"
        case .eigensolverFailed(let info): return "LAPACK's eigensolver (ssyevd) failed with info \(info)"
        }
    }
}

/// The leading principal components of a set of rows.
///
/// ```swift
/// let features = try network.penultimateActivations(on: mnist.test)
/// let pca = try PrincipalComponents(rows: features, dimensions: network.penultimateWidth)
/// let points = pca.project(features)      // two values per image
/// print(pca.explainedVariance)            // e.g. [0.31, 0.17]
/// ```
public struct PrincipalComponents: Sendable {
    /// Values per row.
    public let dimensions: Int
    /// The rows' mean, which projection subtracts first.
    public let mean: [Float]
    /// The components, largest variance first: unit vectors of `dimensions` values.
    public let components: [[Float]]
    /// Each component's sample variance (divided by rows - 1).
    public let variances: [Float]
    /// The share of all the rows' variance each component carries.
    public let explainedVariance: [Float]

    /// The `count` leading components of `rows`, laid out row after row.
    /// - Throws: `PrincipalComponentsError` for a shape that does not divide, fewer than two
    ///   rows, more components than dimensions, or a value that is not finite.
    public init(rows: [Float], dimensions: Int, count: Int = 2) throws {
        guard dimensions > 0, rows.count % dimensions == 0 else {
            throw PrincipalComponentsError.badShape(values: rows.count, dimensions: dimensions)
        }
        let n = rows.count / dimensions
        guard n >= 2 else { throw PrincipalComponentsError.tooFewRows(n) }
        guard count >= 1, count <= dimensions else { throw PrincipalComponentsError.tooManyComponents(count, dimensions: dimensions) }
        if let index = rows.firstIndex(where: { !$0.isFinite }) { throw PrincipalComponentsError.notFinite(index: index) }
        var components = [Float](repeating: 0, count: count * dimensions)
        var variances = [Float](repeating: 0, count: count)
        var mean = [Float](repeating: 0, count: dimensions)
        var scratch = [Float](repeating: 0, count: ck_principal_components_scratch_floats(Int32(n), Int32(dimensions)))
        let info = ck_principal_components(&components, &variances, &mean, &scratch, rows, Int32(n), Int32(dimensions), Int32(count))
        guard info == 0 else { throw PrincipalComponentsError.eigensolverFailed(info: info) }
        // The total variance is the covariance's trace: each dimension's own variance.
        var total = 0.0
        for column in 0..<dimensions {
            var sum = 0.0
            for row in 0..<n {
                let centred = Double(rows[row * dimensions + column] - mean[column])
                sum += centred * centred
            }
            total += sum / Double(n - 1)
        }
        self.dimensions = dimensions
        self.mean = mean
        self.components = (0..<count).map { Array(components[($0 * dimensions)..<(($0 + 1) * dimensions)]) }
        self.variances = variances
        explainedVariance = variances.map { total > 0 ? Float(Double($0) / total) : 0 }
    }

    /// Each row's coordinates on the components: `components.count` values per row.
    /// Rows must have `dimensions` values each (a trailing partial row is ignored).
    public func project(_ rows: [Float]) -> [Float] {
        let n = rows.count / dimensions
        var out = [Float](repeating: 0, count: n * components.count)
        for row in 0..<n {
            for (index, component) in components.enumerated() {
                var dot: Float = 0
                for column in 0..<dimensions {
                    dot += (rows[row * dimensions + column] - mean[column]) * component[column]
                }
                out[row * components.count + index] = dot
            }
        }
        return out
    }
}

extension Network {
    /// Values per image the last layer takes: the penultimate layer's width.
    public var penultimateWidth: Int { layers[layers.count - 1].inputShape.count }

    /// The penultimate layer's activations for every image of `data` (`penultimateWidth`
    /// values per image, in order), as the last layer receives them at evaluation.
    /// - Throws: `NetworkInputError` if the images do not fit the network's input.
    public func penultimateActivations(on data: Dataset) throws -> [Float] {
        try evaluationRows(on: data, width: penultimateWidth) { scheduler.lastLayerInput }
    }
}

// LayerRunner.swift: the executable form of a layer.
//
// A Layer is a description; a runner owns the buffers one layer needs for a
// mini-batch of up to `capacity` samples and calls the C kernels.  forward
// fills `output`; backward reads `outputGradient` (written by the next
// layer), accumulates the layer's parameter gradients, and, when asked,
// writes the gradient with respect to its input.

/// Where one layer's parameters and their gradients live inside the
/// network's single parameter block.
struct ParameterViews {
    let weights: UnsafeMutablePointer<Float>
    let biases: UnsafeMutablePointer<Float>
    let weightGradients: UnsafeMutablePointer<Float>
    let biasGradients: UnsafeMutablePointer<Float>
}

/// What a forward pass needs beyond its input.
struct PassContext {
    /// Training applies dropout; evaluation scales by the keep probability.
    let training: Bool
    /// One dropout key per layer for this mini-batch, drawn by the network
    /// in layer order (unused entries are 0).
    let dropoutKeys: UnsafePointer<UInt64>
    /// Position of this pass's first sample within the whole mini-batch, so
    /// that a batch split across threads draws the same masks as one thread.
    let firstSample: Int
}

protocol LayerRunner: AnyObject {
    /// The layer's output for the last forward pass, (batch, outputShape).
    var output: UnsafeMutablePointer<Float> { get }
    /// d cost / d output, filled by the next layer (or the cost) before backward.
    var outputGradient: FloatBuffer { get }

    /// Computes `output` from `input`.
    func forward(_ input: UnsafePointer<Float>, batch: Int, context: PassContext)

    /// Accumulates parameter gradients and, if `inputGradient` is non-nil,
    /// overwrites it with d cost / d input.  Must follow a training forward
    /// pass on the same input.
    func backward(_ input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, batch: Int)
}

/// Runners a layer kind knows how to build.
protocol RunnableLayer: LayerKind {
    func makeRunner(capacity: Int, parameters: ParameterViews, index: Int) -> LayerRunner
}

extension LayerKind {
    /// Conv and pool layers, which keep an image's shape and run
    /// data-parallel; they come before the dense layers.
    var isSpatial: Bool { placement == .spatial }
}

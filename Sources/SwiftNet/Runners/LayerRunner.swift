// LayerRunner.swift: the executable forms of a layer, and what they are given.
//
// A Layer is a description; the engine runs it in one of two forms, which
// its kind builds (RunnableLayer).  A spatial layer's LayerRunner owns the
// buffers one thread needs for its share of a pass (up to `capacity`
// samples): forward fills `output`; backward reads `outputGradient`
// (written by the next layer), accumulates the layer's parameter gradients
// into that thread's gradient block and, when asked, writes the gradient
// with respect to its input.  A dense layer's DenseSuffixStage works on the
// whole mini-batch, its rows optionally split across threads, with its
// update fused into backward.  PassContext, LayerResources and
// DenseStageSetup are what the scheduler hands them.  A runner that must
// combine every part's values mid-pass (batch norm) is a CombiningRunner,
// whose halves the scheduler runs a phase apart: no runner waits for others.

import CKernels

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
    /// Samples in the whole pass, over every part.
    var totalBatch: Int
    /// This part of the pass (not a thread: any thread may run any part), and how many parts share it.
    var part = 0
    var parts = 1
    /// A group member's training pass (totalBatch is then the global mini-batch's); nil otherwise.
    var group: GroupPass? = nil
}

/// What every part's runner of one layer shares: the layer's place in the
/// network, its state (running statistics), and scratch the kind keeps for
/// combining values across parts.
struct LayerResources {
    let index: Int
    let state: UnsafeMutablePointer<Float>
    let parts: Int
    let shared: AnyObject?
}

/// Where a dense-suffix stage finds its input and parameters.
struct DenseStageSetup {
    let index: Int
    let input: UnsafeMutablePointer<Float>
    let weights: UnsafeMutablePointer<Float>
    let biases: UnsafeMutablePointer<Float>
    let weightVelocity: UnsafeMutablePointer<Float>
    let biasVelocity: UnsafeMutablePointer<Float>
    /// Where the reference path (gradients without an update) writes them.
    let weightGradients: UnsafeMutablePointer<Float>
    let biasGradients: UnsafeMutablePointer<Float>
    let capacity: Int
    /// Parts of the team available to split the layer's rows.
    let parts: Int
    let resources: LayerResources
}

/// One layer of the dense suffix, run by the StepScheduler on the
/// whole mini-batch: a split stage's parallel phases take `part` and its
/// rows; the serial phases run on part 0.
protocol DenseSuffixStage: AnyObject {
    var index: Int { get }
    var nIn: Int { get }
    var nOut: Int { get }
    var isSplit: Bool { get }
    /// The stage's output for the whole pass (capacity x nOut).
    var output: FloatBuffer { get }
    /// d cost / d input for the whole pass (capacity x nIn).
    var inputGradient: FloatBuffer { get }
    /// A part's rows of the forward pass; `firstSample` is the pass's first sample's position
    /// in the global mini-batch (nonzero for a group member's share), which keys dropout masks.
    func forwardPartial(part: Int, rows: Range<Int>, batch: Int, firstSample: Int, training: Bool, key: UInt64)
    /// Serial: finishes the forward pass; returns the mean cost for the cost layer, else 0.
    func finishForward(batch: Int, labels: UnsafePointer<Int32>?) -> Float
    /// Serial: the gradients the rows need, and the updates done whole (or,
    /// without a rule, the reference path's gradients of those parameters).
    func startBackward(batch: Int, labels: UnsafePointer<Int32>, outputGradient: UnsafePointer<Float>?, rule: UpdateRule?)
    /// A part's rows: the input gradient's columns and the fused update.
    func backwardAndUpdate(part: Int, rows: Range<Int>, batch: Int, wantInputGradient: Bool, rule: UpdateRule)
    /// The reference path, serial: the rest of the gradients, no update.
    func backwardGradients(batch: Int, wantInputGradient: Bool)
    /// The group of the passes to come (a group member's gradient program), or nil.
    func use(_ group: GroupPass?)
}

extension DenseSuffixStage {
    func use(_ group: GroupPass?) {}
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

/// A spatial runner whose training pass needs every part's values at one
/// point: batch norm normalizes with the statistics of the whole mini-batch.
/// The scheduler runs its training forward and its backward in two halves
/// each, a phase apart, so every part's first half is done before any part's
/// second: `forwardSums` then (next phase) `forward`, and `backwardSums` then
/// `backward`.  Evaluation's `forward` needs no sums and runs whole.
protocol CombiningRunner: LayerRunner {
    /// Training forward's first half: this part's sums, into the slots every part shares.
    func forwardSums(_ input: UnsafePointer<Float>, batch: Int, context: PassContext)
    /// Backward's first half: this part's sums of the output gradient.
    func backwardSums(batch: Int)
    /// A group member's pass, between the halves (once, on one part): the sums of the
    /// forward (`backward` false) or backward half of the first `filled` of `parts`
    /// parts (those with samples) made the group's.
    func shareSums(filled: Int, parts: Int, backward: Bool, group: GroupPass)
}

/// Runners a layer kind knows how to build.
protocol RunnableLayer: LayerKind {
    /// A runner for one part's share of a pass (the spatial prefix, and every
    /// layer of the single-part reference path).
    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner?
    /// The layer's stage in the dense suffix; nil for kinds placed only in the spatial prefix.
    func makeDenseStage(_ setup: DenseStageSetup) -> (any DenseSuffixStage)?
    /// What every part's runner of this layer shares, if anything.
    func makeShared(parts: Int) -> AnyObject?
    /// Adds to `tally` what `makeRunner` (in each of `replicas` parts, for a
    /// spatial layer) or `makeDenseStage` (once, `replicas` 1) and
    /// `makeShared` will allocate, for passes of `capacity` samples split in `parts`.
    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int)
}

extension RunnableLayer {
    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner? { nil }
    func makeDenseStage(_ setup: DenseStageSetup) -> (any DenseSuffixStage)? { nil }
    func makeShared(parts: Int) -> AnyObject? { nil }
}

extension LayerKind {
    /// Conv and pool layers, which keep an image's shape and run
    /// data-parallel; they come before the dense layers.
    var isSpatial: Bool { placement == .spatial }
}

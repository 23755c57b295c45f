// Replica.swift: one part's private copy of the spatial prefix.
//
// A mini-batch is split into parts (one per --threads); each part runs its
// share of the samples through the spatial layers (conv, pool, batch norm)
// of its own replica: its own runners (activation buffers, argmax indices),
// its own input and label buffers, and its own gradient block, laid out
// like the parameters.  Whichever thread runs a part uses that part's
// replica.  All replicas read the one shared parameter block.  The
// scheduler combines the gradient blocks in replica order, so the result
// does not depend on which thread finished first, or ran which part.  A
// training pass goes through the layers in segments split at batch-norm
// layers (forwardSegment, backwardSegment), one phase each.  The dense layers that
// follow run once, on the whole mini-batch (DenseSuffixStage).

import CKernels

final class Replica {
    /// One runner per spatial layer, first to last.
    let runners: [LayerRunner]
    let input: FloatBuffer
    let labels: AlignedBuffer<Int32>
    let gradientBlock: FloatBuffer
    let capacity: Int
    private let sampleSize: Int
    /// The elastic distortion's fields (ck_augment_image).
    private let augmentationScratch: FloatBuffer

    /// - Parameters:
    ///   - layers: the network's spatial prefix (its layers before the first dense one).
    ///   - capacity: the most samples one pass will hold.
    ///   - parameterBlock: the shared parameters, weights first, then biases.
    ///   - weightCount: where the biases start in `parameterBlock`.
    ///   - sampleSize: values in one input sample.
    init(layers: [any RunnableLayer], sampleSize: Int, capacity: Int, parameterBlock: FloatBuffer, weightCount: Int,
         resources: [LayerResources]) {
        self.capacity = capacity
        gradientBlock = FloatBuffer(count: parameterBlock.count)
        var weightOffset = 0
        var biasOffset = weightCount
        var runners: [LayerRunner] = []
        for (index, layer) in layers.enumerated() {
            let views = ParameterViews(
                weights: parameterBlock.pointer + weightOffset, biases: parameterBlock.pointer + biasOffset,
                weightGradients: gradientBlock.pointer + weightOffset, biasGradients: gradientBlock.pointer + biasOffset)
            guard let runner = layer.makeRunner(capacity: capacity, parameters: views, resources: resources[index]) else {
                preconditionFailure("\(layer.summary) is placed in the spatial prefix but has no runner")
            }
            runners.append(runner)
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        self.runners = runners
        self.sampleSize = sampleSize
        // Any dataset that fits the input has height x width <= its values per sample.
        augmentationScratch = FloatBuffer(count: ck_augment_scratch_floats(1, Int32(sampleSize)))
        input = FloatBuffer(count: capacity * sampleSize)
        labels = AlignedBuffer(count: capacity, zeroedWith: 0)
    }

    /// Copies `batch` samples of `values` (floats, `sampleSize` each) from
    /// sample `start` into the input buffer; the labels are unknown (0).
    func load(values: UnsafePointer<Float>, start: Int, batch: Int) {
        input.pointer.update(from: values + start * sampleSize, count: batch * sampleSize)
        labels.zero(first: batch, with: 0)
    }

    /// Copies `batch` samples of `data` from `start` into the input buffer,
    /// bytes to floats (value / 256, the seed's pixels).  With a plan,
    /// positions are those of the plan's epoch (shuffled, expanded).
    func load(_ data: Dataset, start: Int, batch: Int, plan: EpochPlan? = nil) {
        // Network and the training loop check the data's image size before any pass.
        if let plan, !plan.isFileOrder {
            load(data, start: start, batch: batch, following: plan)
            return
        }
        data.pixels.withUnsafeBufferPointer { pixels in
            ck_u8_to_float(input.pointer, pixels.baseAddress! + start * sampleSize, 1.0 / 256.0, batch * sampleSize)
        }
        data.labels.withUnsafeBufferPointer { source in
            labels.pointer.update(from: source.baseAddress! + start, count: batch)
        }
    }

    private func load(_ data: Dataset, start: Int, batch: Int, following plan: EpochPlan) {
        precondition(plan.augmentation == nil
                         || ck_augment_scratch_floats(Int32(data.height), Int32(data.width)) <= augmentationScratch.count,
                     "the augmentation scratch is too small for \(data.height)x\(data.width) images")
        data.pixels.withUnsafeBufferPointer { pixels in
            for index in 0..<batch {
                let (image, shift) = plan.sample(at: start + index)
                let source = pixels.baseAddress! + image * sampleSize
                let destination = input.pointer + index * sampleSize
                if let augmentation = plan.augmentation {
                    let (dy, dx) = EpochPlan.shifts[shift]
                    ck_augment_image(destination, source, 1.0 / 256.0, Int32(data.channels), Int32(data.height),
                                     Int32(data.width), plan.augmentationKey(at: start + index), Float(dy), Float(dx),
                                     augmentation.maxShift, augmentation.maxRotationDegrees, augmentation.elasticAlpha,
                                     augmentation.elasticSigma, augmentationScratch.pointer)
                } else if shift == 0 {
                    ck_u8_to_float(destination, source, 1.0 / 256.0, sampleSize)
                } else {
                    let (dy, dx) = EpochPlan.shifts[shift]
                    ck_u8_to_float_shifted(destination, source, 1.0 / 256.0, Int32(data.channels), Int32(data.height),
                                           Int32(data.width), Int32(dy), Int32(dx))
                }
                labels.pointer[index] = data.labels[image]
            }
        }
    }

    /// Runs only the first `layerCount` layers forward (the convolutional
    /// prefix of a model-parallel step); returns the last one's output.
    func forward(firstLayers layerCount: Int, batch: Int, context: PassContext) -> UnsafeMutablePointer<Float> {
        var current = UnsafePointer(input.pointer)
        for runner in runners.prefix(layerCount) {
            runner.forward(current, batch: batch, context: context)
            current = UnsafePointer(runner.output)
        }
        return UnsafeMutablePointer(mutating: current)
    }

    /// The input of runner `index`: the replica's input, or the runner before's output.
    private func input(of index: Int) -> UnsafePointer<Float> {
        index == 0 ? UnsafePointer(input.pointer) : UnsafePointer(runners[index - 1].output)
    }

    /// Training forward segment `segment` of the first `layerCount` layers, split at the
    /// `combining` runners' positions: the previous combining runner's second half, the layers
    /// up to the next, and that one's first half (`forwardSums`).  Every part runs segment k
    /// before any part runs k + 1; the last segment leaves the prefix's output in place.
    func forwardSegment(_ segment: Int, firstLayers layerCount: Int, combining: [Int], batch: Int, context: PassContext) {
        let start = segment == 0 ? 0 : combining[segment - 1]
        let end = segment < combining.count ? combining[segment] : layerCount
        for index in start..<end { runners[index].forward(input(of: index), batch: batch, context: context) }
        if segment < combining.count {
            (runners[end] as! any CombiningRunner).forwardSums(input(of: end), batch: batch, context: context)
        }
    }

    /// Backward segment `segment` (0 first, from the gradient already in layer `layerCount - 1`'s
    /// outputGradient), the mirror of `forwardSegment`: the combining runner above's second
    /// half, the layers down to the next one, and that one's `backwardSums`.  Segment 0 first
    /// clears only `zeroRanges` of the gradient block (these layers' parameters); the rest
    /// belongs to layers updated elsewhere.
    func backwardSegment(_ segment: Int, firstLayers layerCount: Int, combining: [Int], batch: Int, zeroRanges: [Range<Int>]) {
        if segment == 0 {
            for range in zeroRanges { (gradientBlock.pointer + range.lowerBound).update(repeating: 0, count: range.count) }
        }
        let count = combining.count
        let top = segment == 0 ? layerCount - 1 : combining[count - segment]
        let below = segment < count ? combining[count - 1 - segment] : -1
        for index in stride(from: top, to: below, by: -1) {
            runners[index].backward(input(of: index), inputGradient: index == 0 ? nil : runners[index - 1].outputGradient.pointer,
                                    batch: batch)
        }
        if segment < count { (runners[below] as! any CombiningRunner).backwardSums(batch: batch) }
    }

    /// Positions of the combining runners (batch norm) among the first `layerCount`.
    func combiningPositions(firstLayers layerCount: Int) -> [Int] {
        runners.prefix(layerCount).indices.filter { runners[$0] is any CombiningRunner }
    }
}

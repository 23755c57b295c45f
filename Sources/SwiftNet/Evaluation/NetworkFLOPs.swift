// NetworkFLOPs.swift: the arithmetic a network's step does, for `cnn bench`'s "of peak".
//
// Counts the multiply-adds of the products (convolutions and dense
// layers), 2 FLOPs each, per sample: a forward pass does each layer's
// once; a training step adds the weight gradient (the same count again)
// and the input gradient (again), except for the first layer with
// weights, whose input gradient nobody needs.  Pooling, batch norm,
// activations, dropout and the update are left out: they are a few per
// cent of the products at these shapes, so the rate is a slight
// underestimate of the work done.  `cnn bench` divides these by the epoch's
// time and compares the rate with ck_fma_peak_gflops on as many threads.

/// FLOPs of a network's products per sample (package access: `cnn bench` reads them).
package enum NetworkFLOPs {
    /// Multiply-adds of one sample through `layer`'s product, or 0 for a layer without one.
    package static func multiplyAdds(_ layer: any Layer) -> Double {
        if let conv = layer as? ConvLayer {
            let f = conv.filterShape, out = conv.outputShape
            return Double(f.filters * f.channels * f.height * f.width) * Double(out.height * out.width)
        }
        if let conv = layer as? ConvPoolLayer {
            let f = conv.filterShape, image = conv.imageShape
            let positions = (image.height - f.height + 1) * (image.width - f.width + 1)
            return Double(f.filters * f.channels * f.height * f.width) * Double(positions)
        }
        if let dense = layer as? FullyConnectedLayer { return Double(dense.nIn * dense.nOut) }
        if let softmax = layer as? SoftmaxLayer { return Double(softmax.nIn * softmax.nOut) }
        return 0
    }

    /// FLOPs per sample of an evaluation pass and of a training step.
    package static func perSample(_ layers: [any Layer]) -> (forward: Double, training: Double) {
        let counts = layers.map(multiplyAdds)
        let forward = 2 * counts.reduce(0, +)
        let firstWithProduct = counts.firstIndex { $0 > 0 }
        let inputGradients = 2 * counts.enumerated().reduce(0) { $0 + ($1.offset == firstWithProduct ? 0 : $1.element) }
        return (forward, forward + forward + inputGradients)
    }
}

// FiniteDifferenceSupport.swift: a whole network's backward against central
// finite differences of its cost, for NetworkGradientTests and
// BatchNormNetworkTests.
//
// The network's reference path (`forward`/`backward` on the batch that
// `loadBatch` loaded) gives the analytic gradient; every parameter is then
// nudged by +-eps and the cost recomputed with the same dropout masks (the
// generator state is restored before each pass).  Max-pooling is
// piecewise: a finite difference is only valid when both nudged passes pick
// the same window maxima as the unperturbed one, so parameters whose nudge
// crosses a kink are skipped and counted, not compared.

@testable import SwiftNet

struct FiniteDifferenceCheck {
    /// The backward pass's gradient.
    var analytic: [Float] = []
    /// "parameter i: backward a, finite difference n" for each disagreement.
    var failures: [String] = []
    /// Parameters whose nudge crossed a pooling kink.
    var skipped = 0

    /// With eps = 1e-3, float32 rounding of the cost (about 3e-7 absolute for
    /// a cost near 2) contributes about 1.5e-4 to the quotient and the O(eps^2)
    /// truncation error far less; the tolerance, 1e-3 of the largest gradient
    /// plus 2% of the value, covers both with margin.
    init(network: Network, batch: Int, eps: Float = 1e-3) {
        let savedRandom = network.random
        func poolingPattern() -> [Int32] {
            network.replicas[0].runners.flatMap { runner -> [Int32] in
                if let pool = runner as? MaxPoolRunner { return Array(pool.argmax.buffer) }
                return (runner as? ConvPoolRunner).map { Array($0.argmax.buffer) } ?? []
            }
        }
        func cost() -> Double {
            network.random = savedRandom
            return Double(network.forward(batch: batch, training: true))
        }
        _ = cost()
        let pattern = poolingPattern()
        network.backward(batch: batch)
        analytic = Array(network.gradients)
        let largest = analytic.map { abs(Double($0)) }.max() ?? 0
        for index in 0..<network.parameters.count {
            let original = network.parameters[index]
            network.parameters[index] = original + eps
            let plus = cost(), plusPattern = poolingPattern()
            network.parameters[index] = original - eps
            let minus = cost(), minusPattern = poolingPattern()
            network.parameters[index] = original
            if plusPattern != pattern || minusPattern != pattern {
                skipped += 1
                continue
            }
            let numeric = (plus - minus) / (2 * Double(eps))
            if abs(numeric - Double(analytic[index])) > 1e-3 * largest + 2e-2 * abs(numeric) {
                failures.append("parameter \(index): backward \(analytic[index]), finite difference \(numeric)")
            }
        }
    }
}

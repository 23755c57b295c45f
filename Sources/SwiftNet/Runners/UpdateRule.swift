// UpdateRule.swift: how one training step moves the parameters, in one place.
//
// The seed's rule is plain SGD with L2: p -= eta * (g + weightDecay * p).
// With momentum mu every parameter also has a velocity, v = mu * v + d
// with d = g + weightDecay * p, and the step is p -= eta * v, or, for
// Nesterov momentum, p -= eta * (d + mu * v) (PyTorch's formulation).  The
// kernels (ck_sgd_update and the fused dense backward) take the velocity
// pointer, or NULL for the seed's rule, which then stays bit for bit what
// it was.  Every update of a training step goes through the two methods
// below, except the dense layers' weights: their fused backward kernel
// (ck_linear_backward_update_rows) applies this same rule, from this
// value's fields, as it computes each row's gradient.

import CKernels

/// The step of one mini-batch, as the update kernels need it.
struct UpdateRule {
    var eta: Float
    /// lmbda / mini-batches per epoch for weights (biases use 0).
    var weightDecay: Float
    /// 0 for the seed's plain SGD.
    var momentum: Float
    var nesterov: Bool

    /// The velocity to pass a kernel: nil (plain SGD) without momentum.
    func velocity(_ pointer: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float>? {
        momentum > 0 ? pointer : nil
    }

    var nesterovFlag: Int32 { nesterov ? 1 : 0 }

    /// p -= eta * (g + decay * p), through the velocity with momentum; biases, gamma and beta are not decayed.
    func update(_ parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                velocity: UnsafeMutablePointer<Float>, count: Int, decayed: Bool) {
        ck_sgd_update(parameters, gradients, eta, decayed ? weightDecay : 0, self.velocity(velocity), momentum,
                      nesterovFlag, count)
    }

    /// The same with the gradient summed over every part's gradient block, in part order.
    func update(_ parameters: UnsafeMutablePointer<Float>, summing sources: UnsafePointer<UnsafePointer<Float>?>,
                weights: UnsafePointer<Float>, parts: Int, velocity: UnsafeMutablePointer<Float>, count: Int, decayed: Bool) {
        ck_sgd_update_combined(parameters, sources, weights, Int32(parts), eta, decayed ? weightDecay : 0,
                               self.velocity(velocity), momentum, nesterovFlag, count)
    }
}

// UpdateRule.swift: how one training step moves the parameters.
//
// The seed's rule is plain SGD with L2: p -= eta * (g + weightDecay * p).
// With momentum mu every parameter also has a velocity, v = mu * v + d
// with d = g + weightDecay * p, and the step is p -= eta * v, or, for
// Nesterov momentum, p -= eta * (d + mu * v) (PyTorch's formulation).  The
// kernels (ck_sgd_update and the fused dense backward) take the velocity
// pointer, or NULL for the seed's rule, which then stays bit for bit what
// it was.

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
}

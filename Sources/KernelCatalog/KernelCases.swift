// KernelCases.swift: every C kernel at the shapes SwiftNet trains, each
// with its scalar oracle and the buffers it writes: the one list that
// `cnn bench-kernels` and the package-benchmark targets in Benchmarks/ time.
//
// A case is one call at one shape.  `validate` runs the fast kernel and
// the oracle from the same starting buffers and returns their largest
// difference on the scale of the result, so a benchmark can refuse to time
// a kernel that computes the wrong thing.  The shapes are the seed's two
// conv-pool layers and dense layers, and the book network's two 1000-wide
// dense layers, at the caller's mini-batch size.

import CKernels

/// Floats in [-0.5, 0.5) from a fixed seed, alive as long as the closures using them.
final class KernelBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int, random: inout UInt64) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        for index in 0..<count {
            // xorshift64*: enough for benchmark inputs.
            random ^= random >> 12; random ^= random << 25; random ^= random >> 27
            let bits = (random &* 2_685_821_657_736_338_717) >> 40
            pointer[index] = Float(bits) / Float(1 << 24) - 0.5
        }
    }
    deinit { pointer.deallocate() }
    var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    func restore(_ values: [Float]) { pointer.update(from: values, count: count) }
}

/// Int32s (argmax, labels) that live as long as the closures using them.
final class IndexBuffer {
    let pointer: UnsafeMutablePointer<Int32>
    init(_ count: Int) {
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }
    deinit { pointer.deallocate() }
}

/// One kernel call, its oracle, its arithmetic and what it writes.
public struct KernelCase {
    public let name: String
    /// Floating-point operations per call (0 where counting them means nothing).
    public let flops: Double
    /// Buffers the call writes, or adds to, or updates in place.
    let outputs: [KernelBuffer]
    /// The call as SwiftNet makes it (the vector variant and GEMM in use).
    public let fast: () -> Void
    /// The plain scalar oracle of the same call.
    public let reference: () -> Void
    /// Runs before each validation run (a pool's backward needs the forward's argmax).
    var prepare: () -> Void = {}
    /// False for a forward call with its path forced: its oracle is the row
    /// above's, so timing it again would only repeat that figure.
    public var timesReference = true

    /// The largest |fast - reference| over the outputs, divided by the
    /// largest |reference| (at least 1), each run from the same buffers.
    public func validate() -> Float {
        let start = outputs.map(\.values)
        func run(_ body: () -> Void) -> [[Float]] {
            for (buffer, values) in zip(outputs, start) { buffer.restore(values) }
            prepare()
            body()
            return outputs.map(\.values)
        }
        let got = run(fast), want = run(reference)
        for (buffer, values) in zip(outputs, start) { buffer.restore(values) }
        var worst: Float = 0
        for (g, w) in zip(got, want) {
            let scale = max(1, w.map(abs).max() ?? 0)
            for (a, b) in zip(g, w) {
                let difference = abs(a - b) / scale
                if !(difference <= worst) { worst = difference.isNaN ? .infinity : difference }
            }
        }
        return worst
    }
}

public enum KernelCases {
    /// Values the cases allocate per sample of the mini-batch, and besides
    /// (weights), at most: bounds with room to spare for a memory check.
    public static let valuesPerSample = 1 << 17, fixedValues = 1 << 23
    /// The most values in one buffer per sample (the first conv's output is
    /// 11,520); the kernels take sizes as C ints.
    public static let largestBufferPerSample = 1 << 14

    /// The cases, at mini-batch `b`; their buffers live as long as the cases.
    public static func all(batch b: Int) -> [KernelCase] {
        var random: UInt64 = 0x5EED_0001
        func buffer(_ count: Int) -> KernelBuffer { KernelBuffer(count, random: &random) }
        let B = Int32(b)
        var cases: [KernelCase] = []

        // The seed's conv layers: (C, H, W, OC, K).
        for (c, h, w, oc, k) in [(1, 28, 28, 20, 5), (20, 12, 12, 40, 5)] {
            let oh = h - k + 1, ow = w - k + 1
            let x = buffer(b * c * h * w), weight = buffer(oc * c * k * k), out = buffer(b * oc * oh * ow)
            let dout = buffer(b * oc * oh * ow), dweight = buffer(oc * c * k * k), dx = buffer(b * c * h * w)
            let workspace = buffer(Int(ck_conv2d_workspace_floats(Int32(c), Int32(h), Int32(w), Int32(oc), Int32(k), Int32(k))))
            let flops = 2.0 * Double(b * oc * oh * ow * c * k * k)
            let shape = "\(c)x\(h)x\(w)->\(oc)x\(oh)x\(ow)"
            let (C, H, W, OC, K) = (Int32(c), Int32(h), Int32(w), Int32(oc), Int32(k))
            let reference = { ck_conv2d_forward_ref(out.pointer, x.pointer, weight.pointer, nil, B, C, H, W, OC, K, K) }
            for (label, path) in [("", CK_FORWARD_AUTO), (" packed", CK_FORWARD_PACKED), (" gemm", CK_FORWARD_GEMM),
                                  (" direct", CK_FORWARD_DIRECT)] {
                cases.append(KernelCase(name: "conv2d forward\(label) \(shape)", flops: flops, outputs: [out],
                    fast: forcingForwardPath(path) {
                        ck_conv2d_forward(out.pointer, workspace.pointer, x.pointer, weight.pointer, nil, B, C, H, W, OC, K, K)
                    }, reference: reference, timesReference: path == CK_FORWARD_AUTO))
            }
            let wantInput = c > 1
            cases.append(KernelCase(name: "conv2d backward \(shape)\(wantInput ? " +dx" : "")", flops: flops * (wantInput ? 2 : 1),
                outputs: [dweight, dx],
                fast: { ck_conv2d_backward(wantInput ? dx.pointer : nil, dweight.pointer, nil, workspace.pointer, dout.pointer,
                                           x.pointer, weight.pointer, B, C, H, W, OC, K, K) },
                reference: { ck_conv2d_backward_ref(wantInput ? dx.pointer : nil, dweight.pointer, nil, dout.pointer, x.pointer,
                                                    weight.pointer, B, C, H, W, OC, K, K) }))
        }

        // Max-pool 2x2 over the first conv layer's output.
        let poolInput = buffer(b * 20 * 24 * 24), pooled = buffer(b * 20 * 144), dPooled = buffer(b * 20 * 144)
        let dPoolInput = buffer(b * 20 * 24 * 24)
        let argmaxBuffer = IndexBuffer(b * 20 * 144)
        let poolForward = { ck_maxpool2d_forward(pooled.pointer, argmaxBuffer.pointer, poolInput.pointer, B, 20, 24, 24, 2, 2) }
        cases.append(KernelCase(name: "maxpool2d forward 20x24x24 /2", flops: 0, outputs: [pooled], fast: poolForward,
            reference: { ck_maxpool2d_forward_ref(pooled.pointer, poolInput.pointer, B, 20, 24, 24, 2, 2) }))
        cases.append(KernelCase(name: "maxpool2d backward 20x24x24 /2", flops: 0, outputs: [dPoolInput],
            fast: { ck_maxpool2d_backward(dPoolInput.pointer, dPooled.pointer, argmaxBuffer.pointer, B, 20, 24, 24, 2, 2) },
            reference: { ck_maxpool2d_backward_ref(dPoolInput.pointer, dPooled.pointer, poolInput.pointer, B, 20, 24, 24, 2, 2) },
            prepare: poolForward))

        // Bias and activation: the seed's pooled maps, and a 1000-wide dense layer (S = 1).
        for (c, s, act, label) in [(20, 144, CK_ACT_SIGMOID, "sigmoid 20x12x12"), (1000, 1, CK_ACT_RELU, "relu 1000")] {
            let pre = buffer(b * c * s), bias = buffer(c), activated = buffer(b * c * s)
            let dActivated = buffer(b * c * s), dPre = buffer(b * c * s), dBias = buffer(c)
            let (C, S) = (Int32(c), Int32(s))
            cases.append(KernelCase(name: "bias+\(label) forward", flops: 0, outputs: [activated],
                fast: { ck_bias_activation_forward(activated.pointer, pre.pointer, bias.pointer, B, C, S, act) },
                reference: { ck_bias_activation_forward_ref(activated.pointer, pre.pointer, bias.pointer, B, C, S, act) }))
            cases.append(KernelCase(name: "bias+\(label) backward", flops: 0, outputs: [dPre, dBias],
                fast: { ck_bias_activation_backward(dPre.pointer, dBias.pointer, dActivated.pointer, activated.pointer, B, C, S, act) },
                reference: { ck_bias_activation_backward_ref(dPre.pointer, dBias.pointer, dActivated.pointer, activated.pointer,
                                                             B, C, S, act) }))
        }

        // Dense layers: the seed's, then the book network's.
        for (nIn, nOut) in [(2880, 100), (100, 10), (640, 1000), (1000, 1000)] {
            let x = buffer(b * nIn), weight = buffer(nIn * nOut), out = buffer(b * nOut), dout = buffer(b * nOut)
            let dx = buffer(b * nIn), dweight = buffer(nIn * nOut)
            let scratch = buffer(ck_linear_scratch_floats(B, Int32(nIn), Int32(nOut)))
            let flops = 2.0 * Double(b * nIn * nOut)
            let (IN, OUT) = (Int32(nIn), Int32(nOut))
            let shape = "\(nIn)->\(nOut)"
            let reference = { ck_linear_forward_ref(out.pointer, x.pointer, weight.pointer, 1, B, IN, OUT) }
            for (label, path) in [("", CK_FORWARD_AUTO), (" packed", CK_FORWARD_PACKED), (" gemm", CK_FORWARD_GEMM)] {
                cases.append(KernelCase(name: "linear forward\(label) \(shape)", flops: flops, outputs: [out],
                    fast: forcingForwardPath(path) {
                        ck_linear_forward(out.pointer, scratch.pointer, x.pointer, weight.pointer, 1, B, IN, OUT)
                    }, reference: reference, timesReference: path == CK_FORWARD_AUTO))
            }
            cases.append(KernelCase(name: "linear backward \(shape)", flops: 2 * flops, outputs: [dx, dweight],
                fast: { ck_linear_backward(dx.pointer, dweight.pointer, scratch.pointer, dout.pointer, x.pointer, weight.pointer,
                                           B, IN, OUT) },
                reference: { ck_linear_backward_ref(dx.pointer, dweight.pointer, dout.pointer, x.pointer, weight.pointer, B, IN, OUT) }))
            // The fused step training uses: input gradient, then SGD on the rows, no gradient stored.
            cases.append(KernelCase(name: "linear backward+update \(shape)", flops: 2 * flops, outputs: [dx, weight],
                fast: { ck_linear_backward_update_rows(dx.pointer, weight.pointer, scratch.pointer, dout.pointer, x.pointer, nil,
                                                       B, IN, OUT, 0, IN, 0.01, 1e-5, nil, 0, 0) },
                reference: { ck_linear_backward_update_rows_ref(dx.pointer, weight.pointer, dout.pointer, x.pointer, nil,
                                                                B, IN, OUT, 0, IN, 0.01, 1e-5, nil, 0, 0) }))
        }

        // Softmax with the log-likelihood, and SGD over the seed network's parameters.
        let logits = buffer(b * 10), probabilities = buffer(b * 10), dLogits = buffer(b * 10)
        let labelBuffer = IndexBuffer(b), labels = labelBuffer.pointer
        for index in 0..<b { labels[index] = Int32(index % 10) }
        cases.append(KernelCase(name: "softmax+NLL forward 10", flops: 0, outputs: [probabilities],
            fast: { _ = ck_softmax_loglik_forward(probabilities.pointer, logits.pointer, labelBuffer.pointer, B, 10) },
            reference: { _ = ck_softmax_loglik_forward_ref(probabilities.pointer, logits.pointer, labelBuffer.pointer, B, 10) }))
        cases.append(KernelCase(name: "softmax+NLL backward 10", flops: 0, outputs: [dLogits],
            fast: { ck_softmax_loglik_backward(dLogits.pointer, probabilities.pointer, labelBuffer.pointer, B, 10) },
            reference: { ck_softmax_loglik_backward_ref(dLogits.pointer, probabilities.pointer, labelBuffer.pointer, B, 10) }))
        let parameterCount = 500 + 2880 * 100 + 1000
        let parameters = buffer(parameterCount), gradients = buffer(parameterCount)
        cases.append(KernelCase(name: "sgd update \(parameterCount) parameters", flops: 4.0 * Double(parameterCount),
            outputs: [parameters],
            fast: { ck_sgd_update(parameters.pointer, gradients.pointer, 0.01, 1e-5, nil, 0, 0, parameterCount) },
            reference: { ck_sgd_update_ref(parameters.pointer, gradients.pointer, 0.01, 1e-5, nil, 0, 0, parameterCount) }))
        return cases
    }
}

/// `body` with the forward path forced for the call and the previous choice put back.
private func forcingForwardPath(_ path: ck_forward_path, _ body: @escaping () -> Void) -> () -> Void {
    {
        let previous = ck_forward_path_current()
        ck_forward_path_select(path)
        body()
        ck_forward_path_select(previous)
    }
}

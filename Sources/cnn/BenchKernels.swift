// BenchKernels.swift: `cnn bench-kernels`, the C kernels' microbenchmarks.
//
// Times every kernel at the seed's shapes (one thread, one mini-batch of
// 10) on the vector variant in use, and its plain scalar oracle, and prints
// microseconds, GFLOP/s and the fraction of this machine's peak.  The peak
// is measured in the same run: a large single-threaded SGEMM through
// OpenBLAS, the best this core does in practice.  Each figure is the median
// of 5 timings, each repeating the call for at least 50 ms.  This prints
// figures; it is a benchmark, not a test, and nothing fails on time.

import ArgumentParser
import CKernels
import Foundation
import SwiftNet

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels",
        abstract: "Time each C kernel at the seed's shapes against its scalar reference.")

    @Option(parsing: .unconditional, help: "Mini-batch size of the shapes.")
    var batch: Int = 10

    @OptionGroup var memoryOptions: MemoryOptions

    /// The seed's shapes take about 88,000 values per sample in all, the most
    /// in one buffer 11,520 (the first conv's output): bounds with room to spare.
    static let valuesPerSample = 1 << 17, largestBufferPerSample = 1 << 14
    /// The kernels take sizes as C ints.
    static let maximumBatch = Int(Int32.max) / largestBufferPerSample

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard batch <= Self.maximumBatch else {
            throw ValidationError("--batch must be at most \(Self.maximumBatch), so that every buffer fits the kernels' C ints; got \(batch)")
        }
    }

    func run() throws {
        // Checked here, after every option group has set the budget.
        let (bytes, overflow) = batch.multipliedReportingOverflow(by: Self.valuesPerSample * MemoryLayout<Float>.stride)
        try MemoryBudget.default.check(overflow ? nil : bytes, for: "the kernels' buffers at --batch \(batch)")
        ck_flush_denormals_on_this_thread()
        let peak = measurePeak()
        print("vector variant: \(KernelInfo.isaName), GEMM: \(KernelInfo.gemmName), "
              + "forward path: \(KernelInfo.forwardPathName), one thread")
        print(String(format: "measured peak: %.1f GFLOP/s (1024^3 SGEMM, OpenBLAS, one thread)\n", peak))
        let header = [pad("kernel", 44), pad("fast us", 9, right: true), pad("ref us", 10, right: true),
                      pad("speed-up", 9, right: true), pad("GFLOP/s", 9, right: true), pad("of peak", 8, right: true)]
        print(header.joined())
        for kernel in seedKernels(batch: batch) {
            let fast = time(kernel.fast)
            let reference = kernel.reference.map(time)
            let gflops = kernel.flops > 0 ? kernel.flops / fast / 1e3 : nil
            let columns = [
                pad(kernel.name, 44),
                pad(String(format: "%.1f", fast), 9, right: true),
                pad(reference.map { String(format: "%.1f", $0) } ?? "-", 10, right: true),
                pad(reference.map { String(format: "%.1fx", $0 / fast) } ?? "-", 9, right: true),
                pad(gflops.map { String(format: "%.1f", $0) } ?? "-", 9, right: true),
                pad(gflops.map { String(format: "%.0f%%", 100 * $0 / peak) } ?? "-", 8, right: true),
            ]
            print(columns.joined())
            fflush(nil)
        }
    }

    private func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return right ? fill + text : text + fill
    }

    /// Median microseconds per call.
    private func time(_ body: () -> Void) -> Double {
        body()
        var samples: [Double] = []
        for _ in 0..<5 {
            var calls = 0
            let started = DispatchTime.now().uptimeNanoseconds
            var elapsed: UInt64 = 0
            repeat {
                body()
                calls += 1
                elapsed = DispatchTime.now().uptimeNanoseconds - started
            } while elapsed < 50_000_000
            samples.append(Double(elapsed) / 1e3 / Double(calls))
        }
        return samples.sorted()[2]
    }

    private func measurePeak() -> Double {
        let n = 1024
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        let microseconds = time {
            ck_sgemm_openblas(0, 0, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
        }
        return 2 * Double(n * n * n) / microseconds / 1e3
    }
}

/// One kernel call at one shape, its oracle, and its arithmetic.
private struct KernelCase {
    let name: String
    let flops: Double
    let fast: () -> Void
    let reference: (() -> Void)?
}

/// A buffer of uniform values in [-0.5, 0.5) that lives as long as the closures using it.
private final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    init(_ count: Int, random: inout RandomSource) {
        pointer = .allocate(capacity: count)
        for index in 0..<count { pointer[index] = Float(random.nextUniform()) - 0.5 }
    }
    deinit { pointer.deallocate() }
}

private func seedKernels(batch b: Int) -> [KernelCase] {
    var random = RandomSource(seed: 1)
    func buffer(_ count: Int) -> UnsafeMutablePointer<Float> { keep(Buffer(count, random: &random)).pointer }
    let B = Int32(b)
    var cases: [KernelCase] = []

    // conv layers: (C, H, W, OC, K) of the seed's first and second layer
    for (c, h, w, oc, k) in [(1, 28, 28, 20, 5), (20, 12, 12, 40, 5)] {
        let oh = h - k + 1, ow = w - k + 1
        let x = buffer(b * c * h * w), weight = buffer(oc * c * k * k), out = buffer(b * oc * oh * ow)
        let dout = buffer(b * oc * oh * ow), dweight = buffer(oc * c * k * k), dx = buffer(b * c * h * w)
        let workspace = buffer(Int(ck_conv2d_workspace_floats(Int32(c), Int32(h), Int32(w), Int32(oc), Int32(k), Int32(k))))
        let flops = 2.0 * Double(b * oc * oh * ow * c * k * k)
        let shape = "\(c)x\(h)x\(w) -> \(oc)x\(oh)x\(ow)"
        let args = (Int32(c), Int32(h), Int32(w), Int32(oc), Int32(k))
        let forward = { ck_conv2d_forward(out, workspace, x, weight, nil, B, args.0, args.1, args.2, args.3, args.4, args.4) }
        cases.append(KernelCase(name: "conv2d forward \(shape)", flops: flops, fast: forward,
            reference: { ck_conv2d_forward_ref(out, x, weight, nil, B, args.0, args.1, args.2, args.3, args.4, args.4) }))
        cases += bothForwardPaths(forward, flops: flops)
        let wantInput = c > 1
        cases.append(KernelCase(name: "conv2d backward \(shape)\(wantInput ? " +dx" : "")", flops: flops * (wantInput ? 2 : 1),
            fast: { ck_conv2d_backward(wantInput ? dx : nil, dweight, nil, workspace, dout, x, weight, B, args.0, args.1, args.2, args.3, args.4, args.4) },
            reference: { ck_conv2d_backward_ref(wantInput ? dx : nil, dweight, nil, dout, x, weight, B, args.0, args.1, args.2, args.3, args.4, args.4) }))
    }

    // max-pool 2x2 over the first conv layer's output
    let pooledInput = buffer(b * 20 * 24 * 24), pooled = buffer(b * 20 * 144), dPooled = buffer(b * 20 * 144)
    let dPoolInput = buffer(b * 20 * 24 * 24)
    let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: b * 20 * 144)
    keep(argmax)
    cases.append(KernelCase(name: "maxpool2d forward 20x24x24 /2", flops: 0,
        fast: { ck_maxpool2d_forward(pooled, argmax, pooledInput, B, 20, 24, 24, 2, 2) },
        reference: { ck_maxpool2d_forward_ref(pooled, pooledInput, B, 20, 24, 24, 2, 2) }))
    cases.append(KernelCase(name: "maxpool2d backward 20x24x24 /2", flops: 0,
        fast: { ck_maxpool2d_backward(dPoolInput, dPooled, argmax, B, 20, 24, 24, 2, 2) },
        reference: { ck_maxpool2d_backward_ref(dPoolInput, dPooled, pooledInput, B, 20, 24, 24, 2, 2) }))

    // bias + sigmoid on the pooled features
    let bias = buffer(20), activated = buffer(b * 2880), dActivated = buffer(b * 2880), dPre = buffer(b * 2880), dBias = buffer(20)
    cases.append(KernelCase(name: "bias+sigmoid forward 20x12x12", flops: 0,
        fast: { ck_bias_activation_forward(activated, pooled, bias, B, 20, 144, CK_ACT_SIGMOID) },
        reference: { ck_bias_activation_forward_ref(activated, pooled, bias, B, 20, 144, CK_ACT_SIGMOID) }))
    cases.append(KernelCase(name: "bias+sigmoid backward 20x12x12", flops: 0,
        fast: { ck_bias_activation_backward(dPre, dBias, dActivated, activated, B, 20, 144, CK_ACT_SIGMOID) },
        reference: { ck_bias_activation_backward_ref(dPre, dBias, dActivated, activated, B, 20, 144, CK_ACT_SIGMOID) }))

    // dropout and the dense layers
    let mask = buffer(b * 2880), dropped = buffer(b * 2880)
    var generator = ck_rng()
    ck_rng_seed(&generator, 2)
    cases.append(KernelCase(name: "dropout forward 2880, p 0.3", flops: 0,
        fast: { ck_dropout_forward(dropped, mask, activated, &generator, 0.3, B * 2880) }, reference: nil))
    for (nIn, nOut) in [(2880, 100), (100, 10)] {
        let x = buffer(b * nIn), weight = buffer(nIn * nOut), out = buffer(b * nOut), dout = buffer(b * nOut)
        let dx = buffer(b * nIn), dweight = buffer(nIn * nOut)
        let scratch = buffer(ck_linear_scratch_floats(B, Int32(nIn), Int32(nOut)))
        let flops = 2.0 * Double(b * nIn * nOut)
        let forward = { ck_linear_forward(out, scratch, x, weight, 1, B, Int32(nIn), Int32(nOut)) }
        cases.append(KernelCase(name: "linear forward \(nIn) -> \(nOut)", flops: flops, fast: forward,
            reference: { ck_linear_forward_ref(out, x, weight, 1, B, Int32(nIn), Int32(nOut)) }))
        cases += bothForwardPaths(forward, flops: flops)
        cases.append(KernelCase(name: "linear backward \(nIn) -> \(nOut)", flops: 2 * flops,
            fast: { ck_linear_backward(dx, dweight, scratch, dout, x, weight, B, Int32(nIn), Int32(nOut)) },
            reference: { ck_linear_backward_ref(dx, dweight, dout, x, weight, B, Int32(nIn), Int32(nOut)) }))
        cases.append(KernelCase(name: "linear backward+update \(nIn) -> \(nOut)", flops: 2 * flops,
            fast: { ck_linear_backward_update_rows(dx, weight, scratch, dout, x, nil, B, Int32(nIn), Int32(nOut), 0, Int32(nIn), 0, 0, nil, 0, 0) },
            reference: { ck_linear_backward_update_rows_ref(dx, weight, dout, x, nil, B, Int32(nIn), Int32(nOut), 0, Int32(nIn), 0, 0, nil, 0, 0) }))
    }

    // softmax + log-likelihood, and the update of the whole seed network
    let logits = buffer(b * 10), probabilities = buffer(b * 10), dLogits = buffer(b * 10)
    let labels = UnsafeMutablePointer<Int32>.allocate(capacity: b)
    keep(labels)
    for index in 0..<b { labels[index] = Int32(index % 10) }
    cases.append(KernelCase(name: "softmax+NLL forward 10", flops: 0,
        fast: { _ = ck_softmax_loglik_forward(probabilities, logits, labels, B, 10) },
        reference: { _ = ck_softmax_loglik_forward_ref(probabilities, logits, labels, B, 10) }))
    cases.append(KernelCase(name: "softmax+NLL backward 10", flops: 0,
        fast: { ck_softmax_loglik_backward(dLogits, probabilities, labels, B, 10) },
        reference: { ck_softmax_loglik_backward_ref(dLogits, probabilities, labels, B, 10) }))
    let parameterCount = 500 + 2880 * 100 + 1000
    let parameters = buffer(parameterCount), gradients = buffer(parameterCount)
    cases.append(KernelCase(name: "sgd update \(parameterCount) parameters", flops: 4.0 * Double(parameterCount),
        fast: { ck_sgd_update(parameters, gradients, 0, 0, nil, 0, 0, parameterCount) },
        reference: { ck_sgd_update_ref(parameters, gradients, 0, 0, nil, 0, 0, parameterCount) }))
    return cases
}

/// Keeps benchmark buffers alive for the life of the process.
// The benchmark runs on one thread, so this global needs no lock.
nonisolated(unsafe) private var keptAlive: [AnyObject] = []
@discardableResult
private func keep(_ buffer: Buffer) -> Buffer {
    keptAlive.append(buffer)
    return buffer
}
private func keep<T>(_ pointer: UnsafeMutablePointer<T>) {
    keptAlive.append(PointerOwner(pointer))
}
private final class PointerOwner<T> {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
    deinit { pointer.deallocate() }
}

/// `forward` again under each path that AUTO chooses between (see
/// ck_forward_path), so that the choice can be checked here.
private func bothForwardPaths(_ forward: @escaping () -> Void, flops: Double) -> [KernelCase] {
    [CK_FORWARD_PACKED, CK_FORWARD_GEMM].map { path in
        KernelCase(name: "  the same, \(String(cString: ck_forward_path_name(path))) path", flops: flops,
                   fast: forcingForwardPath(path, forward), reference: nil)
    }
}

/// `body` with the forward path forced for the call, and the previous
/// choice put back after it.
private func forcingForwardPath(_ path: ck_forward_path, _ body: @escaping () -> Void) -> () -> Void {
    {
        let previous = ck_forward_path_current()
        ck_forward_path_select(path)
        body()
        ck_forward_path_select(previous)
    }
}

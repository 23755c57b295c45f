// MemoryTally.swift: what a network will allocate, added up before it allocates any of it.
//
// Network's init asks `Network.memoryTally` for the bytes of every block and
// buffer it is about to make: parameters, velocities and state; each
// replica's gradient block, input, labels and augmentation scratch and its
// spatial layers' runners; the scheduler's features and the dense stages;
// the evaluation buffers.  Each kind adds its runner's or stage's buffers
// (`RunnableLayer.tallyBuffers`, beside the init that allocates them, so the
// two are kept in step).  Every product and sum is overflow-checked: a count
// that overflows makes the total nil, which no budget accepts.  Every single
// buffer must also stay within what the kernels index with a C int, so the
// tally keeps the first one past it for the message.

/// Bytes a network will allocate, and the largest parts, counted without overflow.
struct MemoryTally {
    /// The kernels take sizes as C ints, so no buffer may hold more values.
    static let maximumBufferValues = Int(Int32.max)

    /// The total in bytes; nil once a count overflowed.
    private(set) var total: Int? = 0
    /// The entry that needs the most bytes, for messages.
    private(set) var largest: (what: String, bytes: Int?)?
    /// The first buffer with more values than `maximumBufferValues` (nil values: overflowed).
    private(set) var oversized: (what: String, values: Int?)?

    /// The product of `factors`, or nil if it overflows or a factor is negative.
    static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// The sum of `terms`, or nil if it overflows or a term is nil.
    static func sum(_ terms: [Int?]) -> Int? {
        var result = 0
        for term in terms {
            guard let term else { return nil }
            let (next, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// Whether a buffer of the product of `factors` values is one the kernels can index.
    static func fits(_ factors: [Int]) -> Bool {
        product(factors).map { $0 <= maximumBufferValues } ?? false
    }

    /// Adds `copies` buffers, each of the product of `factors` elements of `elementBytes` bytes.
    /// - Parameters:
    ///   - what: the buffer in words, for messages ("layer 2's output").
    mutating func add(_ what: @autoclosure () -> String, _ factors: [Int], elementBytes: Int = 4, copies: Int = 1) {
        let values = Self.product(factors)
        if oversized == nil, values.map({ $0 > Self.maximumBufferValues }) ?? true {
            oversized = (what(), values)
        }
        let bytes = values.flatMap { Self.product([$0, elementBytes, copies]) }
        if let bytes, bytes == 0 { return }
        total = Self.sum([total, bytes])
        if let current = largest {
            if let bytes, let most = current.bytes, bytes <= most { return }
            if current.bytes == nil { return }
        }
        largest = (what(), bytes)
    }

    /// Adds values that a C function sized, once the shapes it was given are known to fit.
    mutating func add(_ what: @autoclosure () -> String, floats: Int, copies: Int = 1) {
        add(what(), [floats], copies: copies)
    }
}

extension Network {
    /// The bytes a network of `layers` will allocate (see the file's comment).
    /// - Parameters:
    ///   - layers: validated layers, spatial first.
    ///   - replicas: threads sharing each pass (each with its replica).
    static func memoryTally(_ layers: [any RunnableLayer], miniBatchSize: Int, evaluationBatchSize: Int,
                            replicas: Int) -> MemoryTally {
        var tally = MemoryTally()
        // Parameters, velocities and each replica's gradient block share one layout.
        for (index, layer) in layers.enumerated() {
            for tensor in layer.tensors {
                let copies = tensor.role == .state ? 1 : 2 + replicas
                tally.add("layer \(index + 1)'s \(tensor.name) (\(layer.summary))", [tensor.count], copies: copies)
            }
        }
        // Each part takes an equal share of a pass; the dense suffix holds the whole of it.
        let share = { (total: Int) in total / replicas + (total % replicas == 0 ? 0 : 1) }
        let partCapacity = max(share(miniBatchSize), share(evaluationBatchSize))
        let capacity = max(miniBatchSize, evaluationBatchSize)
        let sampleSize = layers[0].inputShape.count
        tally.add("each thread's input", [partCapacity, sampleSize], copies: replicas)
        tally.add("each thread's labels", [partCapacity], copies: replicas)
        tally.add("each thread's augmentation scratch", [3, sampleSize], copies: replicas)
        let prefixCount = layers.prefix { $0.isSpatial }.count
        for (index, layer) in layers.enumerated() {
            let label = "layer \(index + 1) (\(layer.summary))"
            if index < prefixCount {
                layer.tallyBuffers(&tally, label: label, capacity: partCapacity, parts: replicas, replicas: replicas)
            } else {
                layer.tallyBuffers(&tally, label: label, capacity: capacity, parts: replicas, replicas: 1)
            }
        }
        let featureSize = prefixCount > 0 ? layers[prefixCount - 1].outputShape.count : sampleSize
        tally.add("the features the dense layers read", [capacity, featureSize])
        tally.add("the labels of a pass", [capacity], copies: 2)
        tally.add("the dropout keys", [layers.count], elementBytes: 8)
        tally.add("the threads' weights", [replicas])
        return tally
    }
}

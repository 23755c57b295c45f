// Buffers.swift: aligned, fixed-size memory owned by Swift, used by C.
//
// Every buffer the kernels touch is allocated once, when a network is
// built, at 64-byte alignment (one AVX-512 vector), and freed with its
// owner.  Nothing on the training path allocates.

/// A fixed-size, 64-byte-aligned array of `Element`, zero-filled.
final class AlignedBuffer<Element> {
    let count: Int
    let pointer: UnsafeMutablePointer<Element>

    init(count: Int, zeroedWith zero: Element) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Element>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        pointer.initialize(repeating: zero, count: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    var buffer: UnsafeMutableBufferPointer<Element> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    func zero(first elements: Int, with zero: Element) {
        pointer.update(repeating: zero, count: elements)
    }
}

typealias FloatBuffer = AlignedBuffer<Float>

extension AlignedBuffer where Element == Float {
    convenience init(count: Int) { self.init(count: count, zeroedWith: 0) }
    func zero(first elements: Int) { zero(first: elements, with: 0) }
    func zeroAll() { zero(first: count, with: 0) }
}

// EpochPlan.swift: which training images an epoch visits, and in what order.
//
// The seed visits the training set in file order, every epoch the same.
// Two options change that, both without copying the data:
//
// - expansion (the book's expand_mnist.py): every image is visited five
//   times, as itself and moved by one pixel down, up, right and left (the
//   pixel row or column moved in is blank), so 50,000 images make 250,000
//   samples.  Sample v is image v / 5 in shift v % 5, the order
//   expand_mnist.py builds before it shuffles.  The shifted copies are made
//   as each mini-batch is loaded, never stored.
// - shuffling: a fresh permutation of the samples each epoch, drawn from
//   the run's seed and the epoch number alone, so a resumed run (or any
//   thread count) visits exactly the same order.
// - augmentation: each sample randomly moved, rotated and elastically
//   distorted as it is loaded, from a key of the run's seed, the epoch and
//   the sample, so again any thread count and a resumed run see the same.

/// The samples of one training epoch, in visiting order.
package struct EpochPlan: Sendable {
    /// The one-pixel moves of expansion, (rows down, columns right); the first is the image itself.
    package static let shifts: [(dy: Int, dx: Int)] = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]

    /// Samples per image: 1, or 5 with expansion.
    package let copies: Int
    /// Samples in the epoch: images x copies.
    package let count: Int
    /// order[position] is the sample visited at `position`; nil is sample order.
    let order: [Int32]?
    /// Random distortions, or nil for none.
    package let augmentation: Augmentation?
    /// The epoch's augmentation key; a sample's distortion comes from it and the sample alone.
    let augmentationKey: UInt64

    /// Samples in an epoch of `imageCount` images, with or without expansion.
    package static func sampleCount(imageCount: Int, expand: Bool) -> Int {
        imageCount * (expand ? shifts.count : 1)
    }

    /// The plan of one epoch.
    /// - Parameters:
    ///   - imageCount: images in the training set.
    ///   - expand: add the four one-pixel shifts of every image.
    ///   - shuffleSeed: shuffle with this run seed, or nil for file order.
    ///   - epoch: the epoch (used when shuffling or augmenting).
    ///   - augmentation: random distortions, drawn from `augmentationSeed` and the epoch.
    ///   - augmentationSeed: the run's seed.
    package init(imageCount: Int, expand: Bool, shuffleSeed: UInt64?, epoch: Int,
                augmentation: Augmentation? = nil, augmentationSeed: UInt64 = 0) {
        copies = expand ? Self.shifts.count : 1
        count = Self.sampleCount(imageCount: imageCount, expand: expand)
        self.augmentation = augmentation.flatMap { $0.isIdentity ? nil : $0 }
        var keys = RandomSource(seed: augmentationSeed ^ 0x4155_474D_454E_5421 &+ UInt64(epoch) &* 0xD1B5_4A32_D192_ED03)
        augmentationKey = keys.next()
        guard let shuffleSeed else {
            order = nil
            return
        }
        precondition(count <= Int(Int32.max), "EpochPlan: \(count) samples do not fit 32-bit indices")
        // Fisher-Yates from a stream of the run's seed and the epoch alone.
        var random = RandomSource(seed: shuffleSeed ^ 0x5348_5546_464C_4521 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        var order = (0..<count).map { Int32($0) }
        var index = count - 1
        while index > 0 {
            let other = Int(random.nextBelow(UInt64(index + 1)))
            order.swapAt(index, other)
            index -= 1
        }
        self.order = order
    }

    /// True when the epoch is the seed's: every image once, in file order, undistorted.
    var isFileOrder: Bool { copies == 1 && order == nil && augmentation == nil }

    /// The key of the distortion of the sample visited at `position`.
    func augmentationKey(at position: Int) -> UInt64 {
        let sample = UInt64(order.map { Int($0[position]) } ?? position)
        return augmentationKey ^ (sample &* 0x9E37_79B9_7F4A_7C15)
    }

    /// The image and shift visited at `position`.
    package func sample(at position: Int) -> (image: Int, shift: Int) {
        let sample = order.map { Int($0[position]) } ?? position
        return (sample / copies, sample % copies)
    }
}

extension RandomSource {
    /// A uniform integer in [0, bound), without modulo bias (Lemire's method with rejection).
    package mutating func nextBelow(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "nextBelow needs a positive bound")
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }
}

// Network+DataParallel.swift: one SGD step shared by the members of a TrainingGroup.
//
// Each member holds the same parameters and random state, so each draws the
// same dropout keys; it trains on its share of the global mini-batch (its
// dropout masks and augmentation keyed by the sample's place in the global
// mini-batch and epoch, so the number of members changes nothing they see),
// through the gradient program of the StepScheduler, whose softmax gradient
// is its share's part of the global mean (its mean over the share, times
// share / mini-batch), so that every gradient below it, batch norm's sums
// over the group included, is a part of the global mean's; the group sums
// the parts.  Batch norm normalizes with the global mini-batch's statistics,
// summed over the group inside the pass.  The cost travels in the same
// sum, and so does each member's wish to stop, so that every member stops
// after the same step.  Every member then applies the same rule to the same
// sums.  The result equals one process's step up to float rounding: the
// global mean is summed in another order, the member's share in its own
// parts, and a dense layer's weight gradient is written whole and then
// applied, where one process fuses it with the update.
//
// `agreementKey` is what members compare before a run and after each epoch
// (TrainingGroup.allAgree): their parameters, random state and place in the
// run.  Members that were given different flags, data or checkpoints, or
// whose parameters drifted apart, are stopped with one line instead of
// training different models that all claim to be one.

import CKernels

extension Network {
    /// Why this network cannot be trained by a group of `members`, or nil.
    func dataParallelRefusal(members: Int) -> String? {
        guard members <= miniBatchSize else {
            return "\(members) processes cannot share a mini-batch of \(miniBatchSize): use at most \(miniBatchSize)"
        }
        return nil
    }

    /// One data-parallel step of the global mini-batch of positions `start..<start + miniBatchSize`.
    /// - Parameters:
    ///   - wantsToStop: this member's stop request; the step returns the group's.
    /// - Returns: the global mini-batch's mean NLL (not finite: no update was made), and
    ///   whether any member asked to stop.
    /// - Throws: `NetworkInputError` for data that does not fit, `TrainingGroupError` from the group.
    package func trainMiniBatch(_ data: Dataset, start: Int, eta: Float, weightDecay: Float, plan: EpochPlan?,
                                group: any TrainingGroup, wantsToStop: Bool) throws -> (cost: Float, stop: Bool) {
        try checkFits(data)
        let samples = plan?.count ?? data.count
        guard start >= 0, start <= samples - miniBatchSize else {
            throw NetworkInputError.outOfRange(data: data.name, start: start, miniBatchSize: miniBatchSize, samples: samples)
        }
        drawDropoutKeys()
        let share = group.share(of: miniBatchSize)
        // One pass value per group, not one per step.
        let pass = groupPass.flatMap { $0.group === group && $0.failure == nil ? $0 : nil }
            ?? GroupPass(group: group, globalBatch: miniBatchSize)
        groupPass = pass
        let localCost = try scheduler.gradients(data, start: start + share.lowerBound, batch: share.count,
                                                sampleOffset: share.lowerBound, plan: plan, group: pass)
        let count = parameterBlock.count
        let exchange = groupExchange.pointer
        exchange.update(from: scheduler.gradientBlock.pointer, count: count)
        exchange[count] = localCost * Float(share.count) / Float(miniBatchSize)
        exchange[count + 1] = wantsToStop ? 1 : 0
        try group.sumOverMembers(groupExchange.buffer)
        let cost = exchange[count]
        if cost.isFinite {
            let rule = UpdateRule(eta: eta, weightDecay: weightDecay, momentum: momentum, nesterov: nesterov)
            rule.update(parameterBlock.pointer, gradients: exchange, velocity: velocityBlock.pointer,
                        count: weightCount, decayed: true)
            rule.update(parameterBlock.pointer + weightCount, gradients: exchange + weightCount,
                        velocity: velocityBlock.pointer + weightCount, count: count - weightCount, decayed: false)
        }
        return (cost, exchange[count + 1] > 0)
    }

    /// A key of the parameters, the random state and `progress`: equal on every member of a sound group.
    func agreementKey(_ progress: TrainingProgress) -> UInt64 {
        var crc = ck_crc32(0, parameterBlock.pointer, parameterBlock.count * MemoryLayout<Float>.size)
        var words = random.stateWords + [UInt64(progress.epoch), UInt64(progress.miniBatchesDone), UInt64(miniBatchSize)]
        crc = words.withUnsafeMutableBytes { ck_crc32(crc, $0.baseAddress, $0.count) }
        let state = ck_crc32(0, stateBlock.pointer, stateBlock.count * MemoryLayout<Float>.size)
        return UInt64(crc) << 32 | UInt64(state)
    }
}

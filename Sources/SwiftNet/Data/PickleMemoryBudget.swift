// PickleMemoryBudget: the memory that one file's pickles may make the decoder hold.
//
// A limit per array is not enough: a 4 MB .pkl.gz of many arrays, each
// under the limit, inflates to gigabytes that are all kept until the end.
// So everything the decoder keeps (array elements, raw buffers, strings,
// tuple and list items, memo entries) is charged here before it is
// allocated, with overflow-checked sums, and a charge that would pass the
// limit is refused.  Nothing is ever refunded: a value the pickle drops from
// its stack may still be held by its memo, and a hostile file must not win
// memory back by dropping values.  One budget serves every pickle of a file,
// since all their values are kept.

final class PickleMemoryBudget {
    /// The most bytes the decoder may hold for one file.
    let limit: Int
    /// Bytes charged so far.
    private(set) var used = 0

    /// What a tuple or list item, a memo entry or a string costs beyond its
    /// bytes: about what Swift's arrays and dictionaries spend on each.
    static let itemCost = MemoryLayout<PickleValue>.stride
    static let entryCost = 64

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Bytes still free.
    var remaining: Int { limit - used }

    /// Charges `bytes` and returns true, or charges nothing and returns false if
    /// that would pass the limit (or `bytes` is negative or overflows).
    func charge(_ bytes: Int) -> Bool {
        let (total, overflow) = used.addingReportingOverflow(bytes)
        guard bytes >= 0, !overflow, total <= limit else { return false }
        used = total
        return true
    }

    /// Charges `count` items of `size` bytes each, checked the same way.
    func charge(_ count: Int, of size: Int) -> Bool {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
        return !overflow && charge(bytes)
    }
}

// EnsembleTests.swift: combining several networks' softmax rows into one prediction.
//
// Hand-made rows pin the two rules down: cases where the vote and the
// average disagree, ties in the vote (broken by summed probability, then by
// the lowest class) and in the average (lowest class), and a one-member
// ensemble that predicts exactly what its member does.  Two tiny networks
// trained on synthetic data then go through the same functions end to end.

@testable import SwiftNet
import XCTest

final class EnsembleTests: XCTestCase {
    func testAMembersPredictionIsItsMostProbableClassTheLowestOnATie() {
        XCTAssertEqual(try Ensemble.predictions([0.1, 0.7, 0.2, 0.4, 0.2, 0.4, 1.0 / 3, 1.0 / 3, 1.0 / 3], classes: 3), [1, 0, 0])
    }

    func testVoteAndAverageDisagreeWhenOneMemberIsSureAndTwoAreNot() throws {
        // Two members lean slightly to class 0; the third is sure of class 2.
        let members: [[Float]] = [[0.40, 0.25, 0.35], [0.40, 0.25, 0.35], [0.00, 0.05, 0.95]]
        XCTAssertEqual(try Ensemble.predictions(members, classes: 3, rule: .vote), [0], "two votes of three")
        XCTAssertEqual(try Ensemble.predictions(members, classes: 3, rule: .average), [2], "mean 0.55 beats 0.27")
        let mean = try Ensemble.averaged(members)
        XCTAssertEqual(mean[0], 0.8 / 3, accuracy: 1e-6)
        XCTAssertEqual(mean[2], 1.65 / 3, accuracy: 1e-6)
    }

    func testAVoteTieGoesToTheHigherSummedProbabilityThenToTheLowerClass() {
        // Image 0: one vote each for classes 1 and 2; class 2's summed probability is higher (0.3 + 0.9 against 0.6 + 0.1).
        // Image 1: one vote each for 0 and 2 with equal sums (0.5 + 0.2 each way); the lower class, 0, wins.
        let members: [[Float]] = [[0.1, 0.6, 0.3, 0.5, 0.3, 0.2], [0.0, 0.1, 0.9, 0.2, 0.3, 0.5]]
        XCTAssertEqual(try Ensemble.predictions(members, classes: 3, rule: .vote), [2, 0])
        // Votes 2, 2, 1, 1: class 0 has the largest sum but no vote, so only 1 and 2 tie, and 1's sum is higher.
        let four: [[Float]] = [[0.45, 0.0, 0.55], [0.45, 0.0, 0.55], [0.4, 0.6, 0.0], [0.4, 0.6, 0.0]]
        XCTAssertEqual(try Ensemble.predictions(four, classes: 3, rule: .vote), [1])
        XCTAssertEqual(try Ensemble.predictions(four, classes: 3, rule: .average), [0], "0.425 against 0.3 and 0.275")
        // An exact tie in the average goes to the lowest tied class.
        XCTAssertEqual(try Ensemble.predictions([[0.2, 0.4, 0.4], [0.2, 0.4, 0.4]], classes: 3, rule: .average), [1])
        XCTAssertEqual(try Ensemble.predictions([[0.5, 0.0, 0.5], [0.5, 0.5, 0.0]], classes: 3, rule: .average), [0])
    }

    func testAOneMemberEnsembleIsThatMember() throws {
        var random = RandomSource(seed: 5)
        let rows = (0..<(50 * 4)).map { _ in Float(random.next() % 4) / 4 }  // coarse values, so ties occur
        let own = try Ensemble.predictions(rows, classes: 4)
        XCTAssertEqual(try Ensemble.averaged([rows]), rows)
        XCTAssertEqual(try Ensemble.predictions([rows], classes: 4, rule: .vote), own)
        XCTAssertEqual(try Ensemble.predictions([rows], classes: 4, rule: .average), own)
        XCTAssertEqual(try Ensemble.accuracy([1, 2, 3, 0], labels: [1, 2, 0, 0]), 0.75)
        XCTAssertEqual(try Ensemble.accuracy([], labels: []), 0)
    }

    func testTwoTrainedTinyNetworksCombineEndToEnd() throws {
        let training = TinyNetwork.data(count: 300, seed: 3)
        // Test images with a faint pattern under strong noise, so the members err, and not on the same images.
        let clear = TinyNetwork.data(count: 200, seed: 8, name: "test")
        var noise = RandomSource(seed: 21)
        let test = Dataset.valid(name: "test", channels: 1, height: 8, width: 8,
                           pixels: clear.pixels.map { UInt8(Int($0) / 2 + Int(noise.next() % 70)) }, labels: clear.labels, classCount: clear.classCount)
        var members: [[Float]] = []
        var memberAccuracies: [Double] = []
        for seed: UInt64 in [11, 12] {
            let network = try TinyNetwork.network(seed: seed)
            _ = try network.train(trainingData: training, validationData: test, testData: test, epochs: 8, eta: 0.5)
            let rows = try network.probabilities(on: test)
            XCTAssertEqual(try Ensemble.predictions(rows, classes: 3), try predictions(of: network, on: test),
                           "a member's prediction is forEachPrediction's")
            members.append(rows)
            memberAccuracies.append(try network.accuracy(on: test))
        }
        XCTAssertNotEqual(members[0], members[1], "two seeds trained two different networks")
        XCTAssertGreaterThan(memberAccuracies.min()!, 0.5, "both members learned something: \(memberAccuracies)")
        let disagreements = zip(try Ensemble.predictions(members[0], classes: 3), try Ensemble.predictions(members[1], classes: 3))
            .filter { $0 != $1 }.count
        XCTAssertGreaterThan(disagreements, 0, "the members must differ somewhere for the ensemble to matter")
        for rule in EnsembleRule.allCases {
            let combined = try Ensemble.predictions(members, classes: 3, rule: rule)
            let accuracy = try Ensemble.accuracy(combined, labels: test.labels)
            // Where the members agree, so does the ensemble; where they differ it picks one of them.
            let own = try members.map { try Ensemble.predictions($0, classes: 3) }
            for image in 0..<test.count {
                XCTAssertTrue(own.contains { $0[image] == combined[image] }, "\(rule) image \(image)")
            }
            print("members \(memberAccuracies), \(disagreements) disagreements, \(rule) \(accuracy)")
            XCTAssertGreaterThanOrEqual(accuracy, memberAccuracies.min()! - 1e-12, "\(rule): \(accuracy) vs \(memberAccuracies)")
        }
    }

    func testRowsThatCannotBeCombinedAreThrownNotTrapped() {
        XCTAssertThrowsError(try Ensemble.predictions([0.1, 0.2, 0.3], classes: 2)) {
            XCTAssertEqual($0 as? EnsembleError, .notWholeRows(values: 3, classes: 2))
        }
        XCTAssertThrowsError(try Ensemble.predictions([0.5], classes: 0)) {
            XCTAssertEqual($0 as? EnsembleError, .notWholeRows(values: 1, classes: 0))
        }
        XCTAssertThrowsError(try Ensemble.averaged([])) { XCTAssertEqual($0 as? EnsembleError, .noMembers) }
        XCTAssertThrowsError(try Ensemble.predictions([[0.5, 0.5], [1]], classes: 2, rule: .vote)) {
            XCTAssertEqual($0 as? EnsembleError, .membersDisagree(counts: [2, 1]))
        }
        XCTAssertThrowsError(try Ensemble.accuracy([0, 1], labels: [0])) {
            XCTAssertEqual($0 as? EnsembleError, .countMismatch(predictions: 2, labels: 1))
        }
    }
}

import Testing
import WalvaultKit
import WalvaultPolicy

/// Which jobs the server refuses to run at once, over every pair of operations.
@Suite struct JobOverlapTests {
    static let expected: Set<[String]> = [
        ["restore", "restore"], ["drill", "drill"], ["expire", "restore"], ["delete-backup", "restore"], ["drill", "expire"],
        ["delete-backup", "drill"],
        ["expire", "verify"], ["delete-backup", "verify"], ["expire", "expire"], ["delete-backup", "expire"],
        ["delete-backup", "delete-backup"], ["backup", "backup"]
    ]

    @Test func everyPairOfOperationsIsDecidedBothWaysAlike() {
        for a in OperationKind.allCases {
            for b in OperationKind.allCases {
                let pair = [a.rawValue, b.rawValue].sorted()
                #expect(JobOverlap.conflicts(a.rawValue, b.rawValue) == Self.expected.contains(pair), "\(a) \(b)")
                #expect(JobOverlap.conflicts(a.rawValue, b.rawValue) == JobOverlap.conflicts(b.rawValue, a.rawValue))
            }
        }
    }

    @Test func theBlockerIsTheFirstRunningJobThatConflicts() {
        #expect(JobOverlap.blocker(starting: "restore", running: ["backup", "verify", "expire", "restore"]) == "expire")
        #expect(JobOverlap.blocker(starting: "backup", running: ["restore", "verify", "dump"]) == nil)
        #expect(JobOverlap.blocker(starting: "restore", running: []) == nil)
    }
}

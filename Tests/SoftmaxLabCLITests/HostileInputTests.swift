import Foundation
import SoftmaxLabCLI
import Testing

/// Inputs a careless or hostile user gives: each gets one sentence and a non-zero exit, in-process,
/// so a trap or an allocation abort fails the whole test run instead of passing unnoticed.
@Suite struct HostileInputTests {
    func expectRefused(_ args: [String], _ sentence: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let r = CommandRunner.run(args)
        #expect(r.exitCode != 0, "\(args) exited 0", sourceLocation: sourceLocation)
        #expect(r.standardError.contains(sentence), "\(args): \(r.standardError)", sourceLocation: sourceLocation)
    }

    @Test func npyShapesThatOverflowAreRefused() throws {
        let files = try TestFiles()
        let huge = try files.bytes("huge.npy", TestFiles.npy(descr: "<f4", shape: [1 << 40, 1 << 40], payload: TestFiles.float32LE([1, 2, 3, 4])))
        let vector = try files.bytes("hugev.npy", TestFiles.npy(descr: "<i8", shape: [1 << 62, 4], payload: TestFiles.int64LE([0, 1])))
        let logits = try files.text("l.csv", "1,2\n3,4\n")
        let labels = try files.text("y.txt", "0\n1\n")
        expectRefused(["loss", "--logits", huge, "--labels", labels], "huge.npy is truncated: its header says shape [1099511627776, 1099511627776]")
        expectRefused(["loss", "--logits", logits, "--labels", vector], "hugev.npy is truncated")
        expectRefused(["loss", "--logits", logits, "--labels", labels, "--weights", vector], "hugev.npy is truncated")
    }

    @Test func sizesFromFlagsAreCheckedBeforeAllocating() {
        expectRefused(["bench", "--shapes", "4611686018427387904x4", "--no-record"], "--shapes 4611686018427387904x4: 4611686018427387904×4 elements is more than this machine can address")
        expectRefused(["bench", "--shapes", "100000x100000", "--no-record"], "more than this machine's")
        expectRefused(["bench", "--shapes", "1024x32000", "--features", "4611686018427387904", "--no-record"], "--features 4611686018427387904 with --shapes 1024x32000")
        expectRefused(["bench", "--repeat", "4611686018427387904", "--no-record"], "--repeat must be at most 1000000")
        expectRefused(["train", "--dataset", "blobs", "--features", "4611686018427387904", "--no-record"], "--samples 1000 with --features 4611686018427387904")
        expectRefused(["train", "--dataset", "blobs", "--samples", "4611686018427387904", "--no-record"], "--samples 4611686018427387904 with --features 2")
        expectRefused(["train", "--dataset", "blobs", "--classes", "4000000000", "--samples", "4000000000", "--no-record"], "more than this machine")
    }

    /// A device read without end, or a store that is not a file: refused before reading or writing;
    /// an output that is a device is written in place, never replaced.
    @Test func devicesAreNotFilesButCanBeOutputs() throws {
        let files = try TestFiles()
        let labels = try files.text("y.txt", "0\n1\n")
        expectRefused(["loss", "--logits", "/dev/zero", "--labels", labels], "/dev/zero is not a regular file")
        expectRefused(["train", "--dataset", "iris", "--db", "/dev/null"], "/dev/null is not a regular file (a device or pipe), so it cannot be an experiment store")
        let db = files.path("s.sqlite")
        #expect(CommandRunner.run(["train", "--dataset", "iris", "--epochs", "1", "--db", db]).exitCode == 0)
        let r = CommandRunner.run(["runs", "export", "1", "--db", db, "--out", "/dev/null"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(try FileManager.default.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType == .typeCharacterSpecial)
    }

    @Test func windowsLineEndingsAndAByteOrderMarkRead() throws {
        let files = try TestFiles()
        let logits = try files.text("l.csv", "\u{FEFF}1,2\r\n3,4\r\n")
        let labels = try files.text("y.txt", "0\r\n1\r\n")
        let crlf = CommandRunner.run(["loss", "--logits", logits, "--labels", labels, "--json"])
        let lf = CommandRunner.run(["loss", "--logits", try files.text("l2.csv", "1,2\n3,4\n"), "--labels", try files.text("y2.txt", "0\n1\n"), "--json"])
        #expect(crlf.exitCode == 0, "\(crlf.standardError)")
        #expect(crlf.standardOutput == lf.standardOutput)
        let data = try files.text("d.csv", "a,b,label\r\n1,2,0\r\n3,4,1\r\n5,5,1\r\n1,1,0\r\n")
        let train = CommandRunner.run(["train", "--dataset", data, "--epochs", "2", "--no-record", "--val-fraction", "0"])
        #expect(train.exitCode == 0, "\(train.standardError)")
        #expect(train.standardError.contains("d.csv: header on line 1; label column 2 ('label'); integer classes 0…1"), "\(train.standardError)")
    }

    @Test func ambiguousCsvLabelsAreRefusedUnlessAFlagSaysHow() throws {
        let files = try TestFiles()
        // A numeric header ("column numbers") over data whose classes are 0 and 1.
        let numericHeader = try files.text("h.csv", "0,1,2\n0.5,1.5,0\n0.1,0.2,1\n0.3,0.4,0\n0.7,0.9,1\n")
        expectRefused(["train", "--dataset", numericHeader, "--no-record"], "h.csv line 1 may be a header: its label '2' occurs on no other line; pass --header yes")
        let skipped = CommandRunner.run(["train", "--dataset", numericHeader, "--header", "yes", "--no-record", "--epochs", "1", "--val-fraction", "0"])
        #expect(skipped.exitCode == 0 && skipped.standardError.contains("header on line 1"), "\(skipped.standardError)")
        let kept = CommandRunner.run(["train", "--dataset", numericHeader, "--header", "no", "--no-record", "--epochs", "1", "--val-fraction", "0"])
        #expect(kept.exitCode == 0 && kept.standardError.contains("no header line; label column 2; integer classes 0…2"), "\(kept.standardError)")

        let fractional = try files.text("f.csv", "1,2,0.5\n3,4,1.5\n5,6,0.5\n")
        expectRefused(["train", "--dataset", fractional, "--no-record"], "f.csv line 1: label '0.5' is not an integer; pass --label-kind names")

        let sparse = try files.text("s.csv", "1,2,0\n3,4,100\n5,6,200\n7,8,0\n9,9,100\n")
        expectRefused(["train", "--dataset", sparse, "--no-record"], "s.csv: the labels are integers up to 200 but only 3 of those 201 classes occur (0, 100, 200)")
        let named = CommandRunner.run(["train", "--dataset", sparse, "--label-kind", "names", "--no-record", "--epochs", "1", "--val-fraction", "0", "--json"])
        #expect(named.exitCode == 0, "\(named.standardError)")
        #expect(named.standardError.contains("3 class names (0, 100, 200) numbered in sorted order"), "\(named.standardError)")

        let huge = try files.text("big.csv", "1,2,2000000000\n3,4,0\n")
        expectRefused(["train", "--dataset", huge, "--no-record"], "only 2 of those 2000000001 classes occur")
        expectRefused(["train", "--dataset", huge, "--label-kind", "index", "--no-record"], "more than this machine's")
    }
}

import Foundation
import SoftmaxLabCLI
import Testing

/// Negative numbers are values in every option of every command, and a repeated option or an empty
/// list entry is an error naming it (`CommandLineArguments`).
@Suite struct CommandLineArgumentTests {
    @Test func negativeNumbersAreValues() throws {
        let files = try TestFiles()
        try files.text("f.csv", "-1,2,0.5\n")
        try files.text("y.txt", "1\n")
        let explain = CommandRunner.run(["explain", "--logits", "-1,2,0.5", "--label", "1", "--x", "-2,3.5"])
        #expect(explain.exitCode == 0, "\(explain.standardError)")
        let loss = CommandRunner.run(["loss", "--logits", files.path("f.csv"), "--labels", files.path("y.txt"),
                                      "--weights", "-.5,1,2", "--json"])
        #expect(loss.exitCode != 0)
        #expect(loss.standardError.contains("--weights entry 0 is -0.5"), "\(loss.standardError)")
        #expect(!loss.standardError.contains("Missing value"))
    }

    @Test(arguments: [
        (["explain", "--logits", "2,1", "--label", "-1"], "--label -1 is outside 0..<2"),
        (["loss", "--logits", "f.csv", "--labels", "y.txt", "--z-loss", "-1"], "--z-loss must be a finite number of at least 0, got -1.0"),
        (["loss", "--logits", "f.csv", "--labels", "y.txt", "--softcap", "-inf"], "--softcap must be a finite number above 0, got -inf"),
        (["train", "--lr", "-0.1", "--no-record"], "--lr must be a positive number, got -0.1"),
        (["explain", "--logits", "2,,1", "--label", "0"], "--logits entry 1 is empty"),
        (["loss", "--logits", "f.csv", "--labels", "y.txt", "--weights", "1,"], "--weights entry 1 is empty"),
        (["explain", "--logits", "1,2", "--logits", "3,4", "--label", "0"], "--logits is given twice; give it once"),
        (["explain", "--logits=1,2", "--label", "0", "--label=1"], "--label is given twice; give it once"),
    ])
    func badInputNamesTheFlag(_ args: [String], _ message: String) throws {
        let files = try TestFiles()
        try files.text("f.csv", "1,2\n")
        try files.text("y.txt", "0\n")
        let r = CommandRunner.run(args.map { $0.hasSuffix(".csv") || $0.hasSuffix(".txt") ? files.path($0) : $0 })
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains(message), "stderr: \(r.standardError)")
        #expect(!r.standardError.contains("Missing value"))
    }
}

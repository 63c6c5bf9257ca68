import Foundation

/// Where commands print. The process uses stdout/stderr; tests run commands in-process with a
/// capturing console (`CommandRunner`), so output can be checked without spawning a process.
public final class Console: @unchecked Sendable {
    @TaskLocal public static var current = Console(capturing: false)

    private let capturing: Bool
    /// The command line as typed, recorded with each run.
    public let commandLine: String
    private let lock = NSLock()
    private var capturedOut = ""
    private var capturedErr = ""

    public init(capturing: Bool, arguments: [String] = CommandLine.arguments) {
        self.capturing = capturing
        commandLine = arguments.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    public var standardOutput: String { lock.withLock { capturedOut } }
    public var standardError: String { lock.withLock { capturedErr } }

    /// A line on stdout: results, tables, JSON.
    public func line(_ text: String = "") {
        if capturing { lock.withLock { capturedOut += text + "\n" } } else { print(text) }
    }

    /// A line on stderr: progress, notes about choices made, warnings.
    public func note(_ text: String) {
        if capturing { lock.withLock { capturedErr += text + "\n" } } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Whether progress lines should be drawn (stderr is a terminal).
    public var showsProgress: Bool { !capturing && isatty(STDERR_FILENO) != 0 }

    func appendError(_ text: String) { lock.withLock { capturedErr += text } }
}

/// Runs a command line in-process, as `softmax-lab` would, and returns what it printed and its
/// exit code.
public enum CommandRunner {
    public struct Result: Sendable {
        public var exitCode: Int32
        public var standardOutput: String
        public var standardError: String
    }

    public static func run(_ arguments: [String]) -> Result {
        let console = Console(capturing: true, arguments: ["softmax-lab"] + arguments)
        var code: Int32 = 0
        do {
            var command = try SoftmaxLab.parseAsRoot(try CommandLineArguments.normalized(arguments))
            try Console.$current.withValue(console) { try command.run() }
        } catch {
            code = SoftmaxLab.exitCode(for: error).rawValue
            let message = SoftmaxLab.fullMessage(for: error)
            if code == 0 { console.line(message) } else { console.appendError(message + "\n") }
        }
        return Result(exitCode: code, standardOutput: console.standardOutput, standardError: console.standardError)
    }
}

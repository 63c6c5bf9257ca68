import ArgumentParser

/// The root command only configures; each subcommand is its own type.
public struct SoftmaxLab: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "softmax-lab",
        abstract: "Softmax cross-entropy loss and gradient: explained, checked, fast.",
        version: "0.1.0",
        subcommands: [DevicesCommand.self, ExplainCommand.self, LossCommand.self, GradcheckCommand.self, TrainCommand.self, RunsCommand.self, BenchCommand.self, TuneCommand.self, ReportCommand.self])
    public init() {}
}

/// What a copy of runs between two stores did (`runs merge`, `runs push`, `runs pull`): one entry
/// per run of the source, in the source's order.
public struct RunCopyReport: Sendable, Encodable {
    public struct Copied: Sendable, Encodable, Equatable {
        public var uuid: String
        public var sourceId: Int64
        public var id: Int64
        public var metricRows: Int64
    }
    public struct Skipped: Sendable, Encodable, Equatable {
        public var uuid: String
        public var sourceId: Int64
        public var reason: String
    }
    /// A run whose uuid the target already holds with other content: left as the target has it.
    public struct Conflict: Sendable, Encodable, Equatable {
        public var uuid: String
        public var sourceId: Int64
        public var targetId: Int64
        public var differences: [String]
    }

    public var source: String
    public var target: String
    public var copied: [Copied] = []
    /// Runs the target already holds with the same content.
    public var alreadyPresent = 0
    public var skipped: [Skipped] = []
    public var conflicts: [Conflict] = []

    public init(source: String, target: String) {
        self.source = source
        self.target = target
    }

    /// Adds what another part of the same copy did (a push's other connection), keeping every
    /// list in the source's order.
    mutating func absorb(_ other: RunCopyReport) {
        copied = (copied + other.copied).sorted { $0.sourceId < $1.sourceId }
        alreadyPresent += other.alreadyPresent
        skipped = (skipped + other.skipped).sorted { $0.sourceId < $1.sourceId }
        conflicts = (conflicts + other.conflicts).sorted { $0.sourceId < $1.sourceId }
    }

    /// One line: what was copied, what was there, what was skipped and why.
    public var summary: String {
        let rows = copied.reduce(0) { $0 + $1.metricRows }
        var parts = ["\(copied.count) run\(copied.count == 1 ? "" : "s") copied (\(rows) metric row\(rows == 1 ? "" : "s"))",
                     "\(alreadyPresent) already in \(target)"]
        if !skipped.isEmpty { parts.append("\(skipped.count) skipped") }
        if !conflicts.isEmpty { parts.append("\(conflicts.count) in conflict, not copied") }
        return "\(source): " + parts.joined(separator: ", ")
    }
}
